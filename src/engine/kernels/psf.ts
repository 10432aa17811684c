// An explicit point-spread function for what F does with one kernel code: the small kernel p that best
// explains F(x, k) as a linear blur of x (least squares in the frequency domain, Tikhonov-regularised).
// It is what the UI draws as the blur trace, and what classical deconvolution can use.
import { kernelSpectrum, realToSpectrum, spectrumToReal } from '../core/fft';

export interface Psf {
  /** Odd side length; the PSF is centred. */
  size: number;
  /** Row-major, non-negative, sums to 1; blurry = correlate(sharp, psf) (MATLAB imfilter convention). */
  weights: number[];
}

/** Rec. 709 luma of interleaved RGB. */
export function luma(rgb: Float32Array, pixels: number): Float64Array {
  const out = new Float64Array(pixels);
  for (let i = 0; i < pixels; i++)
    out[i] = 0.2126 * rgb[3 * i] + 0.7152 * rgb[3 * i + 1] + 0.0722 * rgb[3 * i + 2];
  return out;
}

/** Removes the mean and tapers the borders (Hann), so the periodic FFT sees no edge jumps. */
export function taper(plane: Float64Array, width: number, height: number): Float64Array {
  let mean = 0;
  for (const v of plane) mean += v;
  mean /= plane.length;
  const out = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    const wy = 0.5 - 0.5 * Math.cos((2 * Math.PI * (y + 0.5)) / height);
    for (let x = 0; x < width; x++) {
      const wx = 0.5 - 0.5 * Math.cos((2 * Math.PI * (x + 0.5)) / width);
      out[y * width + x] = (plane[y * width + x] - mean) * wx * wy;
    }
  }
  return out;
}

/**
 * Least-squares PSF from pairs of (sharp, blurry) planes that share it: K = sum Y conj(X) / (sum |X|^2 + lambda),
 * the correlation-kernel spectrum, read back as a `size` x `size` non-negative, normalised PSF.
 */
function solvePsf(
  pairs: Array<[Float64Array, Float64Array]>,
  side: number,
  size: number,
  regularisation: number,
): Psf {
  const n = side * side;
  const numeratorRe = new Float64Array(n);
  const numeratorIm = new Float64Array(n);
  const denominator = new Float64Array(n);
  for (const [sharp, blurry] of pairs) {
    const x = realToSpectrum(sharp, side, side);
    const y = realToSpectrum(blurry, side, side);
    for (let i = 0; i < n; i++) {
      numeratorRe[i] += y.re[i] * x.re[i] + y.im[i] * x.im[i];
      numeratorIm[i] += y.im[i] * x.re[i] - y.re[i] * x.im[i];
      denominator[i] += x.re[i] ** 2 + x.im[i] ** 2;
    }
  }
  let power = 0;
  for (const v of denominator) power += v;
  // A flat window (no texture) has no power: keep the division defined; the result is then a delta.
  const lambda = (regularisation * power) / n || 1e-12;
  for (let i = 0; i < n; i++) {
    numeratorRe[i] /= denominator[i] + lambda;
    numeratorIm[i] /= denominator[i] + lambda;
  }
  const spatial = spectrumToReal({ width: side, height: side, re: numeratorRe, im: numeratorIm });
  // kernelSpectrum puts tap (i, j) at offset (c - i, c - j): read it back the same way.
  const c = size >> 1;
  const weights = new Array<number>(size * size);
  let sum = 0;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const px = (((c - i) % side) + side) % side;
      const py = (((c - j) % side) + side) % side;
      const v = Math.max(0, spatial[py * side + px]);
      weights[j * size + i] = v;
      sum += v;
    }
  }
  if (!(sum > 0)) {
    weights.fill(0);
    weights[c * size + c] = 1;
    return { size, weights };
  }
  return { size, weights: weights.map((v) => v / sum) };
}

/**
 * Fits a `size` x `size` PSF with blurry ≈ correlate(sharp, psf). Inputs are luma planes of a square,
 * power-of-two region. `regularisation` is relative to the sharp image's mean spectral power.
 */
export function fitPsf(
  sharp: Float64Array,
  blurry: Float64Array,
  side: number,
  size: number,
  regularisation = 1e-2,
): Psf {
  return solvePsf([[taper(sharp, side, side), taper(blurry, side, side)]], side, size, regularisation);
}

/** Blurs a luma plane with a PSF (circularly; for tests and previews). */
export function applyPsf(plane: Float64Array, side: number, psf: Psf): Float64Array {
  const image = realToSpectrum(plane, side, side);
  const k = kernelSpectrum(psf.weights, psf.size, psf.size, side, side);
  for (let i = 0; i < image.re.length; i++) {
    const re = image.re[i] * k.re[i] - image.im[i] * k.im[i];
    image.im[i] = image.re[i] * k.im[i] + image.im[i] * k.re[i];
    image.re[i] = re;
  }
  return spectrumToReal(image);
}

/**
 * The PSF of the same blur on a photo scaled by `factor` (< 1): each tap's mass is spread bilinearly onto
 * the smaller grid, so thin traces keep their mass (sampling would miss them).
 */
export function shrinkPsf(psf: Psf, factor: number): Psf {
  const size = Math.max(1, Math.ceil(psf.size * factor)) | 1;
  const weights = new Array<number>(size * size).fill(0);
  const c0 = psf.size >> 1;
  const c1 = size >> 1;
  for (let y = 0; y < psf.size; y++) {
    for (let x = 0; x < psf.size; x++) {
      const w = psf.weights[y * psf.size + x]!;
      if (w === 0) continue;
      const fx = (x - c0) * factor + c1;
      const fy = (y - c0) * factor + c1;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      for (const [xx, wx] of [
        [x0, 1 - (fx - x0)],
        [x0 + 1, fx - x0],
      ] as const) {
        for (const [yy, wy] of [
          [y0, 1 - (fy - y0)],
          [y0 + 1, fy - y0],
        ] as const) {
          if (xx >= 0 && yy >= 0 && xx < size && yy < size) weights[yy * size + xx]! += w * wx * wy;
        }
      }
    }
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return { size, weights: weights.map((w) => w / total) };
}

/**
 * The box holding a PSF's taps of at least 2 % of its peak (fainter ones are estimation noise), as offsets
 * from its centre: left/top negative, right/bottom positive.
 */
export function psfBounds(weights: ArrayLike<number>, size: number) {
  const centre = size >> 1;
  let peak = 0;
  for (let i = 0; i < weights.length; i++) peak = Math.max(peak, weights[i]);
  const bounds = { left: 0, right: 0, top: 0, bottom: 0 };
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      if (weights[j * size + i] < 0.02 * peak) continue;
      bounds.left = Math.min(bounds.left, i - centre);
      bounds.right = Math.max(bounds.right, i - centre);
      bounds.top = Math.min(bounds.top, j - centre);
      bounds.bottom = Math.max(bounds.bottom, j - centre);
    }
  }
  return bounds;
}

/** A PSF's centre of mass as an offset from its centre, in taps. */
export function psfCentroid(psf: Psf): { x: number; y: number } {
  const c = psf.size >> 1;
  let total = 0;
  let x = 0;
  let y = 0;
  psf.weights.forEach((w, i) => {
    total += w;
    x += w * ((i % psf.size) - c);
    y += w * (Math.floor(i / psf.size) - c);
  });
  return total > 0 ? { x: x / total, y: y / total } : { x: 0, y: 0 };
}

/**
 * The PSF cut to the smallest centred square that holds all its non-zero taps (at least 1 x 1): what is
 * stored and convolved, since a measured trace rarely fills the support it was looked for in.
 */
export function trimPsf(psf: Psf): Psf {
  const c = psf.size >> 1;
  let reach = 0;
  psf.weights.forEach((w, i) => {
    if (w > 0) reach = Math.max(reach, Math.abs((i % psf.size) - c), Math.abs(Math.floor(i / psf.size) - c));
  });
  const size = 2 * reach + 1;
  const weights = new Array<number>(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++)
      weights[y * size + x] = psf.weights[(y + c - reach) * psf.size + x + c - reach]!;
  }
  return { size, weights };
}

/** The PSF centred in a `size` x `size` support at least as large as its own, the new taps zero. */
export function embedPsf(psf: Psf, size: number): Psf {
  if (size < psf.size) throw new RangeError(`a ${psf.size} px PSF does not fit in ${size} px`);
  const weights = new Array<number>(size * size).fill(0);
  const offset = (size - psf.size) >> 1;
  for (let y = 0; y < psf.size; y++) {
    for (let x = 0; x < psf.size; x++)
      weights[(y + offset) * size + x + offset] = psf.weights[y * psf.size + x]!;
  }
  return { size, weights };
}

/** The average of several PSFs, each embedded centred at the largest side. */
export function meanPsf(psfs: Psf[]): Psf {
  const size = Math.max(...psfs.map((p) => p.size));
  const weights = new Array<number>(size * size).fill(0);
  for (const psf of psfs) embedPsf(psf, size).weights.forEach((w, i) => (weights[i]! += w / psfs.length));
  return { size, weights };
}

/** A frame cut into `rows` x `cols` equal regions (integer edges), row-major. */
export function gridRegions(
  rows: number,
  cols: number,
  frame: { width: number; height: number },
): { x: number; y: number; width: number; height: number }[] {
  const edge = (index: number, count: number, side: number) => Math.round((index * side) / count);
  const regions = [];
  for (let r = 0; r < rows; r++) {
    const y = edge(r, rows, frame.height);
    for (let c = 0; c < cols; c++) {
      const x = edge(c, cols, frame.width);
      regions.push({
        x,
        y,
        width: edge(c + 1, cols, frame.width) - x,
        height: edge(r + 1, rows, frame.height) - y,
      });
    }
  }
  return regions;
}
