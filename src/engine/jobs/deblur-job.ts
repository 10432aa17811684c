// The deblur job: reads the photo, restores it (fast mode: blind kernel estimation and full-size
// deconvolution; paper mode: Algorithm 1 on a region; learned mode: the deblurring network, tiled, on the
// photo or a region), blends by strength, and writes it with the input's size, bit depth and metadata.
import sharp from 'sharp';
import type { BlurKernel, JobResult, JobSpec, Region } from '../../common/api';
import {
  FAST_DEFAULTS,
  fastDeblur,
  nonBlindOptions,
  restoreWithKernel,
  type FastModeOptions,
  type KernelEstimator,
  type Reliability,
} from '../deblur/fast-mode';
import { deconvolve, type DeconvolutionOptions } from '../deblur/deconvolution';
import { PAPER_DEFAULTS, paperDeblur, paperSchedule } from '../deblur/paper-mode';
import { deblurLearned, networkRestore, type LearnedNetwork } from '../deblur/learned-mode';
import { withGuidedEstimate } from '../deblur/guided-kernel';
import { readPhoto, type Photo } from '../image';
import { psfBounds, type Psf } from '../kernels/psf';
import { renderTracePng } from '../kernels/trace';
import type { LoadedModel } from '../model/model-store';
import type { Restorer } from '../model/restorer';
import { crop, type FloatImage } from '../core/tiling';
import { quantise8 } from '../core/colour';
import { writeResult } from './output';
import type { JobContext } from '../core/progress';

/** Paper mode optimises every pixel through F: beyond this it would take hours here, so a region is asked for. */
export const PAPER_MAX_PIXELS = 1024 * 1024;
const PREVIEW_SIDE = 512;

async function previewDataUrl(image: FloatImage): Promise<string> {
  const jpeg = await sharp(quantise8(image.data), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/** JPEG quality of restored regions sent as previews: fine enough to judge sharpness on. */
export const REGION_PREVIEW_QUALITY = 92;

/** A region restored at full resolution, as a JPEG data URL. */
async function regionDataUrl(image: FloatImage): Promise<string> {
  const jpeg = await sharp(quantise8(image.data), {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .jpeg({ quality: REGION_PREVIEW_QUALITY })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/** Fast mode's deconvolution settings for a photo: its own (from its noise), the prior weighted as asked. */
export function fastSettings(photo: FloatImage, priorWeight: number): DeconvolutionOptions {
  const own = nonBlindOptions(photo);
  return { ...own, lambda: own.lambda! / priorWeight };
}

/** The pixels around a region, in kernel sides, that its restoration sees: beyond them a pixel's influence is lost in the noise. */
const REGION_CONTEXT = 4;

/**
 * Fast mode's restoration of one region of `photo` with a known kernel: the pixels a full-size restoration
 * with the same options gives there (the live preview, and the preview a job sends once its kernel is known).
 */
export async function restoreRegion(
  photo: FloatImage,
  psf: Psf,
  region: Region,
  options: DeconvolutionOptions,
  signal?: AbortSignal,
): Promise<FloatImage> {
  checkRegion(region, photo);
  const margin = REGION_CONTEXT * psf.size;
  const x = Math.max(0, region.x - margin);
  const y = Math.max(0, region.y - margin);
  const width = Math.min(photo.width, region.x + region.width + margin) - x;
  const height = Math.min(photo.height, region.y + region.height + margin) - y;
  const restored = await deconvolve(crop(photo, x, y, width, height), psf, options, { signal });
  return crop(restored, region.x - x, region.y - y, region.width, region.height);
}

/** A kernel from the contract as the engine uses it: weights summing to 1. */
export function toPsf(kernel: BlurKernel): Psf {
  const sum = kernel.weights.reduce((total, w) => total + w, 0);
  return { size: kernel.size, weights: kernel.weights.map((w) => w / sum) };
}

/** The live preview: `region` restored with `kernel` and the settings the sliders give. */
export async function previewDeblur(
  photo: FloatImage,
  params: { kernel: BlurKernel; region: Region; strength: number; priorWeight: number },
  tileSize?: number,
): Promise<string> {
  const options = {
    ...fastSettings(photo, params.priorWeight),
    strength: params.strength,
    ...(tileSize && { tileSize }),
  };
  return regionDataUrl(await restoreRegion(photo, toPsf(params.kernel), params.region, options));
}

/** What each verdict on the blur estimate means for the result, as the UI, the CLI and batch reports say it. */
export const RELIABILITY_NOTES: Record<Reliability, string> = {
  reliable: 'The blur was estimated reliably.',
  uncertain: 'The blur estimate is uncertain: the photo was restored at half the strength asked for.',
  failed:
    'No motion blur could be measured reliably (or there is none): the photo was left unchanged. A region ' +
    'drawn over a detailed, evenly blurred part of the photo may help.',
};

/** The note when the estimate failed but the learned restorer still ran. */
export const LEARNED_ONLY_NOTE =
  'No motion blur could be measured reliably (or there is none): only the learned restorer was applied. A ' +
  'region drawn over a detailed, evenly blurred part of the photo may help.';

function checkRegion(region: Region, photo: FloatImage): void {
  if (region.x + region.width > photo.width || region.y + region.height > photo.height) {
    throw new Error(
      `The region ${region.width}x${region.height} at ${region.x},${region.y} lies outside the ` +
        `${photo.width}x${photo.height} photo.`,
    );
  }
}

/** Pastes `patch` into a copy of `image` at (x, y). */
function paste(image: FloatImage, patch: FloatImage, x: number, y: number): FloatImage {
  const data = Float32Array.from(image.data);
  for (let row = 0; row < patch.height; row++) {
    const from = row * patch.width * 3;
    data.set(patch.data.subarray(from, from + patch.width * 3), ((y + row) * image.width + x) * 3);
  }
  return { ...image, data };
}

/** What the job needs from the engine, loaded only when used. */
export interface DeblurNetworks {
  /** F and G, for paper mode. */
  model: () => Promise<LoadedModel>;
  /** The learned restorer, for fast mode with `learned`. */
  restorer: () => Promise<Restorer>;
  /** The deblurring network, for learned mode (throws when it is not installed). */
  learned: () => LearnedNetwork;
}

export async function runDeblur(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  ctx: JobContext,
  networks: DeblurNetworks,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const photo = await readPhoto(spec.photoPath);
  if (spec.mode === 'fast') {
    // The guided estimate runs the network on the window first: the progress bar gives it its time.
    const network = spec.guided && !spec.kernel ? networks.learned() : undefined;
    const guided = network && withGuidedEstimate(networkRestore(network), network.secondsPerTile(), ctx);
    const restorer = spec.learned ? await networks.restorer() : undefined;
    return runFast(spec, photo, guided?.ctx ?? ctx, restorer, guided?.estimator);
  }
  if (spec.guided)
    throw new Error(`The guided estimate is part of fast mode; ${spec.mode} mode does not use it.`);
  if (spec.learned) {
    throw new Error(`The learned restorer is part of fast mode; ${spec.mode} mode does not use it.`);
  }
  const region = spec.roi ?? { x: 0, y: 0, width: photo.width, height: photo.height };
  checkRegion(region, photo);
  if (spec.mode === 'learned') return runLearned(spec, photo, region, ctx, networks.learned());
  if (region.width * region.height > PAPER_MAX_PIXELS) {
    throw new Error(
      `Paper mode optimises every pixel through the network and would take hours on ` +
        `${region.width}x${region.height}. Choose a region of at most 1 megapixel (for example ` +
        `--roi x,y,512,512), or use fast mode.`,
    );
  }
  const blurry = crop(photo, region.x, region.y, region.width, region.height);
  const start = await networkStart(networks, blurry, ctx);
  const restored = await paperDeblur(
    (await networks.model()).model,
    blurry,
    {
      ...PAPER_DEFAULTS,
      ...paperSchedule(spec.iterations ?? PAPER_DEFAULTS.iterations),
      seed: spec.seed,
      ...(start && { start }),
      onPreview: (x, progress) =>
        void previewDataUrl(x).then((preview) => ctx.progress({ stage: 'preview', progress, preview })),
    },
    ctx,
  );
  // Strength blends the restoration with the input: 0 keeps the photo, 1 takes the restoration.
  const blended = restored.data.map((v, i) => blurry.data[i]! + spec.strength * (v - blurry.data[i]!));
  const result = paste(photo, { ...blurry, data: blended }, region.x, region.y);
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, photo, result.data, spec.output);
  return { kind: 'deblur', outputPath: spec.outputPath };
}

/**
 * Paper mode's start: the network's restoration of the region when the network is installed (it gained
 * 0.2-0.7 dB over the network's own result on the bench; decision 0020), else none (the paper's noise).
 */
async function networkStart(
  networks: DeblurNetworks,
  blurry: FloatImage,
  ctx: JobContext,
): Promise<FloatImage | null> {
  let network: LearnedNetwork;
  try {
    network = networks.learned();
  } catch {
    return null;
  }
  return networkRestore(network)(blurry, ctx, (done, total) =>
    ctx.progress({ stage: `starting from the network: tile ${done} of ${total}`, progress: 0 }),
  );
}

async function runFast(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  photo: Photo,
  ctx: JobContext,
  restorer: Restorer | undefined,
  estimator?: KernelEstimator,
): Promise<JobResult> {
  if (spec.roi) checkRegion(spec.roi, photo);
  if (spec.previewRegion) checkRegion(spec.previewRegion, photo);
  const settings = fastSettings(photo, spec.priorWeight);
  const tileSize = ctx.tileSize ? { tileSize: ctx.tileSize } : {};
  // The region on screen, restored as the result will be there (the learned restorer, when on, runs later).
  const preview = async (psf: Psf, strength: number, progress: number): Promise<void> => {
    if (!spec.previewRegion || restorer) return;
    const options = { ...settings, strength, ...tileSize };
    const region = await restoreRegion(photo, psf, spec.previewRegion, options, ctx.signal);
    ctx.progress({ stage: 'preview', progress, preview: await regionDataUrl(region) });
  };
  const options: FastModeOptions = {
    ...FAST_DEFAULTS,
    roi: spec.roi,
    strength: spec.strength,
    restorer,
    onKernel: preview,
    deconvolution: { lambda: settings.lambda },
    estimator,
  };
  if (spec.kernel) {
    // New settings on a blur already found: the restoration alone, with the same settings as the preview.
    const image = await restoreWithKernel(photo, toPsf(spec.kernel), options, ctx);
    ctx.progress({ stage: 'saving', progress: 1 });
    await writeResult(spec.outputPath, photo, image.data, spec.output);
    return { kind: 'deblur', outputPath: spec.outputPath };
  }
  const fast = await fastDeblur(photo, options, ctx);
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, photo, fast.image.data, spec.output);
  const trace = await renderTracePng({ rows: 1, cols: 1, cells: [fast.psf] }, 4 * fast.psf.size);
  const bounds = psfBounds(fast.psf.weights, fast.psf.size);
  return {
    kind: 'deblur',
    outputPath: spec.outputPath,
    estimate: {
      reliability: fast.reliability,
      note:
        restorer && fast.reliability === 'failed' ? LEARNED_ONLY_NOTE : RELIABILITY_NOTES[fast.reliability],
      changed: Boolean(restorer) || fast.reliability !== 'failed',
      window: fast.window,
      extent: { width: bounds.right - bounds.left + 1, height: bounds.bottom - bounds.top + 1 },
      traceDataUrl: `data:image/png;base64,${trace.toString('base64')}`,
      kernel: { size: fast.psf.size, weights: fast.psf.weights },
    },
  };
}

/** Learned mode: the network over the region (the whole photo by default), the rest left as it is. */
async function runLearned(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  photo: Photo,
  region: Region,
  ctx: JobContext,
  network: LearnedNetwork,
): Promise<JobResult> {
  const blurry = crop(photo, region.x, region.y, region.width, region.height);
  const started = performance.now();
  let tiles = 0;
  ctx.progress({ stage: 'starting the network', progress: 0 });
  const restored = await deblurLearned(network, blurry, spec.strength, ctx, (done, total) => {
    tiles = total;
    ctx.progress({ stage: `network: tile ${done} of ${total}`, progress: done / total });
  });
  network.measured((performance.now() - started) / 1000, tiles);
  const result = paste(photo, restored, region.x, region.y);
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, photo, result.data, spec.output);
  return { kind: 'deblur', outputPath: spec.outputPath };
}
