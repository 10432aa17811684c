// The validation ladder that deblurring is judged on, from the validation split only:
// - clean: motion kernels (the shared motion kernels and synthetic camera shake of 9-75 px) on validation
//   photos, blurred in linear light, plain sRGB, 1 % Gaussian noise, 8 bits;
// - realistic: the same kernels through the simulated camera (noise, tone curve, clipped highlights, JPEG);
// - gopro: real frame averages of the GoPro sequence (object and camera motion, no single true kernel);
// - gopro-frames (not in the default ladder): the same frame averages whole, 1280x720, so that fast mode chooses
//   its window and sees the blur vary across the frame as in a photo.
// Each pair carries the kernel its ceiling is deconvolved with: the true one. GoPro pairs have none (people
// and branches move on their own): their reference is the uniform kernel fitted to the pair by least
// squares, which a blind estimate on the most textured window can beat.
import { blurExtent } from '../engine/deblur/fast-mode';
import { fitPsf, luma, type Psf } from '../engine/kernels/psf';
import {
  loadKernels,
  makePair,
  Rng,
  kernelToPsf,
  shakeKernel,
  type Kernel,
  type PairOptions,
} from '../engine/training';
import { crop, type FloatImage } from '../engine/core/tiling';
import { srgbToLinear } from '../engine/core/colour';

export type Tier = 'clean' | 'realistic' | 'gopro' | 'gopro-frames';
/** The default ladder; `gopro-frames` is asked for by name. */
export const TIERS: readonly Tier[] = ['clean', 'realistic', 'gopro'];
export const ALL_TIERS: readonly Tier[] = [...TIERS, 'gopro-frames'];

export interface TierPair {
  tier: Tier;
  name: string;
  sharp: FloatImage;
  blurry: FloatImage;
  /** The kernel of the ceiling: true (clean, realistic) or fitted to the pair (gopro). */
  ceilingPsf: Psf;
  /** The true blur's longest side in pixels (its box of taps >= 2 % of the peak); null for GoPro. */
  blurPx: number | null;
}

const SEED = 2021;
/** Lengths of the synthetic shakes, spread over 9-75 px. */
const SHAKE_LENGTHS = [9, 13, 17, 21, 27, 33, 41, 51, 63, 75];

/** The kernel of pair `index`: the shared motion kernels first, then synthetic shakes of growing length. */
async function tierKernel(dataRoot: string, index: number): Promise<Kernel> {
  // The shared kernels' motion ones (the others are Gaussian, see ../shared/data/README.md).
  const motion = (await loadKernels(dataRoot)).filter((k) => /^(kair12_1\d|k_large_\d)$/.test(k.id));
  if (index < motion.length) return motion[index]!;
  const i = index - motion.length;
  const length = SHAKE_LENGTHS[i % SHAKE_LENGTHS.length]!;
  return shakeKernel(new Rng(SEED, i, 7), length, `shake-${length}px-${i}`);
}

function image(data: Float32Array, width: number, height = width): FloatImage {
  return { width, height, channels: 3, data };
}

/** Gaussian noise of `sigma` on sRGB values, then 8-bit quantisation (deterministic per pair). */
function noisy8(data: Float32Array, sigma: number, rng: Rng): Float32Array {
  return data.map((v) => Math.round(Math.min(1, Math.max(0, v + sigma * rng.normal())) * 255) / 255);
}

/** The uniform kernel of a real pair: a least-squares fit in linear light on the central power-of-two square. */
function fittedPsf(sharp: FloatImage, blurry: FloatImage, size: number): Psf {
  let side = 1;
  while (side * 2 <= Math.min(sharp.width, sharp.height)) side *= 2;
  const x0 = (sharp.width - side) >> 1;
  const y0 = (sharp.height - side) >> 1;
  // In linear light, where the frames were averaged.
  const cut = (img: FloatImage) =>
    luma(
      crop(img, x0, y0, side, side).data.map((v) => srgbToLinear(Math.min(1, Math.max(0, v)))),
      side * side,
    );
  return fitPsf(cut(sharp), cut(blurry), side, size, 1e-2);
}

export async function tierPair(tier: Tier, index: number, size: number, dataRoot: string): Promise<TierPair> {
  // Many candidate crops: the most textured is kept (a flat crop cannot show a blur or its removal).
  const base: PairOptions = { seed: SEED, index, size, split: 'val', dataRoot, cropCandidates: 24 };
  if (tier === 'gopro' || tier === 'gopro-frames') {
    const pair = await makePair('gopro', { ...base, fullFrame: tier === 'gopro-frames' });
    const sharp = image(pair.sharp, pair.width, pair.height);
    const blurry = image(pair.blurry, pair.width, pair.height);
    const ceilingPsf = fittedPsf(sharp, blurry, 45);
    return { tier, name: `${tier} ${index}`, sharp, blurry, ceilingPsf, blurPx: null };
  }
  const kernel = await tierKernel(dataRoot, index);
  const clean = tier === 'clean';
  const pair = await makePair('kernel', {
    ...base,
    kernel,
    ...(clean && { capture: { noise: false, jpeg: false, tone: false, highlights: false } }),
  });
  const ceilingPsf = kernelToPsf(kernel);
  return {
    tier,
    name: `${tier} ${kernel.id}`,
    sharp: image(pair.sharp, size),
    blurry: image(clean ? noisy8(pair.blurry, 0.01, new Rng(SEED, index, 11)) : pair.blurry, size),
    ceilingPsf,
    blurPx: blurExtent(ceilingPsf),
  };
}
