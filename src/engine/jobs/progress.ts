import type { EngineEvent } from '../../common/api';

export type ProgressUpdate = Omit<
  Extract<EngineEvent, { type: 'jobProgress' }>,
  'type' | 'jobId' | 'etaSeconds'
>;

export interface JobContext {
  signal: AbortSignal;
  /** Reports progress; the ETA is derived from the elapsed time of the current stage. */
  progress(update: ProgressUpdate): void;
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
export async function checkpoint(signal: AbortSignal): Promise<void> {
  await yieldToEventLoop();
  if (signal.aborted) throw new JobCancelledError();
}

export function estimateEta(startedAt: number, progress: number, now = Date.now()): number | null {
  if (progress <= 0.01 || progress >= 1) return progress >= 1 ? 0 : null;
  return ((now - startedAt) / 1000) * ((1 - progress) / progress);
}
