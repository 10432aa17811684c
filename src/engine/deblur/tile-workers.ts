// Deconvolution tiles on worker threads, one per core, each restoring whole tiles
// (deconvolution-worker.ts) while the calling thread cuts out the extents and blends the results. Run from
// source (the unit tests) the built worker file is not there, and the tiles run in the calling thread.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { JobCancelledError } from '../jobs/progress';
import type { ExtentJob } from './deconvolution';

/** Bundled beside the engine in out/main (electron.vite.config.ts). */
const WORKER_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'deconvolution-worker.js');

/** Threads for tiles: BLURSPACE_THREADS if set, else one per core; 1 when the worker is not built. */
export function tileThreads(): number {
  if (!existsSync(WORKER_FILE)) return 1;
  return Math.max(1, Math.floor(Number(process.env.BLURSPACE_THREADS)) || os.availableParallelism());
}

/**
 * Restores every job (made on demand, so only the extents in flight are in memory) and hands each result
 * to `onTile` in the calling thread. A cancel stops the threads at once.
 */
export async function runTiles(
  jobs: Array<() => ExtentJob>,
  restoreHere: (job: ExtentJob) => Float32Array,
  onTile: (job: ExtentJob, pixels: Float32Array) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const threads = Math.min(jobs.length, tileThreads());
  if (threads <= 1) {
    for (const make of jobs) {
      const job = make();
      await onTile(job, restoreHere(job));
    }
    return;
  }
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_FILE));
  let next = 0;
  const lanes = workers.map(async (worker) => {
    while (next < jobs.length) {
      const job = jobs[next++]!();
      await onTile(job, await restoreOn(worker, job));
    }
  });
  const cancelled = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new JobCancelledError());
    signal?.addEventListener('abort', () => reject(new JobCancelledError()), { once: true });
  });
  try {
    await Promise.race([Promise.all(lanes), cancelled]);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

function restoreOn(worker: Worker, job: ExtentJob): Promise<Float32Array> {
  return new Promise((resolve, reject) => {
    const onMessage = (pixels: Float32Array): void => {
      stop();
      resolve(pixels);
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const onExit = (code: number): void => {
      stop();
      reject(new Error(`a deconvolution thread stopped (code ${code})`));
    };
    const stop = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    // The extent's pixels move to the thread (no copy); the job keeps only its small fields.
    worker.postMessage(job, [job.pixels.buffer as ArrayBuffer]);
  });
}
