// Owns the engine worker thread: forwards calls, queues jobs, relays events, cancels, and replaces the
// worker when it crashes or runs out of memory so the app keeps running. Used by the Electron main
// process and the web bridge alike; it never imports Electron.
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ApiError,
  BatchJobSpec,
  dispatch,
  parseCall,
  type CallHandlers,
  type CallName,
  type CallOf,
  type CallParams,
  type CallParsed,
  type CallResult,
  type EngineEvent,
  type EngineInfo,
  type JobSpec,
  type Settings,
} from '../common/api';
import { OutputFolders, type OutputHint } from './output-folders';
import { isInside } from '../engine/core/fs-atomic';
import type { SettingsStore } from './settings';
import type { HostToWorker, WorkerCalls, WorkerData, WorkerToHost } from './worker-protocol';
import { preferenceFromEnvironment } from '../engine/core/backend';
import { SESSION_FILE, loadSession, saveSession } from '../engine/session';
import { forgetBatchSpec, loadManifest, manifestCounts } from '../engine/batch/manifest';

export interface EngineHostOptions {
  workerPath: string;
  settings: SettingsStore;
  /** Where results (new versions of photos, kernels) are written; originals are never touched. */
  workspaceDir: string;
  /** Jobs may write into the workspace and these folders (more can be granted while running). */
  outputDirs?: string[];
  /** What a refused write tells the user to do (e.g. "restart with --output-dir <folder>"). */
  outputHint?: OutputHint;
  /** How long a cancelled job may take to stop by itself before the worker is replaced. */
  hardCancelMs?: number;
  /** V8 heap limit of the worker; exceeding it ends the worker, which the host reports and survives. */
  maxHeapMb?: number;
}

interface QueuedJob {
  jobId: string;
  spec: JobSpec;
}

type Listener = (event: EngineEvent) => void;

export class EngineHost {
  private worker: Worker | null = null;
  private ready: Promise<EngineInfo> | null = null;
  private nextCallId = 1;
  private readonly pendingCalls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly queue: QueuedJob[] = [];
  private current: { jobId: string; cancelTimer?: NodeJS.Timeout } | null = null;
  private readonly listeners = new Set<Listener>();
  private closed = false;
  /** Why the host itself is ending the current worker, if it is. */
  private terminationReason: string | null = null;

  private readonly outputs: OutputFolders;

  constructor(private readonly options: EngineHostOptions) {
    this.outputs = new OutputFolders(options.workspaceDir, options.outputHint);
    for (const dir of options.outputDirs ?? []) this.outputs.grant(dir);
  }

  /** Lets jobs write into `dir` (the desktop app calls this for a folder chosen in a native dialog). */
  grantOutputFolder(dir: string): void {
    this.outputs.grant(dir);
  }

  /** Where jobs may write: the workspace, then the granted folders. */
  outputFolders(): string[] {
    return this.outputs.list();
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every call of the contract: answered here, or by the worker. */
  private readonly handlers: CallHandlers = {
    info: (params) => this.callWorker({ method: 'info', params }),
    openPhoto: (params) => this.callWorker({ method: 'openPhoto', params }),
    photoRegion: (params) => this.callWorker({ method: 'photoRegion', params }),
    previewDeblur: (params) => this.callWorker({ method: 'previewDeblur', params }),
    learnedEstimate: (params) => this.callWorker({ method: 'learnedEstimate', params }),
    openKernel: (params) => this.callWorker({ method: 'openKernel', params }),
    exportKernel: (params) => this.callWorker({ method: 'exportKernel', params }),
    importKernel: async ({ path: source }) => {
      // The library keeps its own copy: an upload or a file the user moves may disappear.
      const copyTo = this.inWorkspace(source)
        ? null
        : await this.workspaceFile(path.parse(source).name, '.blurkernel');
      return this.callWorker({ method: 'importKernel', params: { path: source, copyTo } });
    },
    getSettings: () => this.options.settings.get(),
    setSettings: (patch) => this.setSettings(patch),
    // Every write target must lie in the workspace or a granted folder (the CLI is not limited).
    startJob: async (spec) => ({ jobId: this.enqueue(await this.outputs.allow(spec)) }),
    cancelJob: ({ jobId }) => ({ cancelled: this.cancel(jobId) }),
    restartEngine: async () => {
      await this.restartEngine();
      return {};
    },
    workspacePath: async ({ baseName, extension }) => ({
      path: await this.workspaceFile(baseName, extension),
    }),
    deleteKernel: async (params) => {
      const target = path.resolve(params.path);
      // Only the app's own copies are deleted; a file elsewhere is the user's.
      if (!this.inWorkspace(target) || path.extname(target) !== '.blurkernel') return { deleted: false };
      const deleted = await rm(target).then(
        () => true,
        () => false,
      );
      return { deleted };
    },
    loadSession: () => loadSession(path.join(this.options.workspaceDir, SESSION_FILE)),
    saveSession: async ({ session }) => {
      await saveSession(path.join(this.options.workspaceDir, SESSION_FILE), session);
      return {};
    },
    outputFolders: () => {
      const [workspace, ...folders] = this.outputs.list();
      return { folders, workspace };
    },
    batchStatus: ({ outDir }) => this.batchStatus(outDir),
    discardBatch: async (params) => {
      const outDir = await this.outputs.check(params.outDir, 'folder');
      return { discarded: await forgetBatchSpec(outDir).catch(() => false) };
    },
    // The desktop app answers these before they get here; the web bridge has no native dialogs.
    chooseOutputFolder: refuseDialog,
    chooseSavePath: refuseDialog,
    choosePhotos: refuseDialog,
    showInFolder: ({ path: file }) => {
      throw new ApiError(`Only the desktop app can open the file manager; the file is ${file}.`);
    },
  };

  /** Validates and dispatches one API call (the trust boundary for IPC and the web bridge). */
  async call(method: unknown, params: unknown): Promise<unknown> {
    return dispatch(this.handlers, parseCall(method, params));
  }

  /** Typed convenience for Node callers (tests, the bridge's own code). */
  async invoke<C extends CallName>(method: C, params: CallParams<C>): Promise<CallResult<C>> {
    return dispatch(this.handlers, parseCall(method, params));
  }

  private async setSettings(patch: CallParsed<'setSettings'>): Promise<Settings> {
    const before = this.options.settings.get();
    if (patch.checkpointPath && patch.checkpointPath !== before.checkpointPath) {
      // The engine loads the model only when a job needs it: refuse a file it could not load now.
      await this.callWorker({ method: 'checkCheckpoint', params: { path: patch.checkpointPath } });
    }
    const after = await this.options.settings.update(patch);
    if (
      before.backend !== after.backend ||
      before.checkpointPath !== after.checkpointPath ||
      before.tileSize !== after.tileSize
    ) {
      this.restartWhenIdle();
    }
    return after;
  }

  /** What the batch manifest in an allowed output folder says (read here: no engine work needed). */
  private async batchStatus(dir: string): Promise<CallResult<'batchStatus'>> {
    const outDir = await this.outputs.check(dir, 'folder');
    const manifest = await loadManifest(outDir).catch(() => null);
    if (!manifest) {
      return { found: false, counts: { total: 0, done: 0, failed: 0, skipped: 0, pending: 0 }, resume: null };
    }
    const counts = manifestCounts(manifest);
    const spec = manifest.spec && BatchJobSpec.safeParse({ ...manifest.spec, kind: 'batch' });
    return { found: true, counts, resume: counts.pending > 0 && spec?.success ? spec.data : null };
  }

  /** A fresh path in the workspace: a name the user recognises, safe for any file system, and unique. */
  private async workspaceFile(baseName: string, extension: string): Promise<string> {
    await mkdir(this.options.workspaceDir, { recursive: true });
    const safe = baseName.replace(/[^\p{L}\p{N}._ -]+/gu, '_').slice(0, 80) || 'photo';
    return path.join(this.options.workspaceDir, `${safe}-${randomUUID().slice(0, 8)}${extension}`);
  }

  private inWorkspace(file: string): boolean {
    return isInside(path.resolve(this.options.workspaceDir), path.resolve(file), false);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      this.emit({ type: 'jobFailed', jobId: job.jobId, error: 'The engine was shut down.', cancelled: true });
    }
    await this.worker?.terminate();
    this.worker = null;
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private ensureWorker(): Promise<EngineInfo> {
    if (this.closed) return Promise.reject(new ApiError('The engine has been shut down.'));
    if (this.ready) return this.ready;
    const settings = this.options.settings.get();
    const data: WorkerData = {
      backend: preferenceFromEnvironment(settings.backend),
      checkpointPath: settings.checkpointPath,
      tileSize: settings.tileSize,
    };
    const worker = new Worker(this.options.workerPath, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb ?? 4096 },
    });
    this.worker = worker;
    this.emit({ type: 'engineStatus', state: 'starting', info: null });
    this.ready = new Promise<EngineInfo>((resolve, reject) => {
      worker.on('message', (message: WorkerToHost) => {
        switch (message.type) {
          case 'ready':
            resolve(message.info);
            this.emit({ type: 'engineStatus', state: 'ready', info: message.info });
            return;
          case 'initFailed':
            reject(new ApiError(`The engine could not start: ${message.error}`));
            return;
          case 'result': {
            const pending = this.pendingCalls.get(message.id);
            this.pendingCalls.delete(message.id);
            if (message.ok) pending?.resolve(message.value);
            else pending?.reject(new ApiError(message.error));
            return;
          }
          case 'event':
            this.onWorkerEvent(message.event);
        }
      });
      worker.on('error', (error) => this.onWorkerGone(worker, describeCrash(error), reject));
      worker.on('exit', (code) =>
        this.onWorkerGone(worker, this.terminationReason ?? `it exited with code ${code}`, reject),
      );
    });
    // A start-up failure is reported to whoever waits on it; don't let it become an unhandled rejection.
    this.ready.catch(() => undefined);
    return this.ready;
  }

  private onWorkerEvent(event: EngineEvent): void {
    this.emit(event);
    if ((event.type === 'jobDone' || event.type === 'jobFailed') && event.jobId === this.current?.jobId) {
      clearTimeout(this.current.cancelTimer);
      this.current = null;
      this.pump();
    }
  }

  private onWorkerGone(worker: Worker, reason: string, rejectStart: (e: Error) => void): void {
    if (this.worker !== worker) return; // already replaced
    this.worker = null;
    this.terminationReason = null;
    this.ready = null;
    rejectStart(new ApiError(`The engine could not start (${reason}).`));
    for (const pending of this.pendingCalls.values()) {
      pending.reject(
        new ApiError(`The engine stopped while working on your request (${reason}). Try again.`),
      );
    }
    this.pendingCalls.clear();
    const job = this.current;
    this.current = null;
    if (job) {
      clearTimeout(job.cancelTimer);
      const cancelled = job.cancelTimer !== undefined;
      this.emit({
        type: 'jobFailed',
        jobId: job.jobId,
        cancelled,
        error: cancelled
          ? 'Cancelled.'
          : `The engine stopped while running this job (${reason}). Blurspace has restarted it and your ` +
            'photos are untouched. Run the job again; if it keeps failing, choose a smaller tile size or ' +
            'the CPU backend in Settings.',
      });
    }
    if (this.closed) return;
    this.emit({ type: 'engineStatus', state: 'restarted', info: null });
    this.pump();
  }

  private async callWorker<C extends CallOf<WorkerCalls>>(
    call: C,
  ): Promise<WorkerCalls[C['method']]['result']> {
    await this.ensureWorker();
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      this.pendingCalls.set(id, { resolve, reject });
      this.post({ type: 'call', id, ...call });
    });
  }

  private post(message: HostToWorker): void {
    this.worker?.postMessage(message);
  }

  private enqueue(spec: JobSpec): string {
    const jobId = randomUUID();
    this.queue.push({ jobId, spec });
    this.emit({ type: 'jobProgress', jobId, stage: 'queued', progress: 0, etaSeconds: null });
    this.pump();
    return jobId;
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.current = { jobId: next.jobId };
    this.ensureWorker().then(
      () => {
        if (this.current?.jobId === next.jobId)
          this.post({ type: 'job', jobId: next.jobId, spec: next.spec });
      },
      (error: Error) => {
        if (this.current?.jobId !== next.jobId) return;
        this.current = null;
        this.emit({ type: 'jobFailed', jobId: next.jobId, error: error.message, cancelled: false });
        this.pump();
      },
    );
  }

  private cancel(jobId: string): boolean {
    const queued = this.queue.findIndex((job) => job.jobId === jobId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.emit({ type: 'jobFailed', jobId, error: 'Cancelled.', cancelled: true });
      return true;
    }
    const current = this.current;
    if (current?.jobId !== jobId || current.cancelTimer) return false;
    this.post({ type: 'cancel', jobId });
    // A job busy in one long computation cannot see the cancel: replace the worker after a grace period.
    current.cancelTimer = setTimeout(() => void this.worker?.terminate(), this.options.hardCancelMs ?? 800);
    return true;
  }

  /** Replaces the worker now (the UI's "Restart engine"); a running job fails and says why. */
  async restartEngine(): Promise<void> {
    if (!this.worker) return;
    this.terminationReason = 'it was restarted from the app';
    await this.worker.terminate();
  }

  private restartWhenIdle(): void {
    const restart = (): void => {
      if (this.current || this.queue.length || this.pendingCalls.size) return void setTimeout(restart, 250);
      const worker = this.worker;
      this.worker = null;
      this.ready = null;
      void worker?.terminate();
    };
    restart();
  }
}

function refuseDialog(): never {
  throw new ApiError(
    'Native dialogs are only in the desktop app. In the browser, open photos with the file picker ' +
      'and type output paths inside the allowed folders.',
  );
}

function describeCrash(error: Error & { code?: string }): string {
  if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'it ran out of memory';
  return `it failed: ${error.message}`;
}
