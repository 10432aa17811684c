// Fast non-blind deconvolution of full-size photos: half-quadratic splitting with a hyper-Laplacian gradient
// prior (Krishnan & Fergus 2009) solved in the FFT domain, tile by tile. Each tile is surrounded by a smooth
// periodic extension before the FFTs, each colour plane leaves its clipped pixels out of its data term, and
// the tiles are blended with feathered overlaps, each with the PSF of its position. Planes and spectra are
// Float32Array: PFFFT computes in single precision anyway, and the solver's loops are bound by memory
// traffic. Measurements behind these choices: docs/decisions/0005-pffft-for-ffts.md, 0007-deconvolution.md.
import { checkpoint } from '../core/progress';
import { builtWorker, runTiles, tileThreads } from '../core/tile-threads';
import { embedPsf, psfBounds, type Psf } from '../kernels/psf';
import { TileBlender, type FloatImage, type Tile } from '../core/tiling';
import { linearToSrgb, lookupTable, srgbToLinearTable } from '../core/colour';
import { shrinkage, type Shrinkage } from './hyper-laplacian';
import { localRange } from './image-ops';
import { RealTileFft, tileFftSize, type Samples } from './tile-fft';

/** Spatially varying PSFs: cells[row * cols + col] applies around the centre of that cell of the image. */
export interface PsfGrid {
  rows: number;
  cols: number;
  cells: Psf[];
}

export interface DeconvolutionOptions {
  /** 0 returns the input, 1 the full deconvolution; in between blends the two. Default 1. */
  strength?: number;
  /**
   * Weight of the data term against the gradient prior; lower for noisier photos. Default 1000, which suits
   * photos with noise, a tone curve and JPEG; 3000 is best only on noise-free input (decision 0007).
   */
  lambda?: number;
  /** Exponent of the hyper-Laplacian prior. Default 2/3. */
  alpha?: number;
  /**
   * Outer iterations; beta starts at betaStart and grows by betaFactor each time. Default 4 from 5.3 by 5.3
   * (final beta ~790): nearly the gain of 5 iterations from 1 for less work; a final beta much lower loses
   * detail on noisy JPEGs (decision 0007).
   */
  iterations?: number;
  betaFactor?: number;
  betaStart?: number;
  /** Deconvolve linear-light values (the input stays gamma-encoded sRGB). Default true. */
  linear?: boolean;
  /** Pixels of a plane at or above this (input encoding) leave its data term; >= 1 disables. */
  saturationThreshold?: number;
  /**
   * Conjugate-gradient steps per x-step in planes of tiles with clipped pixels. Default 3; more gain a little
   * for much more time (decision 0007).
   */
  cgIterations?: number;
  /** Largest FFT side of a tile (a power of two). Default 1024. */
  tileSize?: number;
  /**
   * Keeps each restored pixel within its channel's range in the blurry photo over the PSF's reach around it:
   * a step edge's sides lie in that range, the dark and coloured fringes of ringing do not. Default true
   * (it also raises bench:deblur's scores; decision 0008). It also caps the contrast recovered in details
   * finer than the blur.
   */
  limitOvershoot?: boolean;
}

export interface DeconvolutionContext {
  signal?: AbortSignal;
  /** Called after each tile. */
  onProgress?: (done: number, total: number) => void;
}

const DEFAULTS = {
  strength: 1,
  lambda: 1000,
  alpha: 2 / 3,
  iterations: 4,
  betaFactor: 5.3,
  betaStart: 5.3,
  linear: true,
  saturationThreshold: 0.98,
  cgIterations: 3,
  tileSize: 1024,
  limitOvershoot: true,
};

/** One axis of the tiling: blended spans, each processed within a larger extent and an FFT of `fft` samples. */
interface AxisPlan {
  fft: number;
  spans: { start: number; size: number; extentStart: number; extentSize: number }[];
}

function planAxis(length: number, tileSize: number, pad: number, halo: number, overlap: number): AxisPlan {
  // Large PSFs get larger tiles, so that most of each tile is kept.
  let fft = tileSize;
  while (fft - pad - 2 * halo < 4 * overlap) fft *= 2;
  if (length + pad <= fft) {
    return {
      fft: tileFftSize(length + pad),
      spans: [{ start: 0, size: length, extentStart: 0, extentSize: length }],
    };
  }
  const size = fft - pad - 2 * halo;
  const count = Math.ceil((length - overlap) / (size - overlap));
  const spans = [];
  for (let i = 0; i < count; i++) {
    const start = Math.round((i * (length - size)) / (count - 1));
    const extentStart = Math.max(0, start - halo);
    const extentEnd = Math.min(length, start + size + halo);
    spans.push({ start, size, extentStart, extentSize: extentEnd - extentStart });
  }
  return { fft, spans };
}

/** PSF at image position (x, y): bilinear blend of the four nearest cell PSFs, all embedded at `size`. */
function psfAt(
  grid: PsfGrid,
  width: number,
  height: number,
  x: number,
  y: number,
  size: number,
): Float64Array {
  const gx = Math.min(grid.cols - 1, Math.max(0, (x / width) * grid.cols - 0.5));
  const gy = Math.min(grid.rows - 1, Math.max(0, (y / height) * grid.rows - 0.5));
  const c0 = Math.floor(gx);
  const r0 = Math.floor(gy);
  const out = new Float64Array(size * size);
  const corners: [number, number, number][] = [
    [r0, c0, (1 - (gy - r0)) * (1 - (gx - c0))],
    [r0, c0 + 1, (1 - (gy - r0)) * (gx - c0)],
    [r0 + 1, c0, (gy - r0) * (1 - (gx - c0))],
    [r0 + 1, c0 + 1, (gy - r0) * (gx - c0)],
  ];
  for (const [r, c, w] of corners) {
    if (w <= 0) continue;
    embedPsf(grid.cells[r * grid.cols + c], size).weights.forEach((v, i) => (out[i] += w * v));
  }
  return out;
}

const toSrgb = lookupTable(linearToSrgb, 65536);

/**
 * Fills plane (fftW x fftH, content in the top-left w x h) outside the content so that it wraps smoothly:
 * each row of the pad cross-fades from the content's last value to its first, then each column likewise.
 * A smooth pad is nearly invariant under the blur, so it agrees with the data model; cross-fading mirrored
 * content instead measured worse (decision 0007).
 */
export function periodicExtend(plane: Samples, w: number, h: number, fftW: number, fftH: number): void {
  const padW = fftW - w;
  for (let y = 0; y < h; y++) {
    const row = y * fftW;
    for (let d = 0; d < padW; d++) {
      const s = 0.5 - 0.5 * Math.cos((Math.PI * (d + 0.5)) / padW);
      plane[row + w + d] = (1 - s) * plane[row + w - 1] + s * plane[row];
    }
  }
  const padH = fftH - h;
  for (let d = 0; d < padH; d++) {
    const s = 0.5 - 0.5 * Math.cos((Math.PI * (d + 0.5)) / padH);
    const bottom = (h - 1) * fftW;
    const row = (h + d) * fftW;
    for (let x = 0; x < fftW; x++) plane[row + x] = (1 - s) * plane[bottom + x] + s * plane[x];
  }
}

/** Adjoint of the circular forward differences applied to the shrunk gradients of x: D^T w(Dx). */
function shrunkDivergence(x: Float32Array, out: Float32Array, w: number, h: number, shrink: Shrinkage): void {
  const wx = new Float32Array(w);
  let above = new Float32Array(w);
  let current = new Float32Array(w);
  const rowShrunk = (y: number, dst: Float32Array) => {
    const row = y * w;
    const below = ((y + 1) % h) * w;
    for (let i = 0; i < w; i++) dst[i] = shrink.apply(x[below + i] - x[row + i]);
  };
  rowShrunk(h - 1, above);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let i = 0; i < w - 1; i++) wx[i] = shrink.apply(x[row + i + 1] - x[row + i]);
    wx[w - 1] = shrink.apply(x[row] - x[row + w - 1]);
    rowShrunk(y, current);
    out[row] = wx[w - 1] - wx[0] + above[0] - current[0];
    for (let i = 1; i < w; i++) out[row + i] = wx[i - 1] - wx[i] + above[i] - current[i];
    [above, current] = [current, above];
  }
}

interface TileSolver {
  fft: RealTileFft;
  kRe: Float32Array;
  kIm: Float32Array;
  k2: Float32Array;
  d2: Float32Array;
}

/** Multiplies a spectrum by conj(K) in place. */
function correlateSpectrum(s: TileSolver, re: Float32Array, im: Float32Array): void {
  const { kRe, kIm } = s;
  for (let i = 0; i < re.length; i++) {
    const r = kRe[i] * re[i] + kIm[i] * im[i];
    im[i] = kRe[i] * im[i] - kIm[i] * re[i];
    re[i] = r;
  }
}

/** Half-quadratic splitting with the hyper-Laplacian prior on one real plane. */
function solveHyperLaplacian(
  s: TileSolver,
  y: Float32Array,
  lambda: number,
  shrinkages: Shrinkage[],
  cgIterations: number,
  weighted: WeightedSystem | undefined,
): Float32Array {
  const { fft, k2, d2 } = s;
  const n = fft.spectrumSize;
  const [uRe, uIm] = correlatedSpectrum(s, y);
  const [tRe, tIm] = weighted ? correlatedSpectrum(s, weighted.masked(y)) : [uRe, uIm];
  const qRe = weighted ? new Float32Array(n) : uRe;
  const qIm = weighted ? new Float32Array(n) : uIm;
  const x = Float32Array.from(y);
  const divergence = new Float32Array(y.length);
  const sRe = new Float32Array(n);
  const sIm = new Float32Array(n);
  for (const shrink of shrinkages) {
    const b = shrink.beta / lambda;
    shrunkDivergence(x, divergence, fft.width, fft.height, shrink);
    fft.forward(divergence, sRe, sIm);
    for (let i = 0; i < n; i++) {
      if (weighted) {
        qRe[i] = tRe[i] + b * sRe[i];
        qIm[i] = tIm[i] + b * sIm[i];
      }
      const d = 1 / (k2[i] + b * d2[i]);
      sRe[i] = (uRe[i] + b * sRe[i]) * d;
      sIm[i] = (uIm[i] + b * sIm[i]) * d;
    }
    weighted?.solve(qRe, qIm, sRe, sIm, b, cgIterations);
    fft.inverse(sRe, sIm, x);
  }
  return x;
}

/** conj(K) times the spectrum of a plane. */
function correlatedSpectrum(s: TileSolver, plane: Float32Array): [Float32Array, Float32Array] {
  const re = new Float32Array(s.fft.spectrumSize);
  const im = new Float32Array(s.fft.spectrumSize);
  s.fft.forward(plane, re, im);
  correlateSpectrum(s, re, im);
  return [re, im];
}

/**
 * The x-step with a weighted data term, (K^T M K + b D^T D) x = rhs for the pixel weights M, by conjugate
 * gradients in the frequency domain preconditioned by the unweighted system (exact where M = 1), starting
 * from the unweighted solution: starting from zero data in the masked region instead left dark blobs in
 * large clipped areas. Each iteration costs two FFTs.
 */
class WeightedSystem {
  private readonly n: number;
  /** Parseval weights of the half spectrum: columns u = 0 and u = width / 2 count once, the others twice. */
  private readonly parseval: Float32Array;
  private readonly scratch: Float32Array[];
  private readonly plane: Float32Array;
  /** 1 where the pixel is left out of the data term (the plane being solved: see `forPlane`). */
  private saturated: Uint8Array = new Uint8Array(0);

  constructor(private readonly s: TileSolver) {
    const { width, height, spectrumSize } = s.fft;
    this.n = spectrumSize;
    this.parseval = new Float32Array(spectrumSize).fill(2);
    this.parseval.fill(1, 0, height);
    this.parseval.fill(1, (width / 2) * height);
    this.scratch = Array.from({ length: 7 }, () => new Float32Array(spectrumSize));
    this.plane = new Float32Array(width * height);
  }

  /** The same workspace for another plane of the tile and its clipped pixels. */
  forPlane(saturated: Uint8Array): this {
    this.saturated = saturated;
    return this;
  }

  masked(plane: Float32Array): Float32Array {
    return plane.map((v, i) => (this.saturated[i] ? 0 : v));
  }

  /** out = (K^T M K + b D^T D) p, all spectra; returns the dot product of p and out. */
  private apply(pRe: Float32Array, pIm: Float32Array, b: number, outRe: Float32Array, outIm: Float32Array) {
    const { kRe, kIm, d2, fft } = this.s;
    const { parseval, plane, saturated } = this;
    for (let i = 0; i < this.n; i++) {
      outRe[i] = kRe[i] * pRe[i] - kIm[i] * pIm[i];
      outIm[i] = kRe[i] * pIm[i] + kIm[i] * pRe[i];
    }
    fft.inverse(outRe, outIm, plane);
    for (let i = 0; i < plane.length; i++) if (saturated[i]) plane[i] = 0;
    fft.forward(plane, outRe, outIm);
    let dot = 0;
    for (let i = 0; i < this.n; i++) {
      const re = outRe[i];
      const im = outIm[i];
      outRe[i] = kRe[i] * re + kIm[i] * im + b * d2[i] * pRe[i];
      outIm[i] = kRe[i] * im - kIm[i] * re + b * d2[i] * pIm[i];
      dot += parseval[i] * (pRe[i] * outRe[i] + pIm[i] * outIm[i]);
    }
    return dot;
  }

  /** Solves for the right-hand side (rhsRe, rhsIm), from the guess in (re, im) which receives the solution. */
  solve(
    rhsRe: Float32Array,
    rhsIm: Float32Array,
    re: Float32Array,
    im: Float32Array,
    b: number,
    iterations: number,
  ): void {
    const { n, parseval } = this;
    const { k2, d2 } = this.s;
    const [rRe, rIm, pRe, pIm, aRe, aIm, precondition] = this.scratch;
    this.apply(re, im, b, aRe, aIm);
    let rz = 0;
    for (let i = 0; i < n; i++) {
      precondition[i] = 1 / (k2[i] + b * d2[i]);
      rRe[i] = rhsRe[i] - aRe[i];
      rIm[i] = rhsIm[i] - aIm[i];
      pRe[i] = rRe[i] * precondition[i];
      pIm[i] = rIm[i] * precondition[i];
      rz += parseval[i] * (rRe[i] * pRe[i] + rIm[i] * pIm[i]);
    }
    for (let iteration = 0; iteration < iterations && rz > 0; iteration++) {
      const step = rz / this.apply(pRe, pIm, b, aRe, aIm);
      let next = 0;
      for (let i = 0; i < n; i++) {
        re[i] += step * pRe[i];
        im[i] += step * pIm[i];
        rRe[i] -= step * aRe[i];
        rIm[i] -= step * aIm[i];
        next += parseval[i] * (rRe[i] * rRe[i] + rIm[i] * rIm[i]) * precondition[i];
      }
      if (iteration === iterations - 1) break;
      const ratio = next / rz;
      for (let i = 0; i < n; i++) {
        pRe[i] = rRe[i] * precondition[i] + ratio * pRe[i];
        pIm[i] = rIm[i] * precondition[i] + ratio * pIm[i];
      }
      rz = next;
    }
  }
}

function makeSolver(kernel: Float64Array, size: number, fftW: number, fftH: number): TileSolver {
  const fft = new RealTileFft(fftW, fftH);
  const plane = new Float32Array(fftW * fftH);
  // Correlation kernel: tap (i, j) of a centred kernel lands at offset (c - i, c - j), as in core/fft.
  const c = size >> 1;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const x = (((c - i) % fftW) + fftW) % fftW;
      const y = (((c - j) % fftH) + fftH) % fftH;
      plane[y * fftW + x] += kernel[j * size + i];
    }
  }
  const n = fft.spectrumSize;
  const kRe = new Float32Array(n);
  const kIm = new Float32Array(n);
  fft.forward(plane, kRe, kIm);
  const k2 = new Float32Array(n);
  const d2 = new Float32Array(n);
  const cv = Float32Array.from({ length: fftH }, (_, v) => 2 - 2 * Math.cos((2 * Math.PI * v) / fftH));
  for (let u = 0; u <= fftW / 2; u++) {
    const cu = 2 - 2 * Math.cos((2 * Math.PI * u) / fftW);
    for (let v = 0; v < fftH; v++) {
      const i = u * fftH + v;
      k2[i] = kRe[i] * kRe[i] + kIm[i] * kIm[i];
      d2[i] = cu + cv[v];
    }
  }
  return { fft, kRe, kIm, k2, d2 };
}

/** Pixels within 2 px of one at or above the threshold; undefined if there are none. */
function saturatedPixels(plane: Float32Array, w: number, h: number, threshold: number) {
  let any = false;
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) {
    if (plane[i] < threshold) continue;
    any = true;
    const x = i % w;
    const y = (i - x) / w;
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) out[((y + dy + h) % h) * w + ((x + dx + w) % w)] = 1;
    }
  }
  return any ? out : undefined;
}

/**
 * Restores a tile's planes in place, each on its own: a clipped red channel says nothing about the green
 * and blue ones of the same pixel, which keep their data term. More work than a luma + chroma restoration
 * with pixels dropped when any channel clipped, and a clearly larger gain (decision 0007).
 */
function restoreTile(
  solver: TileSolver,
  planes: Float32Array[],
  opts: typeof DEFAULTS,
  masks: (Uint8Array | undefined)[],
) {
  const shrinkages = shrinkagesFor(opts);
  // One workspace for the tile, made for its first plane with clipped pixels: its scratch serves them all.
  let system: WeightedSystem | undefined;
  planes.forEach((plane, c) => {
    const mask = masks[c];
    const weighted = mask && (system ??= new WeightedSystem(solver)).forPlane(mask);
    plane.set(solveHyperLaplacian(solver, plane, opts.lambda, shrinkages, opts.cgIterations, weighted));
  });
}

/**
 * One tile's work, self-contained so that a worker thread can do it: the input pixels of its extent (the
 * tile plus a halo), the PSF for it, and where the kept tile lies inside the extent.
 */
export interface ExtentJob {
  tile: Tile;
  /** Interleaved input pixels of the extent, extentWidth x extentHeight. */
  pixels: Float32Array;
  channels: number;
  extentWidth: number;
  extentHeight: number;
  /** The tile's offset inside the extent. */
  tileX: number;
  tileY: number;
  fftWidth: number;
  fftHeight: number;
  /** The PSF at the tile's centre, embedded at psfSize x psfSize (the grid's largest side). */
  kernel: Float64Array;
  psfSize: number;
  options: typeof DEFAULTS;
}

const shrinkageCache = new Map<string, Shrinkage[]>();
function shrinkagesFor(opts: typeof DEFAULTS): Shrinkage[] {
  const key = `${opts.alpha} ${opts.betaStart} ${opts.betaFactor} ${opts.iterations}`;
  let list = shrinkageCache.get(key);
  if (!list) {
    list = Array.from({ length: opts.iterations }, (_, i) =>
      shrinkage(opts.alpha, opts.betaStart * opts.betaFactor ** i),
    );
    shrinkageCache.set(key, list);
  }
  return list;
}

/** Restores one extent and returns its tile's pixels, blended with the input by the strength. */
export function restoreExtent(job: ExtentJob): Float32Array {
  const { pixels, channels, extentWidth: ew, extentHeight: eh, fftWidth: fftW, fftHeight: fftH, tile } = job;
  const opts = job.options;
  const encode = opts.linear ? srgbToLinearTable : (v: number) => v;
  const decode = opts.linear ? toSrgb : (v: number) => Math.min(1, Math.max(0, v));
  const threshold = encode(opts.saturationThreshold);
  const planes = Array.from({ length: channels }, () => new Float32Array(fftW * fftH));
  for (let y = 0; y < eh; y++) {
    for (let x = 0; x < ew; x++) {
      for (let c = 0; c < channels; c++)
        planes[c][y * fftW + x] = encode(pixels[(y * ew + x) * channels + c]);
    }
  }
  for (const plane of planes) periodicExtend(plane, ew, eh, fftW, fftH);
  const solver = makeSolver(job.kernel, job.psfSize, fftW, fftH);
  const masks = planes.map((plane) =>
    opts.saturationThreshold < 1 ? saturatedPixels(plane, fftW, fftH, threshold) : undefined,
  );
  const observed = masks.some(Boolean) && planes.map((plane) => Float32Array.from(plane));
  restoreTile(solver, planes, opts, masks);
  // The scene under a clipped pixel is at least as bright as the clip level: no dark holes in highlights.
  for (let c = 0; observed && c < channels; c++) {
    for (let i = 0; i < observed[c].length; i++)
      if (observed[c][i] >= threshold) planes[c][i] = Math.max(planes[c][i], observed[c][i]);
  }
  const strength = Math.min(1, Math.max(0, opts.strength));
  const bounds = opts.limitOvershoot && psfBounds(job.kernel, job.psfSize);
  const range =
    bounds &&
    localRange(
      { width: ew, height: eh, channels, data: pixels },
      Math.max(1, -bounds.left, bounds.right, -bounds.top, bounds.bottom),
    );
  const out = new Float32Array(tile.width * tile.height * channels);
  for (let y = 0; y < tile.height; y++) {
    const row = (y + job.tileY) * fftW + job.tileX;
    for (let x = 0; x < tile.width; x++) {
      const src = ((y + job.tileY) * ew + x + job.tileX) * channels;
      for (let c = 0; c < channels; c++) {
        const input = pixels[src + c];
        let restored = decode(planes[c][row + x]);
        if (range) restored = Math.min(range.high[src + c], Math.max(range.low[src + c], restored));
        out[(y * tile.width + x) * channels + c] = input + strength * (restored - input);
      }
    }
  }
  return out;
}

/**
 * Removes a known blur (blurry = correlate(sharp, psf)) from a gamma-encoded image of any size. A PsfGrid
 * gives each tile the PSF interpolated at its centre. Tiles run on worker threads when the built worker
 * is there (core/tile-threads.ts), in this thread otherwise.
 */
export async function deconvolve(
  image: FloatImage,
  psf: Psf | PsfGrid,
  options: DeconvolutionOptions = {},
  ctx: DeconvolutionContext = {},
): Promise<FloatImage> {
  const opts = { ...DEFAULTS, ...options };
  const { width, height, channels } = image;
  await checkpoint(ctx.signal);
  if (opts.strength <= 0) return { width, height, channels, data: Float32Array.from(image.data) };

  const grid: PsfGrid = 'cells' in psf ? psf : { rows: 1, cols: 1, cells: [psf] };
  if (grid.cells.length !== grid.rows * grid.cols)
    throw new RangeError('the PSF grid has the wrong cell count');
  const psfSize = Math.max(...grid.cells.map((p) => p.size));
  const pad = psfSize + 8;
  // Restored pixels within a PSF of a tile's edge depend on the made-up extension: discard them.
  const halo = psfSize + 1;
  const overlap = psfSize + 1;
  const columns = planAxis(width, opts.tileSize, pad, halo, overlap);
  const rows = planAxis(height, opts.tileSize, pad, halo, overlap);
  const jobs = rows.spans.flatMap((ry) =>
    columns.spans.map((rx) => (): ExtentJob => {
      const pixels = new Float32Array(rx.extentSize * ry.extentSize * channels);
      for (let y = 0; y < ry.extentSize; y++) {
        const from = ((ry.extentStart + y) * width + rx.extentStart) * channels;
        pixels.set(image.data.subarray(from, from + rx.extentSize * channels), y * rx.extentSize * channels);
      }
      return {
        tile: { x: rx.start, y: ry.start, width: rx.size, height: ry.size },
        pixels,
        channels,
        extentWidth: rx.extentSize,
        extentHeight: ry.extentSize,
        tileX: rx.start - rx.extentStart,
        tileY: ry.start - ry.extentStart,
        fftWidth: columns.fft,
        fftHeight: rows.fft,
        kernel: psfAt(grid, width, height, rx.start + rx.size / 2, ry.start + ry.size / 2, psfSize),
        psfSize,
        options: opts,
      };
    }),
  );
  const blender = new TileBlender(width, height, channels, overlap);
  let done = 0;
  await runTiles(
    builtWorker('deconvolution-worker'),
    tileThreads(),
    jobs,
    restoreExtent,
    async (job, pixels) => {
      blender.add(job.tile, pixels);
      ctx.onProgress?.(++done, jobs.length);
      await checkpoint(ctx.signal);
    },
    ctx.signal,
  );
  return blender.result();
}
