// Tiles on worker threads, one per core: the deconvolution's (deconvolution-worker.ts), the learned
// restorer's (restorer-worker.ts) and the learned mode's network (learned-mode-worker.ts); and single jobs on a
// thread of their own (fast mode's second blur estimate, blind-estimate-worker.ts). Each thread
// handles whole tiles while the calling thread cuts them out and blends the results. Run from source (the
// unit tests) the built worker files are not there, and the tiles run in the calling thread. A worker whose
// tiles run in native code that must not be stopped mid-call (onnxruntime) runs as a child process instead.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker, workerData as threadData } from 'node:worker_threads';
import { JobCancelledError } from './progress';

/** A worker entry bundled beside the engine in out/main (electron.vite.config.ts), or null from source. */
export function builtWorker(
  name:
    | 'deconvolution-worker'
    | 'restorer-worker'
    | 'fast-mode-worker'
    | 'learned-mode-worker'
    | 'blind-estimate-worker',
): string | null {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.js`);
  return existsSync(file) ? file : null;
}

/** Threads for tiles: BLURSPACE_THREADS if set, else one per core; 1 when the worker is not built. */
export function tileThreads(): number {
  if (!builtWorker('deconvolution-worker')) return 1;
  return Math.max(1, Math.floor(Number(process.env.BLURSPACE_THREADS)) || os.availableParallelism());
}

/**
 * Runs a worker file once on a thread of its own, `input` as its workerData, and resolves with the one message
 * it posts. A cancel (`signal`) ends the thread at once and rejects with JobCancelledError.
 */
export function runOnThread<Result>(file: string, input: unknown, signal: AbortSignal): Promise<Result> {
  if (signal.aborted) return Promise.reject(new JobCancelledError());
  const worker = new Worker(file, { workerData: input });
  return new Promise<Result>((resolve, reject) => {
    const onAbort = (): void => {
      reject(new JobCancelledError());
      void worker.terminate();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
    };
    worker.once('message', (result: Result) => {
      settle();
      resolve(result);
    });
    worker.once('error', (error) => {
      settle();
      reject(error);
    });
    worker.once('exit', (code) => {
      settle();
      reject(new Error(`a thread stopped before its result (code ${code})`));
    });
  });
}

/** A tile's work as a thread gets it: its pixels move to the thread (no copy). */
export interface TileMessage {
  pixels: Float32Array;
}

/** A tile's failure as a tile process reports it (a thread's failure is its 'error' event). */
interface TileFailure {
  tileError: string;
}

/**
 * A child process running a worker file (serveTiles at its end), behind the thread API. A thread busy in
 * onnxruntime's native run cannot be terminated safely (the binding then aborts the whole process), while a
 * process can be killed at once.
 */
class TileProcess extends EventEmitter {
  private readonly child: ChildProcess;
  private readonly exited: Promise<number>;

  constructor(file: string, workerData: unknown) {
    super();
    this.child = fork(file, [JSON.stringify(workerData ?? null)], {
      serialization: 'advanced', // typed arrays arrive as typed arrays
      // Electron's own binary runs the file as Node.
      env: process.versions.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env,
    });
    this.child.on('message', (message: Float32Array | TileFailure) => {
      if ('tileError' in message) this.emit('error', new Error(message.tileError));
      else this.emit('message', message);
    });
    // A failure to start also ends in 'exit'; an 'error' nobody listens to would throw here.
    this.child.on('error', (error) => this.listenerCount('error') && this.emit('error', error));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.emit('exit', code ?? 1);
        resolve(code ?? 1);
      }),
    );
  }

  postMessage(message: unknown): void {
    this.child.send(message as object);
  }

  terminate(): Promise<number> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  ref(): void {
    this.child.ref();
    this.child.channel?.ref();
  }

  unref(): void {
    this.child.unref();
    this.child.channel?.unref();
  }
}

/** The workerData of a worker file, run as a thread or as a TileProcess. */
export function tileWorkerData(): unknown {
  return parentPort ? threadData : JSON.parse(process.argv[2] ?? 'null');
}

/**
 * A worker file's loop: `start` loads what the tiles need, then each tile it is sent is restored by the
 * handler it gives and sent back (run as a thread or a process). Tiles sent while it loads wait: a process
 * would otherwise drop messages that arrive before it listens.
 */
export function serveTiles<Message extends TileMessage>(
  start: () => Promise<(message: Message) => Promise<Float32Array>>,
): void {
  const ready = start();
  // A failed start is reported with the first tile.
  ready.catch(() => undefined);
  if (parentPort) {
    const port = parentPort;
    port.on('message', async (message: Message) => {
      const result = await (await ready)(message);
      port.postMessage(result, [result.buffer as ArrayBuffer]);
    });
    return;
  }
  process.on('message', async (message: Message) => {
    try {
      process.send!(await (await ready)(message));
    } catch (error) {
      process.send!({ tileError: error instanceof Error ? error.message : String(error) });
    }
  });
  // The engine is gone (or closed the pool without killing us): nothing more will come.
  process.on('disconnect', () => process.exit(0));
}

/** A tile worker: a thread, or a child process with a thread's API. */
type TileWorker = Worker | TileProcess;

/**
 * Threads that each take one tile at a time; a call of `run` while all are busy waits for the first free one
 * (first come, first served). A cancel (`signal`) rejects the pending calls with JobCancelledError at once
 * and ends the threads, without waiting for a thread busy in a long computation to exit. Call `close` when
 * done.
 */
export class TileThreads {
  private readonly workers: TileWorker[];
  private readonly idle: TileWorker[];
  private readonly waiting: Array<{ resolve(worker: TileWorker): void; reject(error: Error): void }> = [];
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
    /** 'process': each worker is a child process (TileProcess), for native code killed mid-call. */
    kind: 'thread' | 'process' = 'thread',
  ) {
    this.workers = Array.from({ length: count }, () =>
      kind === 'process' ? new TileProcess(file, workerData) : new Worker(file, { workerData }),
    );
    this.idle = [...this.workers];
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async run<Message extends TileMessage>(message: Message): Promise<Float32Array> {
    if (this.signal?.aborted) throw new JobCancelledError();
    const worker =
      this.idle.pop() ??
      (await new Promise<TileWorker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    try {
      return await this.runOn(worker, message);
    } finally {
      const next = this.waiting.shift();
      if (next) next.resolve(worker);
      else this.idle.push(worker);
    }
  }

  /**
   * Whether the threads keep the process alive: threads kept idle between jobs (learned-mode.ts) must not
   * hold a finished CLI or benchmark open.
   */
  hold(held: boolean): void {
    for (const worker of this.workers) {
      if (held) worker.ref();
      else worker.unref();
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

  private runOn(worker: TileWorker, message: TileMessage): Promise<Float32Array> {
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
