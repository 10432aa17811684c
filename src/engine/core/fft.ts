// Radix-2 complex FFTs on typed arrays. TensorFlow.js's wasm backend has no FFT kernels, and the
// frequency-domain work here (PSF fitting, deconvolution) runs on power-of-two tiles anyway.

/** A complex 2D array of `height` rows and `width` columns, split into real and imaginary planes. */
export interface ComplexImage {
  width: number;
  height: number;
  re: Float64Array;
  im: Float64Array;
}

export function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Bit-reversal permutation and twiddles exp(-2 pi i k / n) of a radix-2 FFT of size n, cached. */
export interface FftPlan {
  bitReverse: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

const plans = new Map<number, FftPlan>();

export function fftPlan(n: number): FftPlan {
  let cached = plans.get(n);
  if (cached) return cached;
  if (!isPowerOfTwo(n)) throw new RangeError(`FFT size ${n} is not a power of two`);
  const bits = Math.log2(n);
  const bitReverse = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitReverse[i] = r;
  }
  const cos = new Float64Array(n / 2);
  const sin = new Float64Array(n / 2);
  for (let i = 0; i < n / 2; i++) {
    cos[i] = Math.cos((-2 * Math.PI * i) / n);
    sin[i] = Math.sin((-2 * Math.PI * i) / n);
  }
  cached = { bitReverse, cos, sin };
  plans.set(n, cached);
  return cached;
}

/** In-place FFT of `n` complex values read with `stride` from `offset`; `inverse` includes the 1/n scale. */
function fft1d(
  re: Float64Array,
  im: Float64Array,
  offset: number,
  stride: number,
  n: number,
  inverse: boolean,
  scratchRe: Float64Array,
  scratchIm: Float64Array,
): void {
  const { bitReverse, cos, sin } = fftPlan(n);
  for (let i = 0; i < n; i++) {
    const j = offset + bitReverse[i] * stride;
    scratchRe[i] = re[j];
    scratchIm[i] = im[j];
  }
  const sign = inverse ? -1 : 1;
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sign * sin[k * step];
        const a = start + k;
        const b = a + half;
        const br = scratchRe[b] * wr - scratchIm[b] * wi;
        const bi = scratchRe[b] * wi + scratchIm[b] * wr;
        scratchRe[b] = scratchRe[a] - br;
        scratchIm[b] = scratchIm[a] - bi;
        scratchRe[a] = scratchRe[a] + br;
        scratchIm[a] = scratchIm[a] + bi;
      }
    }
  }
  const scale = inverse ? 1 / n : 1;
  for (let i = 0; i < n; i++) {
    const j = offset + i * stride;
    re[j] = scratchRe[i] * scale;
    im[j] = scratchIm[i] * scale;
  }
}

/** In-place 2D FFT (rows, then columns). Both sides must be powers of two. */
export function fft2d(image: ComplexImage, inverse = false): ComplexImage {
  const { width, height, re, im } = image;
  const scratchRe = new Float64Array(Math.max(width, height));
  const scratchIm = new Float64Array(Math.max(width, height));
  for (let y = 0; y < height; y++) fft1d(re, im, y * width, 1, width, inverse, scratchRe, scratchIm);
  for (let x = 0; x < width; x++) fft1d(re, im, x, width, height, inverse, scratchRe, scratchIm);
  return image;
}

/** The 2D spectrum of a real image. */
export function realToSpectrum(data: ArrayLike<number>, width: number, height: number): ComplexImage {
  const re = Float64Array.from(data);
  if (re.length !== width * height) throw new RangeError('image size does not match its data');
  return fft2d({ width, height, re, im: new Float64Array(width * height) });
}

/** The real part of the inverse transform of `spectrum` (which is modified). */
export function spectrumToReal(spectrum: ComplexImage): Float64Array {
  return fft2d(spectrum, true).re;
}

/**
 * The spectrum of a small kernel (row-major, kw x kh) embedded in a width x height image so that
 * multiplying spectra performs circular *correlation* with the kernel centred at (kw>>1, kh>>1):
 * out(x, y) = sum k(i, j) * in(x + i - cx, y + j - cy) — MATLAB's imfilter convention.
 */
export function kernelSpectrum(
  kernel: ArrayLike<number>,
  kw: number,
  kh: number,
  width: number,
  height: number,
) {
  const re = new Float64Array(width * height);
  const cx = kw >> 1;
  const cy = kh >> 1;
  for (let j = 0; j < kh; j++) {
    for (let i = 0; i < kw; i++) {
      // Correlation = convolution with the kernel flipped: tap (i, j) lands at offset (cx - i, cy - j).
      const x = (((cx - i) % width) + width) % width;
      const y = (((cy - j) % height) + height) % height;
      re[y * width + x] += kernel[j * kw + i];
    }
  }
  return fft2d({ width, height, re, im: new Float64Array(width * height) });
}
