// Blind estimation of one uniform blur kernel from a grey window, coarse to fine: at each scale an
// L0-gradient latent image (few, strong edges: Xu et al. 2013, Pan et al. 2014) and a kernel fitted to
// the gradients of the latent and the blurry window by conjugate gradients on the kernel's support.
// Everything is solved with periodic FFTs over the window surrounded by a smooth periodic extension. The
// estimate reports three reliability measures (consistency between the two finest scales, how much of its
// support the kernel fills, and its mass at the support's border) so that callers can refuse a failed one.
import { checkpoint } from '../core/progress';
import { psfCentroid, type Psf } from '../kernels/psf';
import { periodicExtend } from './deconvolution';
import { correlationKernelPlane, RealTileFft, tileFftSize } from './tile-fft';

export interface BlindKernelOptions {
  /** Side of the kernel at the window's resolution (odd); the longest blur looked for. */
  kernelSize: number;
  /** Side of the estimation window at every scale (the image may be larger: coarse scales see more of it). */
  window: number;
  /** Centre of the estimation window in the image; default the image's centre. */
  focus?: Point;
  /** Latent / kernel alternations per scale, and at the two finest scales. */
  iterationsPerScale: number;
  fineIterations: number;
  /** Growth of the half-quadratic weight between the latent's steps (2 in Xu et al.; larger is faster). */
  betaFactor: number;
  /** Initial weight of the L0 gradient prior; divided by 1.1 after every alternation, down to 1e-4. */
  lambda: number;
  /** Tikhonov weight of the kernel fit (per unit of the gradients' summed squares). */
  kernelWeight: number;
  /** Taps below this fraction of the kernel's peak are dropped after every fit. */
  tapFloor: number;
  /**
   * Standard deviation (px) of a Gaussian low-pass that weights the finest scale's kernel fit; 0 for none. The
   * top frequencies of full-resolution gradients are mostly noise and latent error, which the plain fit turns into
   * scattered taps; weighted, they are left to the Tikhonov term (decision 0018, eighth amendment).
   */
  fineLowPass?: number;
  /**
   * Fits the kernel to the latent's edges inside the window alone, half a kernel in from its border: the
   * periodic extension's cross-fades are straight streaks that pull the kernel towards axis-aligned lines, and
   * an edge near the border is blurred partly into that extension (decision 0018, tenth amendment).
   */
  innerEdges?: boolean;
  /** Starts at the finest scale from this state (another estimate's, same image and settings but `fineLowPass`). */
  finestStart?: FinestStart;
  /** Called with the state on reaching the finest scale, for a later estimate's `finestStart`. */
  onFinestStart?: (start: FinestStart) => void;
  signal?: AbortSignal;
  /**
   * Called after each alternation (numbered from 1) with the share of the work done and the terms of the
   * kernel fit's objective, per pixel.
   */
  onProgress?: (alternation: number, fraction: number, loss: BlindKernelLoss) => void;
}

/**
 * An estimate's state on reaching the finest scale: the coarser scale's kernel (null when the finest is the only
 * scale) and the L0 weight.
 */
export interface FinestStart {
  psf: Psf | null;
  lambda: number;
}

/** The kernel fit's objective after an alternation: gradient residual and the kernel's Tikhonov term. */
export interface BlindKernelLoss {
  data: number;
  kernel: number;
}

/**
 * Pan et al.'s schedule (five alternations at every scale, beta doubling, taps under 5 % of the peak dropped,
 * kernel weight 2), run on contrast-stretched linear-light luma, with an L0 weight of 1e-2 (Pan et al.'s 4e-3
 * was set for gamma-encoded photos): chosen on the clean and realistic tiers of `npm run bench:deblur`
 * (decision 0018 and its amendments).
 */
export const BLIND_KERNEL_DEFAULTS: Omit<BlindKernelOptions, 'kernelSize'> = {
  window: 448,
  iterationsPerScale: 5,
  fineIterations: 5,
  betaFactor: 2,
  lambda: 1e-2,
  kernelWeight: 2,
  tapFloor: 0.05,
};

export interface Point {
  x: number;
  y: number;
}

/** A grey plane (row-major, values around 0..1). */
export interface GreyImage {
  width: number;
  height: number;
  data: Float64Array;
}

const SCALE_STEP = Math.SQRT1_2;
const COARSEST_KERNEL = 5;

function oddCeil(n: number): number {
  const r = Math.ceil(n);
  return r % 2 ? r : r + 1;
}

/** Per output sample along one axis: the first input sample it covers and the covered share of each. */
function areaWeights(from: number, to: number): { start: number; weights: number[] }[] {
  const ratio = from / to;
  const out: { start: number; weights: number[] }[] = [];
  for (let i = 0; i < to; i++) {
    const a = i * ratio;
    const b = (i + 1) * ratio;
    const start = Math.floor(a);
    const weights: number[] = [];
    for (let p = start; p < Math.min(from, Math.ceil(b)); p++)
      weights.push((Math.min(b, p + 1) - Math.max(a, p)) / ratio);
    out.push({ start, weights });
  }
  return out;
}

/**
 * Area-average downscaling to `width` x `height`, partial pixels counted by their covered share: output pixel x
 * covers exactly [x r, (x + 1) r) of the input. Whole-pixel blocks (1, 2, 1, 1, 2... pixels wide at r = 1.41)
 * jitter the grid by up to half a pixel, which no single kernel describes (decision 0018, fifth amendment).
 */
export function downscale(image: GreyImage, width: number, height: number): GreyImage {
  if (width === image.width && height === image.height) return image;
  const xs = areaWeights(image.width, width);
  const ys = areaWeights(image.height, height);
  const rows = new Float64Array(width * image.height);
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < width; x++) {
      let sum = 0;
      const { start, weights } = xs[x];
      for (let k = 0; k < weights.length; k++) sum += weights[k] * image.data[y * image.width + start + k];
      rows[y * width + x] = sum;
    }
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const { start, weights } = ys[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += weights[k] * rows[(start + k) * width + x];
      data[y * width + x] = sum;
    }
  }
  return { width, height, data };
}

/** The coarsest scale starts from a delta (Pan et al.'s 3-tap line measured worse; decision 0006). */
export function deltaPsf(size: number): Psf {
  const weights = new Array<number>(size * size).fill(0);
  weights[(size >> 1) * size + (size >> 1)] = 1;
  return { size, weights };
}

/** The kernel carried to a finer scale: bilinear resampling of its taps onto a `size` grid, renormalised. */
export function upscalePsf(psf: Psf, size: number, factor: number): Psf {
  const c0 = psf.size >> 1;
  const c1 = size >> 1;
  const weights = new Array<number>(size * size).fill(0);
  let total = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const fx = (x - c1) / factor + c0;
      const fy = (y - c1) / factor + c0;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      const at = (xx: number, yy: number): number =>
        xx >= 0 && yy >= 0 && xx < psf.size && yy < psf.size ? psf.weights[yy * psf.size + xx] : 0;
      const v =
        (at(x0, y0) * (1 - wx) + at(x0 + 1, y0) * wx) * (1 - wy) +
        (at(x0, y0 + 1) * (1 - wx) + at(x0 + 1, y0 + 1) * wx) * wy;
      weights[y * size + x] = v;
      total += v;
    }
  }
  return total > 0 ? { size, weights: weights.map((w) => w / total) } : deltaPsf(size);
}

/**
 * Removes taps below `floor` x the peak and 8-connected blobs holding under `minBlob` of the mass,
 * recentres the kernel on its centroid (so the photo does not shift) and normalises it.
 */
export function cleanPsf(psf: Psf, floor = 0.05, minBlob = 0.1): Psf {
  const { size } = psf;
  const max = Math.max(...psf.weights);
  const kept = psf.weights.map((w) => (w >= floor * max && w > 0 ? w : 0));
  let total = kept.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return deltaPsf(size);
  const label = new Int32Array(size * size).fill(-1);
  for (let start = 0; start < kept.length; start++) {
    if (kept[start] === 0 || label[start] >= 0) continue;
    const blob = [start];
    label[start] = start;
    let mass = 0;
    for (let i = 0; i < blob.length; i++) {
      const p = blob[i];
      mass += kept[p];
      const px = p % size;
      const py = (p - px) / size;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const qx = px + dx;
          const qy = py + dy;
          const q = qy * size + qx;
          if (qx < 0 || qy < 0 || qx >= size || qy >= size || kept[q] === 0 || label[q] >= 0) continue;
          label[q] = start;
          blob.push(q);
        }
      }
    }
    if (mass < minBlob * total) for (const p of blob) kept[p] = 0;
  }
  total = kept.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return deltaPsf(size);
  const centroid = psfCentroid({ size, weights: kept });
  const dx = Math.round(centroid.x);
  const dy = Math.round(centroid.y);
  const weights = new Array<number>(size * size).fill(0);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = x + dx;
      const sy = y + dy;
      if (sx >= 0 && sx < size && sy >= 0 && sy < size) weights[y * size + x] = kept[sy * size + sx] / total;
    }
  }
  return { size, weights };
}

interface EdgeThreshold {
  threshold: number | null;
  count: number;
}

/** FFT workspace of one scale: the window, periodically extended, and the spectra that stay fixed. */
export class ScaleSolver {
  readonly fft: RealTileFft;
  readonly n: number;
  readonly m: number;
  /** The window's own size; the rest of `width` x `height` is its periodic extension. */
  readonly contentWidth: number;
  readonly contentHeight: number;
  private readonly blurRe: Float64Array;
  private readonly blurIm: Float64Array;
  /** Spectra of the forward differences along x and y. */
  private readonly dxRe: Float64Array;
  private readonly dxIm: Float64Array;
  private readonly dyRe: Float64Array;
  private readonly dyIm: Float64Array;
  private readonly blurred: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(
    window: GreyImage,
    readonly width: number,
    readonly height: number,
  ) {
    this.fft = new RealTileFft(width, height);
    this.n = width * height;
    this.m = this.fft.spectrumSize;
    this.contentWidth = window.width;
    this.contentHeight = window.height;
    this.blurred = new Float64Array(this.n);
    for (let y = 0; y < window.height; y++)
      this.blurred.set(window.data.subarray(y * window.width, (y + 1) * window.width), y * width);
    periodicExtend(this.blurred, window.width, window.height, width, height);
    [this.blurRe, this.blurIm] = this.spectrum(this.blurred);
    const impulse = new Float64Array(this.n);
    // d(p) = s(p + 1) - s(p) is a convolution with -1 at 0 and +1 at -1 (wrapped).
    impulse[0] = -1;
    impulse[width - 1] = 1;
    [this.dxRe, this.dxIm] = this.spectrum(impulse);
    impulse[width - 1] = 0;
    impulse[(height - 1) * width] = 1;
    [this.dyRe, this.dyIm] = this.spectrum(impulse);
    this.re = new Float64Array(this.m);
    this.im = new Float64Array(this.m);
  }

  spectrum(plane: Float64Array): [Float64Array, Float64Array] {
    const re = new Float64Array(this.m);
    const im = new Float64Array(this.m);
    this.fft.forward(plane, re, im);
    return [re, im];
  }

  /** The spectrum of a PSF (correlation convention: blurry = correlate(sharp, psf)). */
  psfSpectrum(psf: Psf): [Float64Array, Float64Array] {
    const plane = new Float64Array(this.n);
    return this.spectrum(correlationKernelPlane(psf.weights, psf.size, this.width, this.height, plane));
  }

  /**
   * The latent image with sparse gradients: min ||k * s - b||^2 + lambda ||grad s||_0 by half-quadratic
   * splitting (beta doubling from 2 lambda to 1e5).
   */
  latent(psf: Psf, lambda: number, betaFactor = 2): Float64Array {
    const { width: w, height: h, n, m } = this;
    const [kRe, kIm] = this.psfSpectrum(psf);
    const numRe = new Float64Array(m);
    const numIm = new Float64Array(m);
    const kPower = new Float64Array(m);
    const dPower = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      // conj(K) B
      numRe[i] = kRe[i] * this.blurRe[i] + kIm[i] * this.blurIm[i];
      numIm[i] = kRe[i] * this.blurIm[i] - kIm[i] * this.blurRe[i];
      kPower[i] = kRe[i] ** 2 + kIm[i] ** 2;
      dPower[i] = this.dxRe[i] ** 2 + this.dxIm[i] ** 2 + this.dyRe[i] ** 2 + this.dyIm[i] ** 2;
    }
    const s = Float64Array.from(this.blurred);
    const divergence = new Float64Array(n);
    const gx = new Float64Array(n);
    const gy = new Float64Array(n);
    const { re, im } = this;
    for (let beta = 2 * lambda; beta < 1e5; beta *= betaFactor) {
      const cut = lambda / beta;
      for (let y = 0; y < h; y++) {
        const row = y * w;
        const below = ((y + 1) % h) * w;
        for (let x = 0; x < w; x++) {
          const p = row + x;
          const hx = s[row + ((x + 1) % w)] - s[p];
          const vy = s[below + x] - s[p];
          const keep = hx * hx + vy * vy >= cut;
          gx[p] = keep ? hx : 0;
          gy[p] = keep ? vy : 0;
        }
      }
      // D^T g: the adjoint of the forward differences.
      for (let y = 0; y < h; y++) {
        const row = y * w;
        const above = ((y + h - 1) % h) * w;
        for (let x = 0; x < w; x++) {
          const p = row + x;
          divergence[p] = gx[row + ((x + w - 1) % w)] - gx[p] + gy[above + x] - gy[p];
        }
      }
      this.fft.forward(divergence, re, im);
      for (let i = 0; i < m; i++) {
        const d = kPower[i] + beta * dPower[i];
        re[i] = (numRe[i] + beta * re[i]) / d;
        im[i] = (numIm[i] + beta * im[i]) / d;
      }
      this.fft.inverse(re, im, s);
    }
    return s;
  }

  /**
   * The salient edges of the latent: its gradients where they are stronger than `threshold` (chosen on the
   * first call so that every direction keeps about 20 x kernel-size pixels), as spectra. With `margin` > 0 only
   * the gradients inside the window, `margin` pixels in from its border, are kept.
   */
  salientGradients(s: Float64Array, edges: EdgeThreshold, margin = 0): Array<[Float64Array, Float64Array]> {
    const { width: w, height: h, n } = this;
    const gx = new Float64Array(n);
    const gy = new Float64Array(n);
    const magnitude = new Float64Array(n);
    // Rows and columns [from, to): the whole plane, or the window inset by `margin`.
    const [fromX, toX] = margin ? [margin, this.contentWidth - margin] : [0, w];
    const [fromY, toY] = margin ? [margin, this.contentHeight - margin] : [0, h];
    for (let y = fromY; y < toY; y++) {
      const row = y * w;
      const below = ((y + 1) % h) * w;
      for (let x = fromX; x < toX; x++) {
        const p = row + x;
        gx[p] = s[row + ((x + 1) % w)] - s[p];
        gy[p] = s[below + x] - s[p];
        magnitude[p] = gx[p] ** 2 + gy[p] ** 2;
      }
    }
    if (edges.threshold === null) {
      // Four orientation bins; the threshold is the largest that leaves every bin `edges.count` pixels.
      const bins: number[][] = [[], [], [], []];
      for (let p = 0; p < n; p++) {
        if (magnitude[p] === 0) continue;
        const angle = Math.atan2(gy[p], gx[p]);
        const folded = angle < 0 ? angle + Math.PI : angle;
        bins[Math.min(3, Math.floor(folded / (Math.PI / 4)))].push(magnitude[p]);
      }
      edges.threshold = Math.min(
        ...bins.map((bin) => {
          bin.sort((a, b) => b - a);
          return bin.length ? bin[Math.min(bin.length, edges.count) - 1] : Infinity;
        }),
      );
      if (!Number.isFinite(edges.threshold)) edges.threshold = 0;
    } else {
      edges.threshold /= 1.1;
    }
    for (let p = 0; p < n; p++) {
      if (magnitude[p] < edges.threshold) {
        gx[p] = 0;
        gy[p] = 0;
      }
    }
    return [this.spectrum(gx), this.spectrum(gy)];
  }

  /**
   * Multiplies spectra by a Gaussian's squared response, exp(-4 pi^2 sigma^2 |f|^2): the normal equations of a
   * fit whose residual is filtered by that Gaussian.
   */
  private weightByLowPass(spectra: Float64Array[], sigma: number): void {
    const { width, height, m } = this;
    const rate = 4 * Math.PI * Math.PI * sigma * sigma;
    for (let i = 0; i < m; i++) {
      // Transposed half spectrum: index u * height + v (tile-fft.ts).
      const fx = Math.floor(i / height) / width;
      const v = i % height;
      const fy = (v <= height / 2 ? v : v - height) / height;
      const gain = Math.exp(-rate * (fx * fx + fy * fy));
      for (const spectrum of spectra) spectrum[i] *= gain;
    }
  }

  /** The gradient spectra of the blurry window. */
  blurryGradients(): Array<[Float64Array, Float64Array]> {
    const times = (aRe: Float64Array, aIm: Float64Array): [Float64Array, Float64Array] => [
      aRe.map((v, i) => v * this.blurRe[i] - aIm[i] * this.blurIm[i]),
      aIm.map((v, i) => v * this.blurRe[i] + aRe[i] * this.blurIm[i]),
    ];
    return [times(this.dxRe, this.dxIm), times(this.dyRe, this.dyIm)];
  }

  /** Reads a plane at the kernel's tap offsets (tap (i, j) at offset (i - c, j - c), wrapped). */
  private taps(plane: Float64Array, size: number): Float64Array {
    const c = size >> 1;
    const out = new Float64Array(size * size);
    for (let j = 0; j < size; j++) {
      const y = (j - c + this.height) % this.height;
      for (let i = 0; i < size; i++)
        out[j * size + i] = plane[y * this.width + ((i - c + this.width) % this.width)];
    }
    return out;
  }

  /** Places kernel taps at their offsets in a plane (the inverse of `taps`). */
  private place(taps: Float64Array, size: number): Float64Array {
    const c = size >> 1;
    const plane = new Float64Array(this.n);
    for (let j = 0; j < size; j++) {
      const y = (j - c + this.height) % this.height;
      for (let i = 0; i < size; i++)
        plane[y * this.width + ((i - c + this.width) % this.width)] = taps[j * size + i];
    }
    return plane;
  }

  /**
   * Mean squared residual of the gradient-domain fit per pixel and direction, blurry ≈ conj(K) X as
   * `fitKernel` solves it, by Parseval on the half spectrum (columns 0 and width / 2 count once).
   */
  fitResidual(
    latent: Array<[Float64Array, Float64Array]>,
    blurry: Array<[Float64Array, Float64Array]>,
    psf: Psf,
  ): number {
    const { m, re, im, height } = this;
    this.fft.forward(this.place(Float64Array.from(psf.weights), psf.size), re, im);
    const lastColumn = this.width / 2;
    let energy = 0;
    latent.forEach(([xRe, xIm], d) => {
      const [bRe, bIm] = blurry[d];
      for (let i = 0; i < m; i++) {
        const column = Math.floor(i / height);
        const weight = column === 0 || column === lastColumn ? 1 : 2;
        const r = re[i] * xRe[i] + im[i] * xIm[i] - bRe[i];
        const s = re[i] * xIm[i] - im[i] * xRe[i] - bIm[i];
        energy += weight * (r * r + s * s);
      }
    });
    return energy / (this.n * this.n * latent.length);
  }

  /**
   * The kernel (correlation convention) minimising sum ||correlate(latent_d, k) - blurry_d||^2 + weight ||k||^2
   * over the two gradient directions d, on a size x size support: conjugate gradients from `start`. With
   * `lowPass` > 0 the residual is first filtered by a Gaussian of that standard deviation (px).
   */
  fitKernel(
    latent: Array<[Float64Array, Float64Array]>,
    blurry: Array<[Float64Array, Float64Array]>,
    start: Psf,
    weight: number,
    steps = 20,
    lowPass = 0,
  ): Psf {
    const { m, re, im } = this;
    const size = start.size;
    // Right-hand side: cross-correlation sum_p b(p) x(p + d), i.e. conj(B) X; normal matrix: |X|^2.
    const power = new Float64Array(m);
    re.fill(0);
    im.fill(0);
    latent.forEach(([xRe, xIm], d) => {
      const [bRe, bIm] = blurry[d];
      for (let i = 0; i < m; i++) {
        re[i] += bRe[i] * xRe[i] + bIm[i] * xIm[i];
        im[i] += bRe[i] * xIm[i] - bIm[i] * xRe[i];
        power[i] += xRe[i] ** 2 + xIm[i] ** 2;
      }
    });
    if (lowPass > 0) this.weightByLowPass([re, im, power], lowPass);
    const plane = new Float64Array(this.n);
    this.fft.inverse(re, im, plane);
    const rhs = this.taps(plane, size);
    const apply = (k: Float64Array): Float64Array => {
      this.fft.forward(this.place(k, size), re, im);
      for (let i = 0; i < m; i++) {
        re[i] *= power[i];
        im[i] *= power[i];
      }
      this.fft.inverse(re, im, plane);
      const out = this.taps(plane, size);
      for (let i = 0; i < out.length; i++) out[i] += weight * k[i];
      return out;
    };
    const k = Float64Array.from(start.weights);
    const ak = apply(k);
    const r = rhs.map((v, i) => v - ak[i]);
    const p = Float64Array.from(r);
    let rr = r.reduce((a, v) => a + v * v, 0);
    const rr0 = rr;
    for (let step = 0; step < steps && rr > 1e-10 * rr0; step++) {
      const ap = apply(p);
      let pap = 0;
      for (let i = 0; i < p.length; i++) pap += p[i] * ap[i];
      const alpha = rr / pap;
      for (let i = 0; i < k.length; i++) {
        k[i] += alpha * p[i];
        r[i] -= alpha * ap[i];
      }
      const next = r.reduce((a, v) => a + v * v, 0);
      for (let i = 0; i < p.length; i++) p[i] = r[i] + (next / rr) * p[i];
      rr = next;
    }
    return { size, weights: Array.from(k, (v) => Math.max(0, v)) };
  }
}

/**
 * The image's 1st..99th percentiles stretched to 0..1. The L0 weight and the kernel's Tikhonov weight are absolute,
 * while linear light puts a dark photo's edges at a few hundredths: unstretched, the prior flattened such a photo's
 * latent and the kernel shrank. Blur commutes with this affine map, so the kernel is unchanged by it.
 */
function stretchContrast(image: GreyImage): GreyImage {
  const sorted = Float64Array.from(image.data).sort();
  const low = sorted[Math.floor(0.01 * (sorted.length - 1))];
  const high = sorted[Math.floor(0.99 * (sorted.length - 1))];
  const range = Math.max(high - low, 1e-6);
  return { ...image, data: image.data.map((v) => (v - low) / range) };
}

/** The `width` x `height` part of an image centred on `focus`, as far as the image reaches. */
function cropAround(image: GreyImage, focus: Point, width: number, height: number): GreyImage {
  if (width >= image.width && height >= image.height) return image;
  // Rounded down, a centred focus gives exactly the central crop: a one-pixel shift of the coarse scales'
  // crops flips some estimates (decision 0018, fourth amendment).
  const start = (at: number, length: number, side: number) =>
    Math.max(0, Math.min(side - length, Math.floor(at - length / 2)));
  const x0 = start(focus.x, width, image.width);
  const y0 = start(focus.y, height, image.height);
  const data = new Float64Array(width * height);
  for (let y = 0; y < height; y++)
    data.set(
      image.data.subarray((y0 + y) * image.width + x0, (y0 + y) * image.width + x0 + width),
      y * width,
    );
  return { width, height, data };
}

/** Standard deviations of a kernel along its principal axes (major, minor), in taps. */
export function psfSpread(psf: Psf): [number, number] {
  const c = psf.size >> 1;
  const { x: mx, y: my } = psfCentroid(psf);
  let xx = 0;
  let yy = 0;
  let xy = 0;
  psf.weights.forEach((w, i) => {
    const x = (i % psf.size) - c - mx;
    const y = Math.floor(i / psf.size) - c - my;
    xx += w * x * x;
    yy += w * y * y;
    xy += w * x * y;
  });
  const mean = (xx + yy) / 2;
  const root = Math.sqrt(((xx - yy) / 2) ** 2 + xy * xy);
  return [Math.sqrt(mean + root), Math.sqrt(Math.max(0, mean - root))];
}

/** Largest normalised cross-correlation of two kernels over shifts of up to `reach` taps. */
export function psfSimilarity(a: Psf, b: Psf, reach = 3): number {
  const ca = a.size >> 1;
  const cb = b.size >> 1;
  const norm = (p: Psf) => Math.sqrt(p.weights.reduce((sum, w) => sum + w * w, 0));
  const scale = norm(a) * norm(b);
  if (!(scale > 0)) return 0;
  let best = 0;
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      let sum = 0;
      for (let y = 0; y < a.size; y++) {
        const by = y - ca + cb + dy;
        if (by < 0 || by >= b.size) continue;
        for (let x = 0; x < a.size; x++) {
          const bx = x - ca + cb + dx;
          if (bx >= 0 && bx < b.size) sum += a.weights[y * a.size + x] * b.weights[by * b.size + bx];
        }
      }
      best = Math.max(best, sum / scale);
    }
  }
  return best;
}

/** The share of a kernel's mass within `band` taps of its support's border. */
export function edgeMass(psf: Psf, band: number): number {
  let edge = 0;
  psf.weights.forEach((w, i) => {
    const x = i % psf.size;
    const y = Math.floor(i / psf.size);
    if (Math.min(x, y, psf.size - 1 - x, psf.size - 1 - y) < band) edge += w;
  });
  return edge;
}

export interface BlurEstimate {
  psf: Psf;
  /** Similarity of the kernels found at the two finest scales (1 = the same shape). */
  consistency: number;
  /** Minor-axis spread of the kernel over its support side: a blob filling the support is a failed estimate. */
  fill: number;
  /** The share of the kernel's mass within 3 taps of its support's border: the blur may be longer. */
  edgeMass: number;
}

/**
 * Estimates the blur of a grey image (linear light, where blur adds up) around `options.focus`: blurry ≈
 * correlate(sharp, psf). At scale s the estimation window covers `options.window / s` pixels of the image (as
 * much as it has), so the coarse scales see more of the photo.
 */
export async function estimateBlurKernel(
  image: GreyImage,
  options: BlindKernelOptions,
): Promise<BlurEstimate> {
  const stretched = stretchContrast(image);
  const focus = options.focus ?? { x: image.width / 2, y: image.height / 2 };
  const kernelSize = oddCeil(options.kernelSize);
  const scales: number[] = [1];
  while (kernelSize * scales[0] * SCALE_STEP >= COARSEST_KERNEL) scales.unshift(scales[0] * SCALE_STEP);
  const iterations = (scale: number) => (scale > 0.6 ? options.fineIterations : options.iterationsPerScale);
  // An alternation's time grows about in proportion to the scale (measured; decision 0006).
  const totalWork = scales.reduce((sum, scale) => sum + scale * iterations(scale), 0);
  // A run that starts at the finest scale reports its progress over that scale's work alone.
  const resumed = options.finestStart;
  const workBefore = resumed ? totalWork - iterations(1) : 0;
  let done = 0;
  let work = workBefore;
  let lambda = resumed?.lambda ?? options.lambda;
  let psf: Psf | null = resumed?.psf ?? null;
  let previous: Psf | null = null;
  for (const scale of resumed ? [1] : scales) {
    if (scale === 1 && !resumed) options.onFinestStart?.({ psf, lambda });
    const size = oddCeil(kernelSize * scale);
    previous = psf && upscalePsf(psf, size, 1 / SCALE_STEP);
    psf = previous ?? deltaPsf(size);
    // The window at this scale: up to `window` pixels, all of them (trimming a 256 px photo to 225 so that
    // its FFTs halved cost 0.31 ± 0.20 dB over 42 pairs; decision 0018, fifth amendment).
    const side = (length: number) => Math.min(Math.floor(length * scale), options.window);
    const width = side(image.width);
    const height = side(image.height);
    const blurry = downscale(
      cropAround(
        stretched,
        focus,
        Math.min(image.width, Math.round(width / scale)),
        Math.min(image.height, Math.round(height / scale)),
      ),
      width,
      height,
    );
    const solver = new ScaleSolver(
      blurry,
      tileFftSize(blurry.width + size),
      tileFftSize(blurry.height + size),
    );
    const blurryGradients = solver.blurryGradients();
    const edges: EdgeThreshold = { threshold: null, count: 20 * size };
    const margin = options.innerEdges ? Math.round(size / 2) : 0;
    for (let i = 0; i < iterations(scale); i++) {
      const latent = solver.salientGradients(solver.latent(psf, lambda, options.betaFactor), edges, margin);
      await checkpoint(options.signal);
      const lowPass = scale === 1 ? (options.fineLowPass ?? 0) : 0;
      psf = cleanPsf(
        solver.fitKernel(latent, blurryGradients, psf, options.kernelWeight, undefined, lowPass),
        options.tapFloor,
      );
      lambda = Math.max(lambda / 1.1, 1e-4);
      work += scale;
      if (options.onProgress) {
        const squares = psf.weights.reduce((sum, w) => sum + w * w, 0);
        options.onProgress(++done, (work - workBefore) / (totalWork - workBefore), {
          data: solver.fitResidual(latent, blurryGradients, psf),
          kernel: (options.kernelWeight * squares) / solver.n,
        });
      }
      await checkpoint(options.signal);
    }
  }
  return {
    psf: psf!,
    consistency: previous ? psfSimilarity(psf!, previous) : 1,
    fill: psfSpread(psf!)[1] / psf!.size,
    edgeMass: edgeMass(psf!, 3),
  };
}
