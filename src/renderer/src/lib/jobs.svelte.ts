// Engine jobs as the UI sees them: started by id, followed through the event stream, ended once.
import type { BatchItemProgress, EngineEvent, JobResult, JobSpecInput, Region } from '../../../common/api';
import { api } from './api';
import { etaWords, nextEta, type Eta } from '../../../common/eta';

export interface LossSample {
  step: number;
  terms: Record<string, number>;
}

export class Job {
  stage = $state('queued');
  /** Batch jobs: the photo the last progress event was about. */
  item = $state<BatchItemProgress | null>(null);
  progress = $state(0);
  /** The time left as shown: it counts down between the engine's estimates (see eta.ts). */
  eta = $state<Eta | null>(null);
  status = $state<'running' | 'done' | 'failed' | 'cancelled'>('running');
  error = $state<string | null>(null);
  /** Intermediate result (JPEG data URL) from long jobs. */
  preview = $state<string | null>(null);
  /** Not reactive on purpose: the chart reads it on `lossVersion` changes, without copying arrays. */
  readonly loss: LossSample[] = [];
  lossVersion = $state(0);
  id: string | null = null;

  constructor(
    readonly kind: JobSpecInput['kind'],
    readonly label: string,
    /** The photo the job works on, if any (the viewer shows a deblur job's intermediate previews). */
    readonly photoPath?: string,
    /** Where the intermediate previews belong in the photo, when they cover only a region. */
    readonly previewRegion?: Region,
  ) {}

  get running(): boolean {
    return this.status === 'running';
  }

  /** Marks a failure around the job (e.g. preparing its output) so its panel says what went wrong. */
  fail(error: unknown): void {
    if (this.status === 'failed' || this.status === 'cancelled') return;
    this.status = 'failed';
    this.error = error instanceof Error ? error.message : String(error);
  }
}

/** Ticks every second while a job runs, so that ETAs count down between the engine's progress events. */
const clock = $state({ now: 0 });

type Ended = Extract<EngineEvent, { type: 'jobDone' | 'jobFailed' }>;

class Jobs {
  /** The most recent jobs, newest last (the status bar shows the running one). */
  list = $state<Job[]>([]);
  private readonly byId = new Map<string, { job: Job; settle(event: Ended): void }>();
  /** Events can arrive before startJob answers with the id; they wait here. */
  private readonly early = new Map<string, EngineEvent[]>();

  constructor() {
    api.onEvent((event) => this.onEvent(event));
    setInterval(() => {
      if (this.active) clock.now = performance.now();
    }, 1000);
  }

  get active(): Job | undefined {
    return this.list.findLast((job) => job.running);
  }

  /** Starts a job; resolves with its result, rejects with the engine's message (or "Cancelled."). */
  async run(job: Job, spec: JobSpecInput): Promise<JobResult> {
    this.list = [...this.list.slice(-19), job];
    let jobId: string;
    try {
      jobId = (await api.call('startJob', spec)).jobId;
    } catch (error) {
      job.fail(error);
      throw error;
    }
    job.id = jobId;
    const ended = new Promise<Ended>((settle) => this.byId.set(jobId, { job, settle }));
    for (const event of this.early.get(jobId) ?? []) this.onEvent(event);
    this.early.delete(jobId);
    const event = await ended;
    if (event.type === 'jobDone') return event.result;
    throw new Error(event.error);
  }

  cancel(job: Job): void {
    if (job.id) void api.call('cancelJob', { jobId: job.id });
  }

  private onEvent(event: EngineEvent): void {
    if (event.type === 'engineStatus') return;
    const entry = this.byId.get(event.jobId);
    if (!entry) {
      const waiting = this.early.get(event.jobId) ?? [];
      if (waiting.length < 50) this.early.set(event.jobId, [...waiting, event]);
      if (this.early.size > 20) this.early.delete(this.early.keys().next().value!);
      return;
    }
    const { job } = entry;
    if (event.type === 'jobProgress') {
      job.stage = event.stage;
      job.item = event.item ?? null;
      job.progress = event.progress;
      job.eta = nextEta(job.eta, event.etaSeconds, performance.now());
      if (event.preview) job.preview = event.preview;
      if (event.loss) {
        job.loss.push(event.loss);
        job.lossVersion++;
      }
      return;
    }
    this.byId.delete(event.jobId);
    if (event.type === 'jobDone') {
      job.status = 'done';
      job.progress = 1;
      job.stage = 'done';
    } else {
      job.status = event.cancelled ? 'cancelled' : 'failed';
      job.error = event.error;
    }
    job.eta = null;
    entry.settle(event);
  }
}

export const jobs = new Jobs();

export function formatEta(job: Job): string {
  return etaWords(job.eta, job.progress, Math.max(clock.now, job.eta?.at ?? 0));
}
