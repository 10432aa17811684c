// Fast blind deblurring for full-size photos. The blur is estimated on one textured window (or the user's
// region), coarse to fine: predict sharp edges (shock filter), read the blur from the pair with the
// learned kernel space — code = G(x̂, y), PSF fitted to F(x̂, code) — deconvolve, repeat; then the whole
// photo is deconvolved with the final PSF, tile by tile. With kernelPrior 'none' the PSF is fitted to
// the pair directly (classical, Cho & Lee 2009 style), for comparison.
import * as tf from '@tensorflow/tfjs';
import type { Region } from '../../common/api';
import { checkpoint, type JobContext } from '../jobs/progress';
import { fitPsf, luma, type Psf } from '../kernels/psf';
import type { KernelWizard } from '../model/kernel-wizard';
import { crop, type FloatImage } from '../tiling';
import { deconvolve } from './deconvolution';
import { mostTexturedWindow, resample, shockFilter } from './image-ops';

export interface FastModeOptions {
  kernelPrior: 'encoded' | 'none';
  /** The longest blur to look for, in full-resolution pixels. */
  maxBlurPx: number;
  iterationsPerLevel: number;
  /** Where to estimate the blur; the most textured window when absent. */
  roi?: Region;
  strength: number;
}

export const FAST_DEFAULTS: FastModeOptions = {
  kernelPrior: 'encoded',
  maxBlurPx: 65,
  iterationsPerLevel: 3,
  strength: 1,
};

/** Side of the estimation window at every level (G needs at least 256). */
const WINDOW = 256;
/** The coarsest level looks for blurs about this long. */
const COARSEST_BLUR_PX = 12;

function odd(n: number): number {
  const r = Math.round(n);
  return r % 2 ? r : r + 1;
}

function delta(size: number): Psf {
  const weights = new Array<number>(size * size).fill(0);
  weights[(size >> 1) * size + (size >> 1)] = 1;
  return { size, weights };
}

/** Drops faint noise, recentres on the centroid (so the photo does not shift) and normalises. */
export function cleanPsf(psf: Psf, floor = 0.05): Psf {
  const { size } = psf;
  const max = Math.max(...psf.weights);
  const kept = psf.weights.map((w) => (w >= floor * max ? w : 0));
  let total = 0;
  let cx = 0;
  let cy = 0;
  kept.forEach((w, i) => {
    total += w;
    cx += w * (i % size);
    cy += w * Math.floor(i / size);
  });
  if (total <= 0) return delta(size);
  const dx = Math.round(cx / total) - (size >> 1);
  const dy = Math.round(cy / total) - (size >> 1);
  const weights = new Array<number>(size * size).fill(0);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = x + dx;
      const sy = y + dy;
      if (sx >= 0 && sx < size && sy >= 0 && sy < size) weights[y * size + x] = kept[sy * size + sx]! / total;
    }
  }
  return { size, weights };
}

/** The same blur on a grid `size` wide (a finer level), renormalised. */
function rescalePsf(psf: Psf, size: number): Psf {
  const image: FloatImage = {
    width: psf.size,
    height: psf.size,
    channels: 1,
    data: Float32Array.from(psf.weights),
  };
  const scale = size / psf.size;
  // Resample the blur's extent by the level's scale, then centre it on a size x size grid.
  const extent = Math.max(1, odd(psf.size * Math.min(scale, 2)));
  const resized = resample(image, extent, extent);
  const weights = new Array<number>(size * size).fill(0);
  const offset = (size - extent) >> 1;
  for (let y = 0; y < extent; y++) {
    for (let x = 0; x < extent; x++) {
      const tx = x + offset;
      const ty = y + offset;
      if (tx >= 0 && tx < size && ty >= 0 && ty < size)
        weights[ty * size + tx] = Math.max(0, resized.data[y * extent + x]!);
    }
  }
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  return { size, weights: weights.map((w) => w / total) };
}

function toTensor(image: FloatImage): tf.Tensor4D {
  return tf.tensor4d(image.data, [1, image.height, image.width, 3]);
}

/** The PSF explaining the pair: through the encoded kernel space, or fitted directly. */
async function estimatePsf(
  model: KernelWizard | null,
  sharp: FloatImage,
  blurry: FloatImage,
  size: number,
  prior: FastModeOptions['kernelPrior'],
): Promise<Psf> {
  const pixels = sharp.width * sharp.height;
  if (prior === 'none' || !model)
    return fitPsf(luma(sharp.data, pixels), luma(blurry.data, pixels), sharp.width, size);
  const reblurred = tf.tidy(() => {
    const x = toTensor(sharp);
    const codes = model.extractKernel(x, toTensor(blurry));
    // One blur for the window: the mean of its codes, everywhere.
    const mean = tf.mean(codes, [1, 2], true);
    return model.adaptiveBlur(x, tf.tile(mean, [1, codes.shape[1], codes.shape[2], 1]) as tf.Tensor4D);
  });
  const y = (await reblurred.data()) as Float32Array;
  reblurred.dispose();
  return fitPsf(luma(sharp.data, pixels), luma(y, pixels), sharp.width, size);
}

export interface FastResult {
  image: FloatImage;
  psf: Psf;
  window: Region;
}

export async function fastDeblur(
  model: KernelWizard | null,
  photo: FloatImage,
  options: FastModeOptions,
  ctx: JobContext,
): Promise<FastResult> {
  const shortSide = Math.min(photo.width, photo.height);
  // Levels from coarse to fine (scale 1 = full resolution); a level's window covers WINDOW / scale pixels.
  const scales: number[] = [];
  for (let s = 1; ; s /= 2) {
    scales.unshift(s);
    if (options.maxBlurPx * s <= COARSEST_BLUR_PX || WINDOW / (s / 2) > shortSide) break;
  }
  const coarsest = scales[0]!;
  const side = Math.min(shortSide, Math.round(WINDOW / coarsest));
  const window: Region = options.roi ?? {
    ...mostTexturedWindow(photo, side, Math.max(8, Math.round(side / 8))),
    width: side,
    height: side,
  };
  const centreX = window.x + window.width / 2;
  const centreY = window.y + window.height / 2;
  let psf: Psf | null = null;
  const steps = scales.length * options.iterationsPerLevel;
  let done = 0;
  for (const scale of scales) {
    const size = odd(Math.max(7, options.maxBlurPx * scale));
    // The level's window: WINDOW pixels at this scale around the chosen centre (reflected at the edges).
    const regionSide = Math.round(WINDOW / scale);
    const x0 = Math.max(
      0,
      Math.min(photo.width - Math.min(regionSide, photo.width), Math.round(centreX - regionSide / 2)),
    );
    const y0 = Math.max(
      0,
      Math.min(photo.height - Math.min(regionSide, photo.height), Math.round(centreY - regionSide / 2)),
    );
    const blurry = resample(crop(photo, x0, y0, regionSide, regionSide), WINDOW, WINDOW);
    psf = psf ? rescalePsf(psf, size) : delta(size);
    let estimate =
      psf.weights[(size >> 1) * size + (size >> 1)] === 1 ? blurry : await deconvolve(blurry, psf);
    for (let i = 0; i < options.iterationsPerLevel; i++) {
      psf = cleanPsf(await estimatePsf(model, shockFilter(estimate), blurry, size, options.kernelPrior));
      estimate = await deconvolve(blurry, psf);
      ctx.progress({
        stage: `estimating the blur (scale 1/${Math.round(1 / scale)})`,
        progress: (++done / steps) * 0.3,
      });
      await checkpoint(ctx.signal);
    }
  }
  const image = await deconvolve(
    photo,
    psf!,
    { strength: options.strength },
    {
      signal: ctx.signal,
      onProgress: (tile, total) =>
        ctx.progress({ stage: 'restoring the photo', progress: 0.3 + (0.7 * tile) / total }),
    },
  );
  return { image, psf: psf!, window };
}
