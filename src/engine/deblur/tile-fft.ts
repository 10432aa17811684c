// 2D FFTs for deconvolution tiles, about twice as fast as dsp/fft's fft2d: rows are transformed in place
// on contiguous memory and the column pass runs on a transposed copy. Spectra stay transposed (row index =
// horizontal frequency): the deconvolution only multiplies spectra pointwise, and every spectrum it uses
// comes from this class, so the layout never matters and saves a transpose per transform.
import { isPowerOfTwo } from '../dsp/fft';

interface Plan {
  bitReverse: Uint32Array;
  cos: Float64Array;
  sin: Float64Array;
}

function makePlan(n: number): Plan {
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
    cos[i] = Math.cos((2 * Math.PI * i) / n);
    sin[i] = -Math.sin((2 * Math.PI * i) / n);
  }
  return { bitReverse, cos, sin };
}

/** Unscaled in-place FFTs of `rows` contiguous rows of length n; `sign` -1 gives the inverse direction. */
function fftRows(
  re: Float64Array,
  im: Float64Array,
  n: number,
  rows: number,
  plan: Plan,
  sign: number,
): void {
  const { bitReverse, cos, sin } = plan;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let i = 0; i < n; i++) {
      const j = bitReverse[i];
      if (j > i) {
        const tr = re[o + i];
        re[o + i] = re[o + j];
        re[o + j] = tr;
        const ti = im[o + i];
        im[o + i] = im[o + j];
        im[o + j] = ti;
      }
    }
    for (let i = o; i < o + n; i += 2) {
      const ar = re[i];
      const ai = im[i];
      re[i] = ar + re[i + 1];
      im[i] = ai + im[i + 1];
      re[i + 1] = ar - re[i + 1];
      im[i + 1] = ai - im[i + 1];
    }
    for (let size = 4; size <= n; size *= 2) {
      const half = size >> 1;
      const step = n / size;
      for (let start = o; start < o + n; start += size) {
        for (let k = 0, t = 0; k < half; k++, t += step) {
          const wr = cos[t];
          const wi = sign * sin[t];
          const a = start + k;
          const b = a + half;
          const br = re[b] * wr - im[b] * wi;
          const bi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - br;
          im[b] = im[a] - bi;
          re[a] += br;
          im[a] += bi;
        }
      }
    }
  }
}

function transpose(src: Float64Array, dst: Float64Array, width: number, height: number): void {
  const block = 32;
  for (let y0 = 0; y0 < height; y0 += block) {
    const y1 = Math.min(height, y0 + block);
    for (let x0 = 0; x0 < width; x0 += block) {
      const x1 = Math.min(width, x0 + block);
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) dst[x * height + y] = src[y * width + x];
      }
    }
  }
}

/** Forward and inverse 2D FFTs of one width x height (powers of two) tile, with reusable scratch space. */
export class TileFft {
  private readonly rowPlan: Plan;
  private readonly columnPlan: Plan;
  private readonly scratchRe: Float64Array;
  private readonly scratchIm: Float64Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rowPlan = makePlan(width);
    this.columnPlan = height === width ? this.rowPlan : makePlan(height);
    this.scratchRe = new Float64Array(width * height);
    this.scratchIm = new Float64Array(width * height);
  }

  /** Spatial (row-major) to transposed spectrum, in place. */
  forward(re: Float64Array, im: Float64Array): void {
    const { width, height, scratchRe, scratchIm } = this;
    fftRows(re, im, width, height, this.rowPlan, 1);
    transpose(re, scratchRe, width, height);
    transpose(im, scratchIm, width, height);
    fftRows(scratchRe, scratchIm, height, width, this.columnPlan, 1);
    re.set(scratchRe);
    im.set(scratchIm);
  }

  /** Transposed spectrum back to spatial (row-major), in place, scaled so inverse(forward(x)) = x. */
  inverse(re: Float64Array, im: Float64Array): void {
    const { width, height, scratchRe, scratchIm } = this;
    fftRows(re, im, height, width, this.columnPlan, -1);
    transpose(re, scratchRe, height, width);
    transpose(im, scratchIm, height, width);
    fftRows(scratchRe, scratchIm, width, height, this.rowPlan, -1);
    const scale = 1 / (width * height);
    for (let i = 0; i < re.length; i++) {
      re[i] = scratchRe[i] * scale;
      im[i] = scratchIm[i] * scale;
    }
  }
}
