// Fast mode end to end on synthetic camera shake of known kernels: the kernel it finds, the gain, where the
// result sits, and what it says when there is no motion blur to find. Quality over many pairs is measured by
// `npm run bench:deblur`; these bounds only catch a broken estimator.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tierPair } from '../../src/bench/tiers';
import type { JobContext } from '../../src/engine/core/progress';
import type { FloatImage } from '../../src/engine/core/tiling';
import { deltaPsf, downscale, psfSimilarity, ScaleSolver } from '../../src/engine/deblur/blind-kernel';
import { blurExtent, FAST_DEFAULTS, fastDeblur, reliability } from '../../src/engine/deblur/fast-mode';
import { bestShift, errorUpToShift } from '../../src/engine/deblur/image-ops';
import { readPhoto } from '../../src/engine/image';
import { kernelToPsf, Rng, shakeKernel, type Kernel } from '../../src/engine/training';
import { HAS_SHARED_DATA, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';
import { blurLikeACamera, writeLargePhoto } from '../helpers/test-images';

const SIZE = 512;
const ctx: JobContext = { signal: new AbortController().signal, progress: () => undefined };

/** A straight blur of `length` px at `angle`: symmetric, so its centroid is its centre. */
function lineKernel(length: number, angle: number): Kernel {
  const side = (length + 2) | 1;
  const c = side >> 1;
  const data = new Float32Array(side * side);
  for (let i = 0; i <= 200; i++) {
    const t = (i / 200 - 0.5) * (length - 1);
    const x = c + t * Math.cos(angle);
    const y = c + t * Math.sin(angle);
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const [ax, ay] = [x - x0, y - y0];
    data[y0 * side + x0] += (1 - ax) * (1 - ay);
    data[y0 * side + x0 + 1] += ax * (1 - ay);
    data[(y0 + 1) * side + x0] += (1 - ax) * ay;
    data[(y0 + 1) * side + x0 + 1] += ax * ay;
  }
  const total = data.reduce((a, b) => a + b, 0);
  return { id: 'line', width: side, height: side, data: data.map((v) => v / total) };
}

const lineKernelPsf = (length: number) => kernelToPsf(lineKernel(length, 0));

const decibels = (error: number) => 10 * Math.log10(1 / error);

describe('fast mode on synthetic camera shake', () => {
  let dir: string;
  let photo: FloatImage;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-fast-'));
    const file = path.join(dir, 'sharp.png');
    await writeLargePhoto(file, SIZE, SIZE);
    const pixels = await sharp(file).removeAlpha().raw().toBuffer();
    photo = { width: SIZE, height: SIZE, channels: 3, data: Float32Array.from(pixels, (v) => v / 255) };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // Shakes of the public sets' range (about 10-27 px), with the least similarity and gain each must reach. The
  // 27 px one has a bright knot at one end: the plain fit scattered it (similarity 0.22, +2.5 dB), the finest scale's
  // low-pass fit finds most of it (decision 0018, eighth amendment). Similarity is harsh on thin traces.
  for (const [length, similarity, least] of [
    [15, 0.6, 2],
    [21, 0.6, 2],
    [27, 0.45, 5],
  ] as const) {
    it(`finds a ${length} px shake, trusts it, and gains over the blurry photo`, async () => {
      const kernel = shakeKernel(new Rng(7, length), length);
      const truth = kernelToPsf(kernel);
      const blurry = blurLikeACamera(photo, kernel, length);
      const result = await fastDeblur(blurry, FAST_DEFAULTS, ctx);
      expect(result.reliability).toBe('reliable');
      expect(psfSimilarity(result.psf, truth)).toBeGreaterThan(similarity);
      expect(Math.abs(blurExtent(result.psf) - length)).toBeLessThan(length * 0.5);
      const gain =
        decibels(errorUpToShift(result.image, photo, truth)) - decibels(errorUpToShift(blurry, photo, truth));
      expect(gain).toBeGreaterThan(least);
    });
  }

  it('keeps the photo where it was: a symmetric blur removed leaves the result on the sharp photo', async () => {
    const blurry = blurLikeACamera(photo, lineKernel(21, Math.PI / 6), 21);
    const result = await fastDeblur(blurry, FAST_DEFAULTS, ctx);
    expect(result.reliability).toBe('reliable');
    expect(result.image).toMatchObject({ width: SIZE, height: SIZE });
    // An estimate a pixel short at one end moves its centroid by half a pixel, so the result may sit one pixel
    // off; a kernel not recentred on its centroid would move it by several.
    const { dx, dy } = bestShift(result.image, photo);
    expect(Math.max(Math.abs(dx), Math.abs(dy))).toBeLessThanOrEqual(1);
  });

  it('estimates the blur in the region it is given, wherever that lies in the photo', async () => {
    // Left half shaken sideways, right half up and down: a region chosen on the right gives the vertical blur
    // alone (the automatic window's context would mix in the left half's).
    const horizontal = lineKernel(21, 0);
    const vertical = lineKernel(21, Math.PI / 2);
    const wide: FloatImage = {
      width: 2 * SIZE,
      height: SIZE,
      channels: 3,
      data: new Float32Array(2 * SIZE * SIZE * 3),
    };
    const left = blurLikeACamera(photo, horizontal, 1);
    const right = blurLikeACamera(photo, vertical, 2);
    for (let y = 0; y < SIZE; y++) {
      wide.data.set(left.data.subarray(y * SIZE * 3, (y + 1) * SIZE * 3), y * 2 * SIZE * 3);
      wide.data.set(right.data.subarray(y * SIZE * 3, (y + 1) * SIZE * 3), (y * 2 + 1) * SIZE * 3);
    }
    const roi = { x: SIZE + 32, y: 32, width: SIZE - 64, height: SIZE - 64 };
    const result = await fastDeblur(wide, { ...FAST_DEFAULTS, roi }, ctx);
    const similarity = (kernel: Kernel) => psfSimilarity(result.psf, kernelToPsf(kernel));
    expect(similarity(vertical)).toBeGreaterThan(0.6);
    expect(similarity(vertical) - similarity(horizontal)).toBeGreaterThan(0.3);
  });

  it('never calls an estimate reliable where there is no motion blur (noise) or none to see (a flat photo)', async () => {
    const rng = new Rng(3);
    const noise: FloatImage = {
      width: 256,
      height: 256,
      channels: 3,
      data: Float32Array.from({ length: 256 * 256 * 3 }, () =>
        Math.min(1, Math.max(0, 0.5 + 0.2 * rng.normal())),
      ),
    };
    const flat: FloatImage = { ...noise, data: noise.data.map((v) => 0.5 + (v - 0.5) * 0.02) };
    for (const image of [noise, flat]) {
      const result = await fastDeblur(image, FAST_DEFAULTS, ctx);
      expect(result.reliability).not.toBe('reliable');
    }
  });

  it('labels by the estimate: a point, a blob, a kernel cut by its support, or scales that disagree are not reliable', () => {
    const good = { psf: lineKernelPsf(15), consistency: 0.95, fill: 0.05, edgeMass: 0 };
    expect(reliability(good)).toBe('reliable');
    expect(reliability({ ...good, fill: 0.3 })).toBe('failed');
    expect(reliability({ ...good, consistency: 0.4 })).toBe('failed');
    expect(reliability({ ...good, edgeMass: 0.2 })).toBe('uncertain');
    expect(reliability({ ...good, consistency: 0.7 })).toBe('uncertain');
    // Scales that agree a little less on a compact trace are still trusted (decision 0018).
    expect(reliability({ ...good, consistency: 0.8 })).toBe('reliable');
    expect(reliability({ ...good, psf: { size: 3, weights: [0, 0, 0, 0, 1, 0, 0, 0, 0] } })).toBe('failed');
    // A point with a faint 12 px smear (41 % in one tap, as found on a sharp façade) is no motion blur.
    const smear = lineKernelPsf(12);
    const centre = (smear.size >> 1) * (smear.size + 1);
    const pointed = { ...smear, weights: smear.weights.map((w, i) => (i === centre ? w + 0.35 : w)) };
    expect(reliability({ ...good, psf: pointed })).toBe('failed');
    // A 25 px disc of taps in a 75 px support: compact enough to pass the fill test, but an area, not a path.
    const disc = {
      size: 75,
      weights: Array.from({ length: 75 * 75 }, (_, i) =>
        Number(Math.hypot((i % 75) - 37, Math.floor(i / 75) - 37) <= 12),
      ),
    };
    expect(reliability({ ...good, psf: disc, fill: 0.08 })).toBe('failed');
  });

  it.skipIf(!HAS_SHARED_DATA)(
    `leaves a sharp photo as it is: a façade's repeated windows are no blur ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`,
    async () => {
      // The sharp photo of the bench's clean pair 1 (256 px): the estimate used to be a reliable 12 px horizontal
      // smear, and its removal put the result at 22 dB from the photo (decision 0018, sixth amendment).
      const { sharp: photo } = await tierPair('clean', 1, 256, SHARED_DATA);
      const result = await fastDeblur(photo, FAST_DEFAULTS, ctx);
      expect(result.reliability).toBe('failed');
      expect(result.image.data).toEqual(photo.data);
    },
  );

  it.skipIf(!HAS_SHARED_DATA)(
    `leaves a blurred face with few edges as it is: the second estimate does not rescue a failed first ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`,
    async () => {
      // A real blurry photo (256 px): the first estimate fails; the second, on the window's inner edges, found a
      // scattered 55 px blob whose scales agreed, and its removal tore the face (decision 0018, tenth amendment).
      const photo = await readPhoto(path.join(SHARED_DATA, 'real-blurry', 'face01.png'));
      const result = await fastDeblur(photo, FAST_DEFAULTS, ctx);
      expect(result.reliability).toBe('failed');
      expect(result.image.data).toEqual(photo.data);
    },
  );
});

describe("the estimator's image pyramid", () => {
  it('downscales onto an even grid: a ramp keeps its slope at a ratio of 1.41', () => {
    // Whole-pixel blocks (1, 2, 1, 1, 2... wide) move samples by up to half a pixel: steps of 1 to 1.5 where
    // they should be 1.41. Partial pixels counted by their share keep every step within 0.17 of it (the ramp's
    // pixels are a staircase, so a box average cannot make the steps exactly even).
    const width = 181;
    const ramp = { width, height: 4, data: Float64Array.from({ length: width * 4 }, (_, i) => i % width) };
    const small = downscale(ramp, 128, 4);
    for (let x = 0; x + 1 < 128; x++)
      expect(Math.abs(small.data[x + 1]! - small.data[x]! - width / 128)).toBeLessThan(0.17);
  });
});

describe("the kernel fit's edges", () => {
  it("leaves the periodic extension and a border band out when asked for the window's inner edges", () => {
    // A window of random texture, extended to 128 x 64 for its FFTs, and its latent image over the whole plane.
    const rng = new Rng(3);
    const window = {
      width: 100,
      height: 50,
      data: Float64Array.from({ length: 100 * 50 }, () => rng.next()),
    };
    const solver = new ScaleSolver(window, 128, 64);
    const latent = solver.latent(deltaPsf(5), 1e-3);
    const edgesAlongX = (margin: number) => {
      const [[re, im]] = solver.salientGradients(latent, { threshold: null, count: 1e6 }, margin);
      const gx = new Float64Array(128 * 64);
      solver.fft.inverse(re, im, gx);
      // Zero up to the single-precision transforms' rounding.
      const tolerance = 1e-4 * Math.max(...gx.map(Math.abs));
      return (x: number, y: number) => Math.abs(gx[y * 128 + x]!) > tolerance;
    };
    const all = edgesAlongX(0);
    const inner = edgesAlongX(8);
    let extension = 0;
    let innerKept = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 128; x++) {
        if (x >= 100 || y >= 50) extension += Number(all(x, y));
        if (x >= 8 && x < 92 && y >= 8 && y < 42) innerKept += Number(inner(x, y) === all(x, y));
        else expect(inner(x, y)).toBe(false);
      }
    }
    // The plain fit sees the extension's edges; the inner fit keeps the same edges as it inside.
    expect(extension).toBeGreaterThan(1000);
    expect(innerKept).toBe(84 * 34);
  });
});
