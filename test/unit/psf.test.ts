import { describe, expect, it } from 'vitest';
import {
  applyPsf,
  embedPsf,
  fitPsf,
  gridRegions,
  meanPsf,
  trimPsf,
  type Psf,
} from '../../src/engine/kernels/psf';

function texture(side: number, seed = 3): Float64Array {
  let s = seed;
  const noise = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const out = new Float64Array(side * side);
  for (let i = 0; i < out.length; i++) out[i] = noise();
  return out;
}

describe('PSF fitting', () => {
  it('recovers an asymmetric motion kernel from a sharp/blurred pair, in the imfilter orientation', () => {
    const side = 128;
    const size = 15;
    const weights = new Array<number>(size * size).fill(0);
    // An L-shaped trace: right along the centre row, then down: orientation errors would show.
    for (let i = 7; i < 13; i++) weights[7 * size + i] = 1;
    for (let j = 8; j < 11; j++) weights[j * size + 12] = 1;
    const total = weights.reduce((a, b) => a + b, 0);
    const truth: Psf = { size, weights: weights.map((w) => w / total) };
    const sharp = texture(side);
    const blurry = applyPsf(sharp, side, truth);
    const fitted = fitPsf(sharp, blurry, side, size, 1e-4);
    let error = 0;
    for (let i = 0; i < size * size; i++) error += Math.abs(fitted.weights[i]! - truth.weights[i]!);
    expect(error).toBeLessThan(0.25); // L1 distance; the border taper costs a little
    expect(fitted.weights[7 * size + 12]!).toBeGreaterThan(0.05);
    expect(fitted.weights[7 * size + 2]!).toBeLessThan(0.01); // the mirror image is empty
  });

  it('gives a centred delta for an unblurred pair', () => {
    const sharp = texture(64, 9);
    const fitted = fitPsf(sharp, sharp, 64, 9, 1e-4);
    expect(fitted.weights[4 * 9 + 4]).toBeGreaterThan(0.9);
  });
});

describe('PSF fitting on a flat window', () => {
  it('gives a centred delta, never NaN', () => {
    const flat = new Float64Array(64 * 64).fill(0.5);
    const fitted = fitPsf(flat, flat, 64, 9);
    expect(fitted.weights.every(Number.isFinite)).toBe(true);
    expect(fitted.weights[4 * 9 + 4]).toBe(1);
  });
});

describe('PSF helpers for the measured PSFs', () => {
  it('trims a PSF to the centred square of its non-zero taps', () => {
    // A 2-tap trace right of the centre of a 7 x 7 support: the square reaching 2 taps out remains.
    const weights = new Array<number>(49).fill(0);
    weights[3 * 7 + 4] = 0.5;
    weights[3 * 7 + 5] = 0.5;
    const trimmed = trimPsf({ size: 7, weights });
    expect(trimmed.size).toBe(5);
    expect(trimmed.weights[2 * 5 + 3]).toBe(0.5);
    expect(trimmed.weights[2 * 5 + 4]).toBe(0.5);
    expect(trimPsf({ size: 5, weights: new Array<number>(25).fill(0) }).size).toBe(1);
  });

  it('averages PSFs of different sizes, centred', () => {
    const point: Psf = { size: 1, weights: [1] };
    const line: Psf = { size: 3, weights: [0, 0, 0, 0.5, 0, 0.5, 0, 0, 0] };
    expect(meanPsf([point, line])).toEqual({ size: 3, weights: [0, 0, 0, 0.25, 0.5, 0.25, 0, 0, 0] });
  });

  it('embeds a PSF centred in a larger support, and refuses a smaller one', () => {
    const line: Psf = { size: 3, weights: [0, 0, 0, 0.5, 0, 0.5, 0, 0, 0] };
    const embedded = embedPsf(line, 5);
    expect(embedded.size).toBe(5);
    expect(embedded.weights.filter((w) => w > 0)).toHaveLength(2);
    expect(embedded.weights[2 * 5 + 1]).toBe(0.5);
    expect(embedded.weights[2 * 5 + 3]).toBe(0.5);
    expect(trimPsf(embedded)).toEqual(line);
    expect(() => embedPsf(line, 1)).toThrow(RangeError);
  });

  it('cuts a frame into equal regions that cover it once', () => {
    const regions = gridRegions(2, 3, { width: 1280, height: 721 });
    expect(regions).toHaveLength(6);
    expect(regions[0]).toEqual({ x: 0, y: 0, width: 427, height: 361 });
    expect(regions[5]).toEqual({ x: 853, y: 361, width: 427, height: 360 });
    expect(regions.reduce((sum, r) => sum + r.width * r.height, 0)).toBe(1280 * 721);
  });
});
