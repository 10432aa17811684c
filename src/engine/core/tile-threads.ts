// Tiles on worker threads, one per core: the deconvolution's (deconvolution-worker.ts), the learned
// restorer's (restorer-worker.ts) and the learned mode's network (learned-mode-worker.ts). Each thread
// handles whole tiles while the calling thread cuts them out and blends the results. Run from source (the
// unit tests) the built worker files are not there, and the tiles run in the calling thread.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { JobCancelledError } from './progress';

/** A worker entry bundled beside the engine in out/main (electron.vite.config.ts), or null from source. */
export function builtWorker(
  name: 'deconvolution-worker' | 'restorer-worker' | 'fast-mode-worker' | 'learned-mode-worker',
): string | null {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.js`);
  return existsSync(file) ? file : null;
}

/** Threads for tiles: BLURSPACE_THREADS if set, else one per core; 1 when the worker is not built. */
export function tileThreads(): number {
  if (!builtWorker('deconvolution-worker')) return 1;
  return Math.max(1, Math.floor(Number(process.env.BLURSPACE_THREADS)) || os.availableParallelism());
}

/** A tile's work as a thread gets it: its pixels move to the thread (no copy). */
export interface TileMessage {
  pixels: Float32Array;
}

/**
 * Threads that each take one tile at a time; a call of `run` while all are busy waits for the first free one
 * (first come, first served). A cancel (`signal`) rejects the pending calls with JobCancelledError at once
 * and ends the threads, without waiting for a thread busy in a long computation to exit. Call `close` when
 * done.
 */
export class TileThreads {
  private readonly workers: Worker[];
  private readonly idle: Worker[];
  private readonly waiting: Array<{ resolve(worker: Worker): void; reject(error: Error): void }> = [];
  /** Fails the tiles in flight. */
  private readonly inFlight = new Set<(error: Error) => void>();
  private readonly onAbort = (): void => {
    for (const fail of [...this.inFlight]) fail(new JobCancelledError());
    void this.close();
  };

  constructor(
    file: string,
    count: number,
    private readonly signal?: AbortSignal,
    workerData?: unknown,
  ) {
    this.workers = Array.from({ length: count }, () => new Worker(file, { workerData }));
    this.idle = [...this.workers];
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async run<Message extends TileMessage>(message: Message): Promise<Float32Array> {
    if (this.signal?.aborted) throw new JobCancelledError();
    const worker =
      this.idle.pop() ??
      (await new Promise<Worker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    try {
      return await this.runOn(worker, message);
    } finally {
      const next = this.waiting.shift();
      if (next) next.resolve(worker);
      else this.idle.push(worker);
    }
  }

  /** Ends the threads: resolves when they have exited, or at once after a cancel. */
  async close(): Promise<void> {
    this.signal?.removeEventListener('abort', this.onAbort);
    const error = this.signal?.aborted ? new JobCancelledError() : new Error('the tile threads were closed');
    for (const call of this.waiting.splice(0)) call.reject(error);
    const exited = Promise.all(this.workers.map((worker) => worker.terminate()));
    if (!this.signal?.aborted) await exited;
  }

  private runOn(worker: Worker, message: TileMessage): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      const onMessage = (pixels: Float32Array): void => {
        stop();
        resolve(pixels);
      };
      const onError = (error: Error): void => {
        stop();
        reject(error);
      };
      this.inFlight.add(onError);
      const onExit = (code: number): void => {
        stop();
        reject(
          this.signal?.aborted ? new JobCancelledError() : new Error(`a tile thread stopped (code ${code})`),
        );
      };
      const stop = (): void => {
        this.inFlight.delete(onError);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(message, [message.pixels.buffer as ArrayBuffer]);
    });
  }
}

/**
 * Runs every job (made on demand, so only the tiles in flight are in memory) on `threads` threads of
 * `file` and hands each result to `onTile` in the calling thread; with one thread or no built worker, the
 * jobs run here with `here`.
 */
export async function runTiles<Job extends TileMessage>(
  file: string | null,
  threads: number,
  jobs: Array<() => Job>,
  here: (job: Job) => Float32Array | Promise<Float32Array>,
  onTile: (job: Job, pixels: Float32Array) => Promise<void>,
  signal?: AbortSignal,
  workerData?: unknown,
): Promise<void> {
  const count = Math.min(jobs.length, threads);
  if (!file || count <= 1) {
    for (const make of jobs) {
      const job = make();
      await onTile(job, await here(job));
    }
    return;
  }
  const pool = new TileThreads(file, count, signal, workerData);
  let next = 0;
  // Results reach onTile in the jobs' order, whichever thread finishes first: blending sums overlaps
  // in floating point, and the same photo must give the same bytes on any number of threads.
  const finished = new Map<number, [Job, Float32Array]>();
  let committed = 0;
  let delivered = Promise.resolve();
  const deliver = (): Promise<void> =>
    (delivered = delivered.then(async () => {
      for (let item = finished.get(committed); item; item = finished.get(committed)) {
        finished.delete(committed++);
        await onTile(...item);
      }
    }));
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index]!();
      finished.set(index, [job, await pool.run(job)]);
      await deliver();
    }
  };
  try {
    await Promise.all(Array.from({ length: count }, lane));
  } finally {
    await pool.close();
  }
}
