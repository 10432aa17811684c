// Non-blind kernel estimation from a sharp/blurry pair (explicit PSFs per region, with their confidence) and
// the transfer that blurs another photo with those PSFs. Synthetic pairs blurred in linear light with
// known kernels by the training code's own correlation (an independent implementation of the convention).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearToSrgb, srgbToLinear } from '../../src/engine/core/colour';
import type { FloatImage } from '../../src/engine/core/tiling';
import { cleanPsf, psfSimilarity } from '../../src/engine/deblur/blind-kernel';
import { estimatePairPsfs } from '../../src/engine/deblur/pair-kernel';
import { blurWithPsfs } from '../../src/engine/deblur/psf-blur';
import { readPhoto } from '../../src/engine/image';
import type { Psf } from '../../src/engine/kernels/psf';
import { correlate, kernelToPsf, loadKernels, type Kernel } from '../../src/engine/training/kernels';
import { TEST_KERNELS_ROOT, writeLargePhoto } from '../helpers/test-images';

let dir: string;
let photo: FloatImage;
let kernels: Kernel[];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-pair-kernel-'));
  const file = path.join(dir, 'scene.png');
  await writeLargePhoto(file, 800, 800);
  photo = await readPhoto(file);
  kernels = await loadKernels(TEST_KERNELS_ROOT);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const kernel = (id: string) => kernels.find((k) => k.id === id)!;
/** A kernel as a PSF centred on its centroid, as the estimates are (a long trace's centre tap is not). */
const centred = (k: Kernel): Psf => cleanPsf(kernelToPsf(k), 0, 0);

/** correlate(photo, k) in linear light, back to sRGB. */
function blurLinear(image: FloatImage, k: Kernel): FloatImage {
  const linear = image.data.map((v) => srgbToLinear(v));
  const blurred = correlate(linear, image.width, image.height, image.channels, k);
  return { ...image, data: blurred.map((v) => linearToSrgb(Math.min(1, Math.max(0, v)))) };
}

/** A horizontal line kernel `length` px long (odd), as a training Kernel. */
function line(length: number, vertical = false): Kernel {
  const data = new Float32Array(length * length);
  const c = length >> 1;
  for (let i = 0; i < length; i++) data[vertical ? i * length + c : c * length + i] = 1 / length;
  return { id: `line${length}${vertical ? 'v' : 'h'}`, width: length, height: length, data };
}

function psnr(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(1 / (sum / a.length));
}

/** 8-bit quantisation, as a saved photo would be. */
const quantised = (image: FloatImage): FloatImage => ({
  ...image,
  data: image.data.map((v) => Math.round(v * 255) / 255),
});

describe('explicit PSFs from a pair', () => {
  it('gives back a known motion kernel in every region, with a reliable verdict', async () => {
    const truth = kernel('motion_arc');
    const pair = await estimatePairPsfs(photo, quantised(blurLinear(photo, truth)));
    expect([pair.rows, pair.cols]).toEqual([3, 3]);
    for (const psf of pair.cells) expect(psfSimilarity(psf, centred(truth))).toBeGreaterThan(0.8);
    expect(pair.reliability).toBe('reliable');
    expect(pair.note).toMatch(/measured reliably/);
  });

  it('finds a long blur by growing the support', async () => {
    const truth = kernel('motion_large');
    const pair = await estimatePairPsfs(photo, quantised(blurLinear(photo, truth)));
    for (const psf of pair.cells) expect(psfSimilarity(psf, centred(truth))).toBeGreaterThan(0.7);
  });

  it('tells a spatially varying blur apart region by region', async () => {
    // Left half blurred sideways, right half up and down.
    const [h, v] = [blurLinear(photo, line(15)), blurLinear(photo, line(15, true))];
    const data = Float32Array.from(h.data);
    for (let y = 0; y < photo.height; y++) {
      const from = (y * photo.width + photo.width / 2) * 3;
      data.set(v.data.subarray(from, (y + 1) * photo.width * 3), from);
    }
    const pair = await estimatePairPsfs(photo, quantised({ ...photo, data }));
    const [left, right] = [pair.cells[3], pair.cells[5]] as [Psf, Psf];
    expect(psfSimilarity(left, kernelToPsf(line(15)))).toBeGreaterThan(0.8);
    expect(psfSimilarity(right, kernelToPsf(line(15, true)))).toBeGreaterThan(0.8);
    expect(psfSimilarity(left, right)).toBeLessThan(0.5);
  });

  it('gives a point and says there is no blur for an unblurred pair', async () => {
    const pair = await estimatePairPsfs(photo, photo);
    for (const psf of pair.cells) expect(Math.max(...psf.weights)).toBeGreaterThan(0.9);
    expect(pair.note).toMatch(/No blur was found/);
  });

  it('fails on two different scenes, saying why', async () => {
    const flipped = { ...photo, data: Float32Array.from(photo.data).reverse() };
    const pair = await estimatePairPsfs(photo, flipped);
    expect(pair.reliability).toBe('failed');
    expect(pair.note).toMatch(/not look like a blurred copy/);
  });
});

describe('transfer with explicit PSFs', () => {
  it('reproduces a known blur on another photo', async () => {
    const truth = kernel('motion_line');
    const target = { ...photo, data: Float32Array.from(photo.data).reverse() };
    const expected = blurLinear(target, truth);
    const blurred = await blurWithPsfs(target, { rows: 1, cols: 1, cells: [kernelToPsf(truth)] });
    const measured = await estimatePairPsfs(photo, quantised(blurLinear(photo, truth)));
    const transferred = await blurWithPsfs(target, measured);
    expect(psnr(blurred.data, expected.data)).toBeGreaterThan(45);
    expect(psnr(transferred.data, expected.data)).toBeGreaterThan(35);
  });

  it('varies the blur over the frame, blending between region centres', async () => {
    const [h, v] = [line(15), line(15, true)];
    const blurred = await blurWithPsfs(photo, { rows: 1, cols: 2, cells: [h, v].map(kernelToPsf) });
    const [sideways, upAndDown] = [blurLinear(photo, h), blurLinear(photo, v)];
    /** The columns [from, to) of an image's rows. */
    const columns = (image: FloatImage, from: number, to: number) => {
      const out: number[] = [];
      for (let y = 0; y < image.height; y++)
        out.push(...image.data.subarray((y * image.width + from) * 3, (y * image.width + to) * 3));
      return Float32Array.from(out);
    };
    // Each region's own blur up to its centre (a quarter of the width), a mix of both between the centres.
    expect(psnr(columns(blurred, 0, 200), columns(sideways, 0, 200))).toBeGreaterThan(45);
    expect(psnr(columns(blurred, 600, 800), columns(upAndDown, 600, 800))).toBeGreaterThan(45);
    const middle = columns(blurred, 395, 405);
    expect(psnr(middle, columns(sideways, 395, 405))).toBeLessThan(40);
    expect(psnr(middle, columns(upAndDown, 395, 405))).toBeLessThan(40);
  });
});
