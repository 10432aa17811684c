// The learned mode: the deblurring network (model/maxim.ts) run over a photo of any size in overlapping
// tiles (multiples of 64), blended with feathered weights (core/tiling.ts). No blur kernel is estimated: the
// network restores the photo directly. A tile takes seconds to tens of seconds on the CPU, so on the wasm
// backend tiles run on threads of their own (learned-mode-worker.ts; child processes when onnxruntime runs the
// network, model/maxim-runtime.ts), which a cancel ends at once. Measurements:
// docs/decisions/0020-learned-mode.md.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../core/progress';
import { builtWorker, TileThreads, tileThreads, type TileMessage } from '../core/tile-threads';
import { mapTiles, planTiles, roundUpToGrid, type FloatImage, type TileOptions } from '../core/tiling';
import { loadMaxim, MAXIM_CELL, maximRestore } from '../model/maxim';
import { usesOnnxRuntime } from '../model/maxim-runtime';

/**
 * Tiles of 256 with 64 of overlap (feathered over 32): decision 0020 compares sizes. The network's grid
 * mixing spans the whole tile, so a tile much smaller than 256 sees too little of the blur around it.
 */
export const LEARNED_TILES: TileOptions = { tileSize: 256, overlap: 64, cell: MAXIM_CELL };

/** A tile for the network: RGB pixels, sides multiples of MAXIM_CELL. */
export interface NetworkTile extends TileMessage {
  width: number;
  height: number;
}

/**
 * Seconds per 256-pixel tile, both threads together, on a shared two-core CPU: 22 with the wasm backend,
 * ~4x less on onnxruntime (decision 0020 and its amendments). The estimate before the network has run a
 * learned job; asked each time, so that BLURSPACE_LEARNED_RUNTIME is followed as the tiles will follow it.
 */
export function typicalSecondsPerTile(): number {
  return usesOnnxRuntime() ? 5 : 22;
}

/** How long a network's threads stay loaded after a job (each takes ~3 s to load, its first tile is slower). */
const KEEP_THREADS_MS = 120_000;

/**
 * The network of one model.json, kept between jobs: its graph in this thread (when tiles run here) and, on
 * wasm, its tile threads with the graph loaded, until they have idled for KEEP_THREADS_MS. A cancel or a
 * failed tile ends the threads (a thread may be stopped or still busy); the next job starts new ones.
 */
export class LearnedNetwork {
  private graph: Promise<tf.GraphModel> | null = null;
  private pool: { threads: TileThreads; stop: AbortController } | null = null;
  private users = 0;
  private idle: ReturnType<typeof setTimeout> | null = null;
  /** Seconds per tile of the last learned job (all threads together); null before one has run. */
  measuredSecondsPerTile: number | null = null;

  constructor(readonly modelJson: string) {}

  /** The graph in this thread, loaded on first use (a failed load is tried again next time). */
  load(): Promise<tf.GraphModel> {
    this.graph ??= loadMaxim(this.modelJson);
    this.graph.catch(() => (this.graph = null));
    return this.graph;
  }

  /** Told how long a learned job's tiles took, for later estimates. */
  measured(seconds: number, tiles: number): void {
    this.measuredSecondsPerTile = seconds / tiles;
  }

  /** What a tile is expected to take: as in the last learned job, else the typical figure. */
  secondsPerTile(): number {
    return this.measuredSecondsPerTile ?? typicalSecondsPerTile();
  }

  /** Runs `use` on threads of `file` with the network loaded (kept, or started now); `signal` cancels. */
  async withThreads<T>(
    file: string,
    signal: AbortSignal,
    use: (threads: TileThreads) => Promise<T>,
  ): Promise<T> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (!this.pool) {
      const stop = new AbortController();
      const kind = usesOnnxRuntime() ? 'process' : 'thread';
      this.pool = { threads: new TileThreads(file, tileThreads(), stop.signal, this.modelJson, kind), stop };
    }
    const pool = this.pool;
    pool.threads.hold(true);
    const cancel = (): void => pool.stop.abort();
    signal.addEventListener('abort', cancel, { once: true });
    if (signal.aborted) cancel();
    this.users++;
    try {
      return await use(pool.threads);
    } catch (error) {
      this.drop(pool);
      throw error;
    } finally {
      signal.removeEventListener('abort', cancel);
      if (--this.users === 0 && this.pool === pool) {
        // Idle threads must not keep a finished CLI or benchmark running.
        pool.threads.hold(false);
        this.idle = setTimeout(() => this.drop(pool), KEEP_THREADS_MS);
        this.idle.unref();
      }
    }
  }

  private drop(pool: { threads: TileThreads }): void {
    if (this.pool !== pool) return;
    this.pool = null;
    void pool.threads.close();
  }
}

/** The tiles a photo is cut into (the ETA before a job is this times the seconds per tile). */
export function learnedTileCount(width: number, height: number, tiles = LEARNED_TILES): number {
  const cell = tiles.cell ?? MAXIM_CELL;
  return planTiles(
    roundUpToGrid(width, cell),
    roundUpToGrid(height, cell),
    tiles.tileSize,
    tiles.overlap,
    cell,
  ).length;
}

/**
 * The network over a photo of any size, blended with the input by `strength` (0 keeps the photo, 1 takes the
 * network's result). `onTile` gets the tiles done and their number after each tile.
 */
export async function deblurLearned(
  network: LearnedNetwork,
  photo: FloatImage,
  strength: number,
  ctx: JobContext,
  onTile: (done: number, total: number) => void,
  tiles = LEARNED_TILES,
): Promise<FloatImage> {
  const total = learnedTileCount(photo.width, photo.height, tiles);
  // Threads only help the wasm backend; libtensorflow spreads each op over the cores (or the GPU) itself.
  const file = tf.getBackend() === 'wasm' ? builtWorker('learned-mode-worker') : null;
  const threads = file ? Math.min(tileThreads(), total) : 1;
  const run = async (restore: (tile: NetworkTile) => Promise<Float32Array>): Promise<FloatImage> =>
    mapTiles(
      photo,
      tiles,
      async ({ data: pixels, width, height }) => restore({ pixels, width, height }),
      async (done) => {
        onTile(done, total);
        await checkpoint(ctx.signal);
      },
      threads,
    );
  let restored: FloatImage;
  if (file) {
    restored = await network.withThreads(file, ctx.signal, (pool) => run((tile) => pool.run(tile)));
  } else {
    const model = await network.load();
    restored = await run(({ pixels, width, height }) => maximRestore(model, pixels, width, height));
  }
  const data = restored.data.map((v, i) => photo.data[i]! + strength * (v - photo.data[i]!));
  return { ...photo, data };
}

/** The network's result on an image (strength 1), tile progress to `onTile`. */
export type NetworkRestore = (
  image: FloatImage,
  ctx: JobContext,
  onTile: (done: number, total: number) => void,
) => Promise<FloatImage>;

/** `network` as a NetworkRestore. */
export function networkRestore(network: LearnedNetwork): NetworkRestore {
  return (image, ctx, onTile) => deblurLearned(network, image, 1, ctx, onTile);
}
