import type { EngineEvent } from '../../common/api';

export type ProgressUpdate = Omit<
  Extract<EngineEvent, { type: 'jobProgress' }>,
  'type' | 'jobId' | 'etaSeconds'
>;

export interface JobContext {
  signal: AbortSignal;
  /** Reports progress; the ETA is derived from the elapsed time of the current stage. */
  progress(update: ProgressUpdate): void;
  /** The user's tile size (Settings); absent means each operation's own default. */
  tileSize?: number;
}

export class JobCancelledError extends Error {
  constructor() {
    super('Cancelled.');
  }
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Lets pending messages (a cancel) arrive, then throws if the job was cancelled. */
export async function checkpoint(signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new JobCancelledError();
  await yieldToEventLoop();
  if (signal?.aborted) throw new JobCancelledError();
}

/** The context a job runs in: cancellation, and progress with an ETA from the elapsed time. */
export function jobContext(
  signal: AbortSignal,
  onProgress: (update: ProgressUpdate & { etaSeconds: number | null }) => void,
): JobContext {
  const startedAt = Date.now();
  return {
    signal,
    progress: (update) => onProgress({ ...update, etaSeconds: estimateEta(startedAt, update.progress) }),
  };
}

/** Part `index` (0-based) of `count` equal parts of a job: stages prefixed with `label`, progress scaled. */
export function partContext(ctx: JobContext, index: number, count: number, label: string): JobContext {
  return {
    ...ctx,
    progress: (update) =>
      ctx.progress({
        ...update,
        stage: label ? `${label} ${update.stage}` : update.stage,
        progress: (index + update.progress) / count,
      }),
  };
}

/** `ctx` for a stretch of a job: the work's progress 0..1 is shown from `from` to `to`. */
export function spanContext(ctx: JobContext, from: number, to: number): JobContext {
  return {
    ...ctx,
    progress: (update) => ctx.progress({ ...update, progress: from + (to - from) * update.progress }),
  };
}

/**
 * `ctx` with a progress bar that the work can bend once it knows where its time goes: after `bend(from, to)`,
 * progress `from` as the work reports it is shown at `to`, the parts before and after it scaled to fit
 * (0 < from < 1). Until then progress passes as it is.
 */
export function bendableContext(ctx: JobContext): {
  ctx: JobContext;
  bend(from: number, to: number): void;
} {
  let shown = (progress: number): number => progress;
  return {
    ctx: { ...ctx, progress: (update) => ctx.progress({ ...update, progress: shown(update.progress) }) },
    bend(from, to) {
      shown = (p) => (p <= from ? (p * to) / from : to + ((p - from) * (1 - to)) / (1 - from));
    },
  };
}

export function estimateEta(startedAt: number, progress: number, now = Date.now()): number | null {
  if (progress <= 0.01 || progress >= 1) return progress >= 1 ? 0 : null;
  return ((now - startedAt) / 1000) * ((1 - progress) / progress);
}
