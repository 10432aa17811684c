// Non-blind kernel estimation: the blur between an aligned sharp/blurry pair, measured as an explicit PSF per
// region of a grid. Each region's PSF is blind-kernel.ts's gradient-domain kernel fit with the sharp photo's
// gradients in place of a latent image (regularised least squares by conjugate gradients, then negative and
// faint taps dropped and the trace recentred), on linear-light luma where blur adds up. How far each can be
// trusted: whether the two halves of its window give the same PSF on their own, how much of the blurry
// photo's detail it explains, and whether its neighbours agree.
import type { Region } from '../../common/api';
import { srgbToLinearTable } from '../core/colour';
import { checkpoint } from '../core/progress';
import { crop, type FloatImage } from '../core/tiling';
import { gridRegions, type Psf } from '../kernels/psf';
import {
  cleanPsf,
  deltaPsf,
  edgeMass,
  psfSimilarity,
  ScaleSolver,
  upscalePsf,
  type GreyImage,
} from './blind-kernel';
import type { PsfGrid } from './deconvolution';
import { blurExtent, type Reliability } from './fast-mode';
import { halfSize, mostTexturedWindow } from './image-ops';
import { tileFftSize } from './tile-fft';

/** Regions are at least this many pixels on each side, and the grid at most MAX_GRID x MAX_GRID. */
const MIN_REGION = 256;
const MAX_GRID = 3;
/** Side of the estimation window in each region, at most: with the largest support it fills a 512 FFT. */
const WINDOW = 384;
/** Supports tried in turn (see `regionPsf`), each at most the window's side / 2.5 but the first. */
const SUPPORTS = [31, 63, 95];
/** A PSF with this much of its mass within 3 taps of its support's border may be cut short. */
const EDGE_MASS_LIMIT = 0.1;
/** Tikhonov weight of the fit, relative to the sharp window's gradient energy (the normal matrix's diagonal). */
const RIDGE = 1e-3;
const CG_STEPS = 60;
/** Taps below this fraction of the peak are estimation noise. */
const TAP_FLOOR = 0.04;
/** A PSF no wider than this is a point: no blur. */
export const POINT_PX = 3;
/**
 * How far a region's PSF is trusted. Failed: the PSFs fitted to the two halves of its window on their own
 * differ (similarity under SELF_FAILED). Uncertain: they differ somewhat (SELF_UNCERTAIN), it explains little
 * of the blurry gradients (EXPLAINED_UNCERTAIN), it resembles none of its neighbours (NEIGHBOURS_UNCERTAIN),
 * or it is cut short by the largest support. The explained share is no test of failure: where noise is most
 * of the blurry window's detail it stays low while the PSF is right. Thresholds from synthetic pairs with
 * noise and JPEG and from GoPro frame averages (decision 0019).
 */
const SELF_FAILED = 0.45;
const SELF_UNCERTAIN = 0.6;
const EXPLAINED_UNCERTAIN = 0.3;
const NEIGHBOURS_UNCERTAIN = 0.5;
/**
 * A larger support is tried while the PSF explains less than this (or reaches its border), and kept only
 * when it explains at least SUPPORT_GAIN more: extra taps also fit noise.
 */
const EXPLAINED_ENOUGH = 0.7;
const SUPPORT_GAIN = 0.02;

type Gradients = Array<[Float64Array, Float64Array]>;

export interface PairPsfs extends PsfGrid {
  /** Share of the blurry window's gradient energy each region's PSF explains (1 = all), row-major. */
  explained: number[];
  /** Each region's similarity between the PSFs of its window's two halves, row-major. */
  selfConsistency: number[];
  /** Each region's best similarity to a neighbouring region's PSF (1 with no neighbours), row-major. */
  consistency: number[];
  /** Each region's trust, row-major (see SELF_FAILED and below). */
  trust: Reliability[];
  /** Per region: not reliable. */
  doubtful: boolean[];
  reliability: Reliability;
  /** The verdict in words, for the photographer. */
  note: string;
}

export interface PairPsfOptions {
  /**
   * The window each region's PSF is measured on, row-major (square, inside its region); by default
   * `pairWindows(sharp)`. Given when only these windows of `sharp` are real (a stand-in for the sharp photo).
   */
  windows?: Region[];
  /**
   * `sharp` is the learned network's restoration of `blurry` (on `windows`): measured at half size (see
   * `fitWindow`), and the verdict says so.
   */
  standIn?: boolean;
  signal?: AbortSignal;
  /** Called after each region with the share of the work done. */
  onProgress?: (fraction: number) => void;
}

/** The grid for a frame: regions of at least MIN_REGION pixels, at most MAX_GRID per side. */
export function pairGrid(width: number, height: number): { rows: number; cols: number } {
  const count = (side: number) => Math.max(1, Math.min(MAX_GRID, Math.floor(side / MIN_REGION)));
  return { rows: count(height), cols: count(width) };
}

/** Linear-light luma of a window of an sRGB image. */
function linearLuma(image: FloatImage, x: number, y: number, side: number): GreyImage {
  const window = crop(image, x, y, side, side);
  const { channels, data: pixels } = window;
  const data = new Float64Array(side * side);
  for (let i = 0; i < data.length; i++) {
    const at = (c: number) => srgbToLinearTable(pixels[i * channels + c]);
    data[i] = channels >= 3 ? 0.2126 * at(0) + 0.7152 * at(1) + 0.0722 * at(2) : at(0);
  }
  return { width: side, height: side, data };
}

/** Sum of squared forward differences of a grey image (both directions). */
function gradientEnergy(image: GreyImage): number {
  const { width, height, data } = image;
  let sum = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = data[y * width + x];
      if (x + 1 < width) sum += (data[y * width + x + 1] - v) ** 2;
      if (y + 1 < height) sum += (data[(y + 1) * width + x] - v) ** 2;
    }
  }
  return sum;
}

/**
 * The share of the blurry window's gradient energy that the PSF explains, over the window's interior only:
 * within `margin` of its border the blurry pixels also saw what lies outside the window.
 */
function explainedShare(
  solver: ScaleSolver,
  sharpGradients: Gradients,
  blurryGradients: Gradients,
  psf: Psf,
  side: number,
  margin: number,
): number {
  const [kRe, kIm] = solver.psfSpectrum(psf);
  const reblurred = new Float64Array(solver.n);
  const target = new Float64Array(solver.n);
  let residual = 0;
  let energy = 0;
  sharpGradients.forEach(([xRe, xIm], d) => {
    const [bRe, bIm] = blurryGradients[d];
    const re = xRe.map((v, i) => v * kRe[i] - xIm[i] * kIm[i]);
    const im = xRe.map((v, i) => v * kIm[i] + xIm[i] * kRe[i]);
    solver.fft.inverse(re, im, reblurred);
    solver.fft.inverse(bRe, bIm, target);
    for (let y = margin; y < side - margin; y++) {
      for (let x = margin; x < side - margin; x++) {
        const p = y * solver.width + x;
        residual += (reblurred[p] - target[p]) ** 2;
        energy += target[p] ** 2;
      }
    }
  });
  return energy > 0 ? Math.max(0, 1 - residual / energy) : 1;
}

export interface RegionFit {
  psf: Psf;
  explained: number;
  /** Reached the largest support's border: the blur may be longer. */
  clipped: boolean;
  selfConsistency: number;
}

/** The fit's workspace for a pair of windows: the blurry window's solver, both gradient spectra, the weight. */
function gradientProblem(sharp: GreyImage, blurry: GreyImage, support: number) {
  const width = tileFftSize(sharp.width + support);
  const height = tileFftSize(sharp.height + support);
  const solver = new ScaleSolver(blurry, width, height);
  return {
    solver,
    sharpGradients: new ScaleSolver(sharp, width, height).blurryGradients(),
    blurryGradients: solver.blurryGradients(),
    weight: RIDGE * gradientEnergy(sharp),
  };
}

/** Rows [from, to) of a grey image. */
function rowsOf(image: GreyImage, from: number, to: number): GreyImage {
  const data = image.data.slice(from * image.width, to * image.width);
  return { width: image.width, height: to - from, data };
}

/**
 * How well the window determines its PSF: the similarity of the PSFs fitted to its top and its bottom half
 * on their own, each from a point. Where the blur can be measured, noise leaves the two alike; a blurry
 * photo that is no blur of the sharp one gives two unrelated fits.
 */
function selfConsistency(sharp: GreyImage, blurry: GreyImage, support: number): number {
  const half = sharp.height >> 1;
  const [top, bottom] = [
    [0, half],
    [half, sharp.height],
  ].map(([from, to]) => {
    const { solver, sharpGradients, blurryGradients, weight } = gradientProblem(
      rowsOf(sharp, from, to),
      rowsOf(blurry, from, to),
      support,
    );
    const fitted = solver.fitKernel(sharpGradients, blurryGradients, deltaPsf(support), weight, CG_STEPS);
    return cleanPsf(fitted, TAP_FLOOR);
  });
  return psfSimilarity(top, bottom);
}

/**
 * One region's PSF from its sharp and blurry windows (square, same side). The support grows while the PSF
 * runs into its border or explains too little (a blur longer than the support is fitted as noise); the fit
 * that explains most is kept.
 */
function regionPsf(sharp: GreyImage, blurry: GreyImage): RegionFit {
  const side = sharp.width;
  const supports = SUPPORTS.filter((s, i) => i === 0 || s <= side / 2.5);
  const { solver, sharpGradients, blurryGradients, weight } = gradientProblem(
    sharp,
    blurry,
    supports[supports.length - 1],
  );
  let best: Omit<RegionFit, 'selfConsistency'> | null = null;
  let previous: Psf | null = null;
  for (const support of supports) {
    const start = previous ? upscalePsf(previous, support, 1) : deltaPsf(support);
    const fitted = solver.fitKernel(sharpGradients, blurryGradients, start, weight, CG_STEPS);
    previous = cleanPsf(fitted, TAP_FLOOR);
    // Measured with the fit as it came, before recentring: a shift between the shots is not a poor fit.
    const mass = fitted.weights.reduce((a, b) => a + b, 0);
    const raw = { size: support, weights: fitted.weights.map((w) => (mass > 0 ? w / mass : 0)) };
    const explained = explainedShare(solver, sharpGradients, blurryGradients, raw, side, support >> 1);
    const clipped = edgeMass(previous, 3) >= EDGE_MASS_LIMIT;
    if (!best || explained >= best.explained + SUPPORT_GAIN) best = { psf: previous, explained, clipped };
    if (!clipped && explained >= EXPLAINED_ENOUGH) break;
  }
  const { psf, explained, clipped } = best!;
  return {
    psf,
    explained,
    // A PSF at its border is only cut short when no larger support was left to try.
    clipped: clipped && psf.size === supports[supports.length - 1],
    selfConsistency: selfConsistency(sharp, blurry, psf.size),
  };
}

/**
 * Where each region's PSF is measured: the most detailed square of each region of `pairGrid` (flat areas
 * say nothing about the blur), `maxSide` pixels at most, row-major.
 */
export function pairWindows(image: FloatImage, maxSide = WINDOW): Region[] {
  const { rows, cols } = pairGrid(image.width, image.height);
  return gridRegions(rows, cols, image).map((region) => {
    const side = Math.min(region.width, region.height, maxSide);
    const at = mostTexturedWindow(crop(image, region.x, region.y, region.width, region.height), side, 16);
    return { x: region.x + at.x, y: region.y + at.y, width: side, height: side };
  });
}

/** A region's trust from its fit and its best similarity to a neighbour (see SELF_FAILED). */
function regionTrust(fit: RegionFit, neighbours: number): Reliability {
  if (fit.selfConsistency < SELF_FAILED) return 'failed';
  const doubtful =
    fit.selfConsistency < SELF_UNCERTAIN ||
    fit.explained < EXPLAINED_UNCERTAIN ||
    neighbours < NEIGHBOURS_UNCERTAIN ||
    fit.clipped;
  return doubtful ? 'uncertain' : 'reliable';
}

export interface WindowPsf extends RegionFit {
  trust: Reliability;
}

/**
 * The fit of the square window at (x, y). With `standIn` (`sharp` is the network's restoration) it is made at
 * half size and the PSF carried back: the network's finest detail is its least faithful (a slight residual
 * blur, invented texture), which a fit at full size reads as a shorter blur (decision 0020).
 */
function fitWindow(
  sharp: FloatImage,
  blurry: FloatImage,
  x: number,
  y: number,
  side: number,
  standIn: boolean,
): RegionFit {
  if (!standIn) return regionPsf(linearLuma(sharp, x, y, side), linearLuma(blurry, x, y, side));
  const half = side >> 1;
  const shrink = (image: FloatImage) => halfSize(crop(image, x, y, 2 * half, 2 * half));
  const fit = regionPsf(linearLuma(shrink(sharp), 0, 0, half), linearLuma(shrink(blurry), 0, 0, half));
  return { ...fit, psf: cleanPsf(upscalePsf(fit.psf, 2 * fit.psf.size + 1, 2), TAP_FLOOR) };
}

/**
 * The PSF of one window of an aligned pair (the square `window` of both, sRGB 0..1), measured and trusted as
 * one region of `estimatePairPsfs` with no neighbours. Fast mode's guided estimate (guided-kernel.ts).
 */
export function windowPsf(sharp: FloatImage, blurry: FloatImage, window: Region, standIn = false): WindowPsf {
  const fit = fitWindow(sharp, blurry, window.x, window.y, Math.min(window.width, window.height), standIn);
  return { ...fit, trust: regionTrust(fit, 1) };
}

/**
 * The blur between an aligned sharp and blurry photo (same size, sRGB 0..1): blurry ≈ correlate(sharp, psf)
 * per region, with the confidence of each and a verdict. Regions follow `gridRegions(pairGrid(...))`.
 */
export async function estimatePairPsfs(
  sharp: FloatImage,
  blurry: FloatImage,
  options: PairPsfOptions = {},
): Promise<PairPsfs> {
  const { rows, cols } = pairGrid(sharp.width, sharp.height);
  const windows = options.windows ?? pairWindows(sharp);
  const fits: RegionFit[] = [];
  for (const { x, y, width: side } of windows) {
    fits.push(fitWindow(sharp, blurry, x, y, side, options.standIn ?? false));
    options.onProgress?.(fits.length / windows.length);
    await checkpoint(options.signal);
  }
  const cells = fits.map((fit) => fit.psf);
  const consistency = cells.map((psf, index) => {
    const [r, c] = [Math.floor(index / cols), index % cols];
    const neighbours = [
      [r - 1, c],
      [r + 1, c],
      [r, c - 1],
      [r, c + 1],
    ].filter(([nr, nc]) => nr >= 0 && nc >= 0 && nr < rows && nc < cols);
    if (!neighbours.length) return 1;
    return Math.max(...neighbours.map(([nr, nc]) => psfSimilarity(psf, cells[nr * cols + nc])));
  });
  const trust = fits.map((fit, i) => regionTrust(fit, consistency[i]));
  return {
    rows,
    cols,
    cells,
    explained: fits.map((fit) => fit.explained),
    selfConsistency: fits.map((fit) => fit.selfConsistency),
    consistency,
    trust,
    doubtful: trust.map((t) => t !== 'reliable'),
    ...judge(cells, trust, options.standIn ?? false),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The blur's length and direction in words, from the PSFs' median extent and second moments. */
export function describeBlur(cells: Psf[]): string {
  const length = Math.round(median(cells.map(blurExtent)));
  let [xx, yy, xy] = [0, 0, 0];
  for (const psf of cells) {
    const c = psf.size >> 1;
    psf.weights.forEach((w, i) => {
      const [x, y] = [(i % psf.size) - c, Math.floor(i / psf.size) - c];
      xx += w * x * x;
      yy += w * y * y;
      xy += w * x * y;
    });
  }
  // The principal axis of the summed moments; a streak when the spread across it is under half along it.
  const root = Math.hypot((xx - yy) / 2, xy);
  const [major, minor] = [(xx + yy) / 2 + root, (xx + yy) / 2 - root];
  const degrees = Math.abs((Math.atan2(2 * xy, xx - yy) * 90) / Math.PI);
  const direction =
    minor > 0.25 * major
      ? 'in more than one direction'
      : degrees < 22.5
        ? 'sideways'
        : degrees > 67.5
          ? 'up and down'
          : 'diagonal';
  return `about ${length} px long, ${direction}`;
}

function judge(
  cells: Psf[],
  trust: Reliability[],
  standIn: boolean,
): { reliability: Reliability; note: string } {
  const count = cells.length;
  const sharpOne = standIn ? "the network's restoration of it" : 'the sharp one';
  if (trust.filter((t) => t === 'failed').length > count / 2) {
    return {
      reliability: 'failed',
      note: standIn
        ? 'No blur could be measured reliably: the blurry photo does not look like a blurred copy of the ' +
          "network's restoration of it (moving subjects, strong noise, or too little detail). A sharp photo " +
          'of the same scene, taken from the same position, would measure it.'
        : 'No blur could be measured reliably: the blurry photo does not look like a blurred copy of the sharp ' +
          'one (another moment, moving subjects, strong noise, or a shift between the shots). Choose two shots ' +
          'of the same scene taken from the same position.',
    };
  }
  const flagged = trust.filter((t) => t !== 'reliable').length;
  if (cells.every((psf) => blurExtent(psf) <= POINT_PX)) {
    return {
      reliability: flagged ? 'uncertain' : 'reliable',
      note:
        (standIn
          ? "No blur was found: the photo is as sharp as the network's restoration of it. "
          : 'No blur was found between the two photos: the blurry one is as sharp as the sharp one. ') +
        'Applying this kernel leaves a photo as it is.',
    };
  }
  const blur = describeBlur(cells);
  if (flagged) {
    const where = count > 1 ? ` in ${flagged} of ${count} regions (marked)` : '';
    return {
      reliability: 'uncertain',
      note:
        `The blur (${blur}) is uncertain${where}: the blurry photo is not fully explained by a blur of ` +
        `${sharpOne} there (noise, moving subjects, or too little detail).`,
    };
  }
  return { reliability: 'reliable', note: `The blur was measured reliably: ${blur}.` };
}
