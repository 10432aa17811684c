// Fast mode's optional learned step (not in the paper): the restorer R (model/restorer.ts) run over the
// whole photo in overlapping tiles. R sees ~100 px around a pixel, so tiles overlap by 128 and blend over
// the inner 64.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../jobs/progress';
import type { Restorer } from '../model/restorer';
import { mapTiles, type FloatImage, type TileOptions } from '../tiling';
import { smooth } from './image-ops';

/** Large tiles: the 128-pixel overlap is work done twice (1.3x at 1024, 1.8x at 512). */
export const RESTORER_TILES: TileOptions = { tileSize: 1024, overlap: 128 };

/**
 * A blur keeps a photo's local means, so R's change should have none: its low-pass (sigma ~32 px) is
 * removed. R guesses the camera's tone curve, and a wrong guess shifts whole areas' brightness (a photo of
 * dark needles against the sky lost 4.4 dB to R alone, 2.6 dB with the low-pass removed). Mean gain over
 * the blurry input on bench:deblur's 18 pairs at 512 px, R at step 1330 after fast mode's deconvolution:
 * 0.23 dB as it is, 0.34 without its change's low-pass (radius 32; 64: 0.33, 128: 0.33).
 */
const LOW_PASS_RADIUS = 32;

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
  const tiles = ctx.tileSize ? { ...RESTORER_TILES, tileSize: ctx.tileSize } : RESTORER_TILES;
  const change = await mapTiles(
    photo,
    tiles,
    async (pixels) => {
      const out = tf.tidy(() => {
        const y = tf.tensor4d(pixels.data, [1, pixels.height, pixels.width, 3]);
        return tf.sub(restorer.restore(y), y);
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    async (done, total) => {
      onProgress(done / total);
      await checkpoint(ctx.signal);
    },
  );
  const low = smooth(change, LOW_PASS_RADIUS).data;
  const data = change.data.map((v, i) => Math.min(1, Math.max(0, photo.data[i] + strength * (v - low[i]))));
  return { ...photo, data };
}
