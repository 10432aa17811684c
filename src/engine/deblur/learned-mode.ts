// The learned mode: the deblurring network (model/maxim.ts) run over a photo of any size in overlapping
// tiles (multiples of 64), blended with feathered weights (core/tiling.ts). No blur kernel is estimated: the
// network restores the photo directly. A tile takes tens of seconds on the CPU, so on the wasm backend tiles
// run on threads of their own (learned-mode-worker.ts), which a cancel ends at once. Measurements:
// docs/decisions/0020-learned-mode.md.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../core/progress';
import { builtWorker, TileThreads, tileThreads, type TileMessage } from '../core/tile-threads';
import { mapTiles, planTiles, roundUpToGrid, type FloatImage, type TileOptions } from '../core/tiling';
import { MAXIM_CELL, maximRestore } from '../model/maxim';

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
 * Seconds per 256-pixel tile, both threads together, on a shared two-core CPU with the wasm backend
 * (decision 0020): the estimate before this engine has run a learned job.
 */
export const TYPICAL_SECONDS_PER_TILE = 22;

/** The network itself: its model.json, and the graph loaded in this thread when tiles run here. */
export interface LearnedNetwork {
  modelJson: string;
  load(): Promise<tf.GraphModel>;
  /** Told how long a job's tiles took, for later estimates. */
  measured(seconds: number, tiles: number): void;
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
  const pool = file ? new TileThreads(file, threads, ctx.signal, network.modelJson) : null;
  const model = pool ? null : await network.load();
  let restored: FloatImage;
  try {
    restored = await mapTiles(
      photo,
      tiles,
      async ({ data: pixels, width, height }) =>
        pool ? pool.run({ pixels, width, height }) : maximRestore(model!, pixels, width, height),
      async (done) => {
        onTile(done, total);
        await checkpoint(ctx.signal);
      },
      threads,
    );
  } finally {
    await pool?.close();
  }
  const data = restored.data.map((v, i) => photo.data[i]! + strength * (v - photo.data[i]!));
  return { ...photo, data };
}
