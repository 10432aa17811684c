// The deblur job: reads the photo, restores it (fast mode: blind kernel estimation and full-size
// deconvolution; paper mode: Algorithm 1 on a region), blends by strength, and writes it with the input's
// size, bit depth and metadata.
import sharp from 'sharp';
import type { JobResult, JobSpec, Region } from '../../common/api';
import { FAST_DEFAULTS, fastDeblur, nonBlindOptions, type Reliability } from '../deblur/fast-mode';
import { deconvolve } from '../deblur/deconvolution';
import { PAPER_DEFAULTS, paperDeblur, paperSchedule } from '../deblur/paper-mode';
import { readPhoto, type Photo } from '../image';
import { psfBounds, shrinkPsf, type Psf } from '../kernels/psf';
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

/** A quick look at the fast mode's result: the photo at preview size deconvolved with the kernel scaled down. */
async function fastPreview(photo: FloatImage, psf: Psf, strength: number): Promise<string> {
  const factor = Math.min(1, PREVIEW_SIDE / Math.max(photo.width, photo.height));
  const { data, info } = await sharp(quantise8(photo.data), {
    raw: { width: photo.width, height: photo.height, channels: 3 },
  })
    .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const small: FloatImage = {
    width: info.width,
    height: info.height,
    channels: 3,
    data: new Float32Array(data).map((v) => v / 255),
  };
  const smallPsf = factor < 1 ? shrinkPsf(psf, factor) : psf;
  // The same settings as the full-size restoration, so that the preview shows what the result will be.
  return previewDataUrl(await deconvolve(small, smallPsf, { ...nonBlindOptions(small), strength }));
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
}

export async function runDeblur(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  ctx: JobContext,
  networks: DeblurNetworks,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const photo = await readPhoto(spec.photoPath);
  if (spec.mode === 'fast') {
    return runFast(spec, photo, ctx, spec.learned ? await networks.restorer() : undefined);
  }
  if (spec.learned) {
    throw new Error('The learned restorer is part of fast mode; paper mode does not use it.');
  }
  const region = spec.roi ?? { x: 0, y: 0, width: photo.width, height: photo.height };
  checkRegion(region, photo);
  if (region.width * region.height > PAPER_MAX_PIXELS) {
    throw new Error(
      `Paper mode optimises every pixel through the network and would take hours on ` +
        `${region.width}x${region.height}. Choose a region of at most 1 megapixel (for example ` +
        `--roi x,y,512,512), or use fast mode.`,
    );
  }
  const blurry = crop(photo, region.x, region.y, region.width, region.height);
  const restored = await paperDeblur(
    (await networks.model()).model,
    blurry,
    {
      ...PAPER_DEFAULTS,
      ...paperSchedule(spec.iterations ?? PAPER_DEFAULTS.iterations),
      seed: spec.seed,
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

async function runFast(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  photo: Photo,
  ctx: JobContext,
  restorer: Restorer | undefined,
): Promise<JobResult> {
  if (spec.roi) checkRegion(spec.roi, photo);
  const fast = await fastDeblur(
    photo,
    {
      ...FAST_DEFAULTS,
      roi: spec.roi,
      strength: spec.strength,
      restorer,
      onKernel: async (psf, strength, progress) =>
        ctx.progress({ stage: 'preview', progress, preview: await fastPreview(photo, psf, strength) }),
    },
    ctx,
  );
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
    },
  };
}
