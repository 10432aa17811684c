// Fast blind deblurring for full-size photos: one uniform blur kernel is estimated blindly on the linear-light
// luma of a textured window (or the user's region), coarse to fine (blind-kernel.ts: L0-gradient latent and
// gradient-domain kernel fit, Pan et al. 2014 / Xu et al. 2013), then the whole photo is deconvolved with it
// tile by tile. Where the first estimate is not a point (no blur), a second one whose finest scale fits the
// kernel on low-passed gradients gives its shape. The same two passes fitted to the window's inner edges alone
// run beside them on another thread; where the first is trusted, the one whose two finest scales agree better is
// kept. A point, a kernel that fills its support, or one that changes shape between the two finest scales is not
// trusted: the restoration is then weakened or skipped, so that the photo is not made worse. The learned
// restorer, when asked for, then runs over the result (learned-restore.ts).
import type { Region } from '../../common/api';
import { srgbToLinear } from '../core/colour';
import { checkpoint, type JobContext } from '../core/progress';
import { luma, psfBounds, type Psf } from '../kernels/psf';
import type { Restorer } from '../model/restorer';
import { crop, type FloatImage } from '../core/tiling';
import {
  BLIND_KERNEL_DEFAULTS,
  estimateBlurKernel,
  type BlindKernelOptions,
  type BlurEstimate,
  type FinestStart,
  type GreyImage,
  type Point,
} from './blind-kernel';
import { builtWorker, runOnThread, tileThreads } from '../core/tile-threads';
import { deconvolve, type DeconvolutionOptions } from './deconvolution';
import { mostTexturedWindow, noiseLevel } from './image-ops';
import { restoreLearned } from './learned-restore';

export interface FastModeOptions {
  /** The longest blur to look for, in full-resolution pixels. */
  maxBlurPx: number;
  /** Where to estimate the blur (this region alone); the most textured window and its surroundings when absent. */
  roi?: Region;
  strength: number;
  /** Run after the deconvolution (also when the blur estimate failed), at the same strength. */
  restorer?: Restorer;
  /**
   * Called with the accepted kernel and strength before the full-size restoration (for a quick preview), and
   * the job's progress at that point.
   */
  onKernel?: (psf: Psf, strength: number, progress: number) => Promise<void>;
  /**
   * Finds the kernel on the window instead of the blind estimate (the guided estimate of guided-kernel.ts);
   * the photo is then restored as after a blind one.
   */
  estimator?: KernelEstimator;
  /** Overrides of the estimator's and the deconvolution's settings (benchmarks tune with these). */
  blind?: Partial<BlindKernelOptions>;
  deconvolution?: DeconvolutionOptions;
}

/** A kernel estimate on `window` of the photo and its trust; progress runs from 0 to `progressEnd`. */
export type KernelEstimator = (
  photo: FloatImage,
  window: Region,
  ctx: JobContext,
  progressEnd: number,
) => Promise<{ estimate: BlurEstimate; reliability: Reliability }>;

export const FAST_DEFAULTS: FastModeOptions = {
  maxBlurPx: 75,
  strength: 1,
};

/**
 * Kernel supports tried in turn (full-resolution pixels) while the estimate reaches the edge of its
 * support; the last try uses `maxBlurPx`. A small support first: extra support is room for noise taps.
 */
const SUPPORTS = [31, 51];
/** The finest scale's low-pass (px) for the second estimate (`BlindKernelOptions.fineLowPass`). */
const FINE_LOW_PASS = 1.2;
/** The plain pass's share of an estimate's time (the low-pass pass redoes the finest scale alone). */
const PLAIN_PASS_SHARE = 0.8;
/**
 * A kernel with this much of its mass at its support's border, or reaching within this many pixels of the
 * support's side, may be cut short: the next support is tried. Sparse traces (contrast-stretched estimation)
 * can end short of the border with little mass there (a real 40 px shake stopped at 27 px in a 31 px support).
 */
const EDGE_MASS_LIMIT = 0.1;
const FILLED_SUPPORT_PX = 4;

/** Side of the estimation window at full resolution; coarser scales see up to WINDOW / scale pixels. */
const WINDOW = 448;
/** How much of the photo around the window the coarse scales may use (the coarsest is about 1/8). */
const CONTEXT = 4;
/** Below this side there is too little of the photo to tell blur from content. */
export const FAST_MIN_SIDE = 48;

/**
 * How far the estimate can be trusted. Reliable: the two finest scales agree, the kernel is a trace rather
 * than a blob or a point, and it does not run into its support's border. Thresholds from the per-pair table of
 * `npm run bench:deblur -- --verbose` (decision 0018).
 */
export type Reliability = 'reliable' | 'uncertain' | 'failed';
export function reliability(
  estimate: Pick<BlurEstimate, 'psf' | 'consistency' | 'fill' | 'edgeMass'>,
): Reliability {
  // A point is no motion blur: "removing" it would only sharpen the noise. A kernel with a fifth of its mass in
  // one tap is mostly a point with a faint smear: what shading, soft edges and repeated structure give a sharp
  // photo (decision 0018, sixth amendment).
  if (isPoint(estimate.psf)) return 'failed';
  if (estimate.fill > FILL_FAILED || estimate.consistency < CONSISTENCY_FAILED) return 'failed';
  if (isArea(estimate.psf)) return 'failed';
  if (
    estimate.fill > FILL_UNCERTAIN ||
    estimate.consistency < CONSISTENCY_UNCERTAIN ||
    estimate.edgeMass >= EDGE_MASS_LIMIT
  )
    return 'uncertain';
  return 'reliable';
}
const NO_BLUR_PX = 3;
const POINT_SHARE = 0.2;
const FILL_FAILED = 0.18;
const FILL_UNCERTAIN = 0.15;
const CONSISTENCY_FAILED = 0.6;
const CONSISTENCY_UNCERTAIN = 0.75;

/** No motion blur: a kernel a few taps across, or one with a fifth of its mass in one tap. */
function isPoint(psf: Psf): boolean {
  return blurExtent(psf) <= NO_BLUR_PX || peakShare(psf) >= POINT_SHARE;
}

/**
 * A camera's shake draws a path: its taps grow with its length, a few pixels wide (at most 11.3 per pixel of
 * extent among the kernels found on the tiers, loops included). A kernel with more taps per pixel of extent covers
 * an area: a blob fitted to content (a bamboo grove's parallel stalks), not motion blur (decision 0018, tenth
 * amendment).
 */
function isArea(psf: Psf): boolean {
  const peak = Math.max(...psf.weights);
  const taps = psf.weights.filter((w) => w >= 0.02 * peak).length;
  return taps > AREA_TAPS_PER_PX * blurExtent(psf);
}
const AREA_TAPS_PER_PX = 14;

/** The share of a PSF's mass in its largest tap. */
function peakShare(psf: Psf): number {
  let total = 0;
  let peak = 0;
  for (const w of psf.weights) {
    total += w;
    peak = Math.max(peak, w);
  }
  return total > 0 ? peak / total : 1;
}

/** The longest side of the box of a PSF's taps of at least 2 % of its peak. */
export function blurExtent(psf: Psf): number {
  const b = psfBounds(psf.weights, psf.size);
  return Math.max(b.right - b.left, b.bottom - b.top) + 1;
}

/**
 * The non-blind step's settings for a photo: a hyper-Laplacian prior of exponent 0.8 and a data weight that
 * follows the noise measured on the photo (lambda = c / sigma^2 in linear light), within bounds: a noisy
 * photo is restored more gently. c and the bounds scored best for the true kernel's restoration over the
 * clean and realistic tiers together (decision 0018).
 */
export function nonBlindOptions(photo: FloatImage, lambda?: number): DeconvolutionOptions {
  // A weight already chosen (a job's, from the same photo) spares measuring the noise again.
  if (lambda !== undefined) return { alpha: 0.8, lambda };
  const sigma = Math.max(noiseLevel(photo), 1e-6);
  return { alpha: 0.8, lambda: Math.min(LAMBDA_MAX, Math.max(LAMBDA_MIN, NOISE_WEIGHT / (sigma * sigma))) };
}
const NOISE_WEIGHT = 0.01;
const LAMBDA_MIN = 100;
const LAMBDA_MAX = 500;

export interface FastResult {
  image: FloatImage;
  psf: Psf;
  window: Region;
  reliability: Reliability;
  /** The estimate's own measures, behind `reliability`. */
  estimate: BlurEstimate;
}

/** The part of the photo centred on `window` that is `side` wide at most, clamped to the photo. */
function around(photo: FloatImage, window: Region, side: number): Region {
  const width = Math.min(photo.width, Math.max(window.width, side));
  const height = Math.min(photo.height, Math.max(window.height, side));
  const clamp = (v: number, max: number) => Math.max(0, Math.min(max, Math.round(v)));
  return {
    x: clamp(window.x + window.width / 2 - width / 2, photo.width - width),
    y: clamp(window.y + window.height / 2 - height / 2, photo.height - height),
    width,
    height,
  };
}

/**
 * Where the estimate and the deconvolution end on the progress bar, in proportion to their time, so that the
 * ETA (elapsed time extrapolated from the progress) holds. In megapixels deconvolved on two threads: the
 * estimate works on a fixed window and takes about as long as 3 MP (measured; decision 0006), a fifth more with
 * its second pass, which most blurred photos get; photos under 2 MP cost about as much as 2 MP (padded FFTs, at
 * most two tiles); the learned restorer takes about as long as the deconvolution.
 */
function progressMarks(
  pixels: number,
  withRestorer: boolean,
  estimating = true,
): { estimated: number; deconvolved: number } {
  const estimate = estimating ? 3.6e6 : 0;
  const deconvolution = Math.max(pixels, 2e6);
  const total = estimate + deconvolution * (withRestorer ? 2 : 1);
  return { estimated: estimate / total, deconvolved: (estimate + deconvolution) / total };
}

export async function fastDeblur(
  photo: FloatImage,
  options: FastModeOptions,
  ctx: JobContext,
): Promise<FastResult> {
  const side = Math.min(photo.width, photo.height, WINDOW);
  const window: Region = options.roi ?? {
    ...mostTexturedWindow(photo, side, Math.max(8, Math.round(side / 8))),
    width: side,
    height: side,
  };
  const windowSide = Math.min(side, Math.max(window.width, window.height));
  if (windowSide < FAST_MIN_SIDE) {
    const what = options.roi
      ? `region (${window.width}x${window.height})`
      : `photo (${photo.width}x${photo.height})`;
    throw new Error(
      `The ${what} is too small to estimate the blur: fast mode needs at least ${FAST_MIN_SIDE} pixels ` +
        `on each side.`,
    );
  }
  const marks = progressMarks(photo.width * photo.height, options.restorer !== undefined);
  const { estimate, reliability: trust } = options.estimator
    ? await options.estimator(photo, window, ctx, marks.estimated)
    : await blindEstimate(photo, window, windowSide, options, ctx, marks.estimated);
  const image = await restore(photo, trust === 'failed' ? null : estimate.psf, trust, options, ctx, marks);
  return { image, psf: estimate.psf, window, reliability: trust, estimate };
}

/** Fast mode's own estimate: blind, on the window's linear-light luma; progress runs from 0 to `progressEnd`. */
async function blindEstimate(
  photo: FloatImage,
  window: Region,
  windowSide: number,
  options: FastModeOptions,
  ctx: JobContext,
  progressEnd: number,
): Promise<{ estimate: BlurEstimate; reliability: Reliability }> {
  // The automatic window's coarse scales also see the photo around it; a region the user chose is used alone,
  // since its blur may differ from the rest of the photo's.
  const area = around(photo, window, options.roi ? 0 : CONTEXT * WINDOW);
  const pixels = crop(photo, area.x, area.y, area.width, area.height);
  // Blur adds up light: the kernel is estimated on linear-light luma.
  const grey = luma(pixels.data, area.width * area.height).map((v) =>
    srgbToLinear(Math.min(1, Math.max(0, v))),
  );
  // A kernel longer than a third of the window cannot be told from the photo's content.
  const longest = Math.min(options.maxBlurPx, Math.floor(windowSide / 3));
  const supports = SUPPORTS.filter((support) => support < longest).concat(longest);
  const plane: GreyImage = { width: area.width, height: area.height, data: grey };
  // The window's centre within the area: the area is clamped to the photo, so it need not be centred there.
  const focus = { x: window.x + window.width / 2 - area.x, y: window.y + window.height / 2 - area.y };
  const input: EstimateInput = { plane, focus, windowSide, supports, blind: options.blind ?? {} };
  // The estimate is chaotic on a small window: a second one, fitted to the window's inner edges alone, finds
  // some blurs that the first misses, and the two finest scales of the right one agree better (decision 0018,
  // tenth amendment). It runs beside the first on a thread of its own, so that it costs no time on two cores.
  const second = secondEstimate({ ...input, blind: { innerEdges: true, ...input.blind } }, ctx.signal);
  try {
    const first = await estimateBlur(input, ctx, progressEnd);
    const trust = reliability(first);
    // The second estimate may improve a kernel the first trusts, not rescue a failed one: on a blurred face
    // with few edges it found a scattered 55 px blob whose scales agreed, and the restoration tore the face.
    if (trust === 'failed') return { estimate: first, reliability: trust };
    ctx.progress({ stage: 'comparing with a second estimate of the blur', progress: progressEnd });
    const other = await second.result();
    const otherTrust = reliability(other);
    return otherTrust !== 'failed' && other.consistency > first.consistency
      ? { estimate: other, reliability: otherTrust }
      : { estimate: first, reliability: trust };
  } finally {
    second.cancel();
  }
}

/** What one estimate of the blur works on: the photo's luma around the window, and its settings. */
export interface EstimateInput {
  plane: GreyImage;
  focus: Point;
  windowSide: number;
  supports: number[];
  blind: Partial<BlindKernelOptions>;
}

/**
 * The second estimate, started now: on a thread of its own when the engine is built and has two threads, else
 * in this thread once its result is asked for. `cancel` ends it if it is still running.
 */
function secondEstimate(
  input: EstimateInput,
  signal: AbortSignal,
): { result(): Promise<BlurEstimate>; cancel(): void } {
  const file = builtWorker('blind-estimate-worker');
  const stop = new AbortController();
  const quiet: JobContext = { signal: AbortSignal.any([signal, stop.signal]), progress: () => undefined };
  if (!file || tileThreads() < 2)
    return { result: () => estimateBlur(input, quiet), cancel: () => stop.abort() };
  const running = runOnThread<BlurEstimate>(file, input, quiet.signal);
  // A result nobody asks for (the first estimate found no blur, or failed) is not an error.
  running.catch(() => undefined);
  return { result: () => running, cancel: () => stop.abort() };
}

/**
 * One estimate of the blur: Pan et al.'s plain fit over the supports, which tells whether there is a blur at
 * all (on a sharp photo the low-pass fit grows a smooth blob that the point test would pass); where there is
 * one, the fit on low-passed gradients, resumed from the plain fit's finest scales, finds its shape with less
 * scatter (decision 0018, eighth amendment). Progress and the loss curve run from 0 to `progressEnd`.
 */
export async function estimateBlur(
  { plane, focus, windowSide, supports, blind }: EstimateInput,
  ctx: JobContext,
  progressEnd = 1,
): Promise<BlurEstimate> {
  const split = PLAIN_PASS_SHARE * progressEnd;
  const steps = { done: 0 };
  const finestStarts = new Map<number, FinestStart>();
  const plain = await estimateOverSupports(plane, focus, windowSide, supports, blind, ctx, {
    span: [0, split],
    stage: 'estimating the blur',
    steps,
    finestStarts,
  });
  if (isPoint(plain.psf)) return plain;
  const lowPass = { fineLowPass: FINE_LOW_PASS, ...blind };
  return estimateOverSupports(plane, focus, windowSide, supports, lowPass, ctx, {
    span: [split, progressEnd],
    stage: "refining the blur's shape",
    steps,
    finestStarts,
    resume: true,
  });
}

/**
 * Fast mode with a kernel already found (new settings on the same blur): its restoration alone, as
 * `fastDeblur` would restore with that kernel trusted.
 */
export async function restoreWithKernel(
  photo: FloatImage,
  psf: Psf,
  options: FastModeOptions,
  ctx: JobContext,
): Promise<FloatImage> {
  const marks = progressMarks(photo.width * photo.height, options.restorer !== undefined, false);
  return restore(photo, psf, 'reliable', options, ctx, marks);
}

/**
 * The restoration once the kernel is judged: the deconvolution (none for a failed estimate; half strength for
 * an uncertain one) up to `marks.deconvolved` on the progress bar, then the learned restorer when given.
 */
async function restore(
  photo: FloatImage,
  psf: Psf | null,
  trust: Reliability,
  options: FastModeOptions,
  ctx: JobContext,
  marks: { estimated: number; deconvolved: number },
): Promise<FloatImage> {
  const { restorer } = options;
  const { deconvolved } = marks;
  let image = photo;
  if (!psf) {
    ctx.progress({
      stage: restorer
        ? 'no motion blur could be measured reliably: only the learned restorer is applied'
        : 'no motion blur could be measured reliably: the photo is left unchanged',
      progress: deconvolved,
    });
    await checkpoint(ctx.signal);
  } else {
    const strength = trust === 'uncertain' ? options.strength / 2 : options.strength;
    const stage =
      trust === 'uncertain'
        ? 'restoring the photo at half strength (the blur estimate is uncertain)'
        : 'restoring the photo';
    await options.onKernel?.(psf, strength, marks.estimated);
    ctx.progress({ stage, progress: marks.estimated });
    image = await deconvolve(
      photo,
      psf,
      {
        strength,
        ...nonBlindOptions(photo, options.deconvolution?.lambda),
        ...(ctx.tileSize && { tileSize: ctx.tileSize }),
        ...options.deconvolution,
      },
      {
        signal: ctx.signal,
        onProgress: (tile, total) =>
          ctx.progress({
            stage,
            progress: marks.estimated + ((deconvolved - marks.estimated) * tile) / total,
          }),
      },
    );
  }
  if (restorer) {
    image = await restoreLearned(restorer, image, options.strength, ctx, (fraction) =>
      ctx.progress({
        stage: 'running the learned restorer',
        progress: deconvolved + (1 - deconvolved) * fraction,
      }),
    );
  }
  return image;
}

/**
 * One pass of the blind estimate: its stretch of the progress bar, its stage, the loss curve's steps so far
 * (numbered on across supports and passes, so that the curve runs left to right), and each support's state on
 * reaching the finest scale: recorded by the plain pass; the low-pass pass, which differs only there, resumes
 * from it (`resume`) and so costs about one scale of the plain pass's five or more.
 */
interface EstimatePass {
  span: [number, number];
  stage: string;
  steps: { done: number };
  finestStarts: Map<number, FinestStart>;
  resume?: boolean;
}

/** The blind estimate, its support grown through `supports` while the kernel runs into the support's border. */
async function estimateOverSupports(
  plane: GreyImage,
  focus: Point,
  windowSide: number,
  supports: number[],
  blind: Partial<BlindKernelOptions>,
  ctx: JobContext,
  { span: [progressStart, progressEnd], stage: passStage, steps, finestStarts, resume }: EstimatePass,
): Promise<BlurEstimate> {
  let estimate!: BlurEstimate;
  for (const [attempt, support] of supports.entries()) {
    const stage = attempt ? `${passStage} (looking for one up to ${support} px)` : passStage;
    const firstStep = steps.done;
    estimate = await estimateBlurKernel(plane, {
      ...BLIND_KERNEL_DEFAULTS,
      kernelSize: support,
      window: windowSide,
      focus,
      ...blind,
      ...(resume
        ? { finestStart: finestStarts.get(support) }
        : { onFinestStart: (start: FinestStart) => finestStarts.set(support, start) }),
      signal: ctx.signal,
      onProgress: (alternation, fraction, loss) => {
        steps.done = firstStep + alternation;
        ctx.progress({
          stage,
          progress: progressStart + ((attempt + fraction) / supports.length) * (progressEnd - progressStart),
          loss: {
            step: steps.done,
            terms: {
              total: loss.data + loss.kernel,
              'data (gradients)': loss.data,
              'kernel prior': loss.kernel,
            },
          },
        });
      },
    });
    if (estimate.edgeMass < EDGE_MASS_LIMIT && blurExtent(estimate.psf) < support - FILLED_SUPPORT_PX) break;
  }
  return estimate;
}
