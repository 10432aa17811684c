import { describe, expect, it } from 'vitest';
import { fft2d, kernelSpectrum, realToSpectrum, spectrumToReal } from '../../src/engine/core/fft';
import { MIN_TILE_FFT, RealTileFft, tileFftSize } from '../../src/engine/deblur/tile-fft';

function randomImage(n: number, seed = 1): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => (s = (s * 16807) % 2147483647) / 2147483647);
}

describe('fft', () => {
  it('inverts exactly', () => {
    const data = randomImage(32 * 16);
    const back = spectrumToReal(realToSpectrum(data, 32, 16));
    for (let i = 0; i < data.length; i++) expect(back[i]).toBeCloseTo(data[i]!, 12);
  });

  it('matches a direct DFT', () => {
    const w = 8;
    const h = 4;
    const data = randomImage(w * h, 7);
    const spectrum = realToSpectrum(data, w, h);
    for (const [u, v] of [
      [1, 0],
      [3, 2],
      [7, 3],
    ] as const) {
      let re = 0;
      let im = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const angle = -2 * Math.PI * ((u * x) / w + (v * y) / h);
          re += data[y * w + x]! * Math.cos(angle);
          im += data[y * w + x]! * Math.sin(angle);
        }
      }
      expect(spectrum.re[v * w + u]).toBeCloseTo(re, 10);
      expect(spectrum.im[v * w + u]).toBeCloseTo(im, 10);
    }
  });

  it('multiplying by a kernel spectrum correlates (imfilter convention)', () => {
    const w = 16;
    const h = 16;
    const image = new Float64Array(w * h);
    image[8 * w + 8] = 1; // a single bright pixel
    // An asymmetric 3x3 kernel: correlating a point with it gives the kernel rotated by 180 degrees.
    const kernel = [0, 0, 0, 0, 0, 1, 0, 0, 0]; // weight at (+1, 0): out(x) = in(x + 1)
    const spectrum = realToSpectrum(image, w, h);
    const k = kernelSpectrum(kernel, 3, 3, w, h);
    for (let i = 0; i < w * h; i++) {
      const re = spectrum.re[i]! * k.re[i]! - spectrum.im[i]! * k.im[i]!;
      const im = spectrum.re[i]! * k.im[i]! + spectrum.im[i]! * k.re[i]!;
      spectrum.re[i] = re;
      spectrum.im[i] = im;
    }
    const out = spectrumToReal(spectrum);
    expect(out[8 * w + 7]).toBeCloseTo(1, 10); // in(7 + 1) = 1
    expect(out[8 * w + 8]).toBeCloseTo(0, 10);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => fft2d({ width: 12, height: 8, re: new Float64Array(96), im: new Float64Array(96) })).toThrow(
      /not a power of two/,
    );
  });
});

describe('RealTileFft (PFFFT in WebAssembly)', () => {
  it('gives the half spectrum of the double-precision FFT, transposed, and inverts', () => {
    const w = 64;
    const h = 32;
    const data = randomImage(w * h, 3);
    const reference = realToSpectrum(data, w, h);
    const tile = new RealTileFft(w, h);
    expect(tile.spectrumSize).toBe((w / 2 + 1) * h);
    const re = new Float64Array(tile.spectrumSize);
    const im = new Float64Array(tile.spectrumSize);
    tile.forward(data, re, im);
    let worst = 0;
    for (let u = 0; u <= w / 2; u++) {
      for (let v = 0; v < h; v++) {
        worst = Math.max(
          worst,
          Math.abs(re[u * h + v]! - reference.re[v * w + u]!),
          Math.abs(im[u * h + v]! - reference.im[v * w + u]!),
        );
      }
    }
    // Single precision on sums of up to 2048 values in [0, 1].
    expect(worst).toBeLessThan(2e-3);
    const back = new Float64Array(w * h);
    tile.inverse(re, im, back);
    for (let i = 0; i < data.length; i++) expect(back[i]).toBeCloseTo(data[i]!, 5);
  });

  it('pads small tiles up to the smallest size PFFFT takes', () => {
    expect(tileFftSize(5)).toBe(MIN_TILE_FFT);
    expect(tileFftSize(100)).toBe(128);
    expect(() => new RealTileFft(16, 64)).toThrow(/at least 32/);
  });
});
