// Fast mode's optional learned step (not in the paper): the restorer R (model/restorer.ts) run over the
// whole photo in overlapping tiles. R sees ~100 px around a pixel, so tiles overlap by 128 and blend over
// the inner 64. On the wasm backend the tiles run on threads of their own (restorer-worker.ts): one wasm
// instance uses one core. Measurements: docs/decisions/0009-learned-restorer-optional.md.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../core/progress';
import type { Restorer } from '../model/restorer';
import { mapTiles, planTiles, roundUpToGrid, type FloatImage, type TileOptions } from '../core/tiling';
import { smooth } from './image-ops';
import { builtWorker, TileThreads, tileThreads, type TileMessage } from '../core/tile-threads';

/**
 * 768: larger tiles redo less of the 128-pixel overlap but need much more memory; smaller ones redo more
 * (24 MP timings: decision 0009).
 */
export const RESTORER_TILES: TileOptions = { tileSize: 768, overlap: 128 };

/**
 * A blur keeps a photo's local means, so R's change should have none: its low-pass (sigma ~32 px) is
 * removed. R guesses the camera's tone curve, and a wrong guess shifts whole areas' brightness; removing the
 * low-pass limits that damage and raised the mean gain on the validation pairs (radii compared in
 * decision 0009).
 */
const LOW_PASS_RADIUS = 32;

/** A tile for R: RGB pixels, sides multiples of the grid. */
export interface RestorerTile extends TileMessage {
  width: number;
  height: number;
}

/** R's change to a tile, R(y) - y (in whichever thread runs it). */
export async function restorerChange(restorer: Restorer, tile: RestorerTile): Promise<Float32Array> {
  const change = tf.tidy(() => {
    const y = tf.tensor4d(tile.pixels, [1, tile.height, tile.width, 3]);
    return tf.sub(restorer.restore(y), y);
  });
  // Read outside tidy: dataSync() inside it is much slower on wasm (decision 0003).
  const data = (await change.data()) as Float32Array;
  change.dispose();
  return data;
}

/**
 * R over a photo of any size, its change's low frequencies removed, blended with the input by `strength`
 * (0 keeps the photo, 1 takes all of R's change) and clipped to [0, 1]. `onProgress` gets the fraction of
 * tiles done.
 */
export async function restoreLearned(
  restorer: Restorer,
  photo: FloatImage,
  strength: number,
  ctx: JobContext,
  onProgress: (fraction: number) => void,
): Promise<FloatImage> {
  // The tile size setting can make R's tiles smaller (less memory), not larger.
  const tileSize = Math.min(ctx.tileSize ?? Infinity, RESTORER_TILES.tileSize);
  const tiles = { ...RESTORER_TILES, tileSize };
  // Threads only help the wasm backend; libtensorflow spreads each op over the cores (or the GPU) itself.
  const file = tf.getBackend() === 'wasm' ? builtWorker('restorer-worker') : null;
  // No more threads than tiles: each one starts its own wasm backend and copy of the weights.
  const plan = planTiles(roundUpToGrid(photo.width), roundUpToGrid(photo.height), tileSize, tiles.overlap);
  const threads = file ? Math.min(tileThreads(), plan.length) : 1;
  const pool = file && threads > 1 ? new TileThreads(file, threads, ctx.signal, restorer.stateDict()) : null;
  let change: FloatImage;
  try {
    change = await mapTiles(
      photo,
      tiles,
      async ({ data: pixels, width, height }) =>
        pool ? pool.run({ pixels, width, height }) : restorerChange(restorer, { pixels, width, height }),
      async (done, total) => {
        onProgress(done / total);
        await checkpoint(ctx.signal);
      },
      threads,
    );
  } finally {
    await pool?.close();
  }
  const low = smooth(change, LOW_PASS_RADIUS).data;
  const data = change.data.map((v, i) => Math.min(1, Math.max(0, photo.data[i] + strength * (v - low[i]))));
  return { ...photo, data };
}
