// Fast mode's optional learned step (not in the paper): the restorer R (model/restorer.ts) run over the
// whole photo in overlapping tiles. R sees ~100 px around a pixel, so tiles overlap by 128 and blend over
// the inner 64. On the wasm backend the tiles run on threads of their own (restorer-worker.ts): one wasm
// instance uses one core, and two threads ran a 24 MP photo 1.76x as fast as one on a 2-core machine.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../core/progress';
import type { Restorer } from '../model/restorer';
import { mapTiles, planTiles, roundUpToGrid, type FloatImage, type TileOptions } from '../core/tiling';
import { smooth } from './image-ops';
import { builtWorker, TileThreads, tileThreads, type TileMessage } from '../core/tile-threads';

/**
 * R on the tiles of a 24 MP photo, two threads (`cli deblur --learned`, session 9): tiles of 768 49.9 s,
 * peak memory 2.9 GB; 1024 42.7 s, 4.1 GB (the 128-pixel overlap is work done twice).
 */
export const RESTORER_TILES: TileOptions = { tileSize: 768, overlap: 128 };

/**
 * A blur keeps a photo's local means, so R's change should have none: its low-pass (sigma ~32 px) is
 * removed. R guesses the camera's tone curve, and a wrong guess shifts whole areas' brightness (a photo of
 * dark needles against the sky lost 4.4 dB to R alone, 2.6 dB with the low-pass removed). Mean gain over
 * the blurry input on bench:deblur's 18 pairs at 512 px, R at step 1330 after fast mode's deconvolution:
 * 0.23 dB as it is, 0.34 without its change's low-pass (radius 32; 64: 0.33, 128: 0.33).
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
  // Read outside tidy: dataSync() inside it made a 1024 tile take 5 s instead of 2 on wasm.
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
