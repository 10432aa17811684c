// The deblur job: reads the photo, restores it (paper mode: Algorithm 1; fast mode, not offered yet: blind
// kernel estimation and full-size deconvolution), blends by strength, and writes it with the input's size,
// bit depth and metadata.
import sharp from 'sharp';
import type { JobResult, JobSpec, Region } from '../../common/api';
import { PAPER_DEFAULTS, paperDeblur, paperSchedule } from '../deblur/paper-mode';
import { readPhoto } from '../image';
import type { LoadedModel } from '../model-store';
import { crop, type FloatImage } from '../tiling';
import { writeResult } from './output';
import type { JobContext } from './progress';

/** Paper mode optimises every pixel through F: beyond this it would take hours here, so a region is asked for. */
export const PAPER_MAX_PIXELS = 1024 * 1024;
const PREVIEW_SIDE = 512;

async function previewDataUrl(image: FloatImage): Promise<string> {
  const bytes = Uint8Array.from(image.data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  const jpeg = await sharp(bytes, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

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

export async function runDeblur(
  spec: Extract<JobSpec, { kind: 'deblur' }>,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const photo = await readPhoto(spec.photoPath);
  if (spec.mode === 'fast') {
    // The fast pipeline (blind kernel estimation + deconvolution) runs in `npm run bench:deblur`, but on the
    // validation pairs it does not yet beat the blurry input on average (see docs/NOTES.md): it is not
    // offered on photos until it does.
    throw new Error(
      'Fast mode is not available yet: its blur estimation is still being tuned and would not improve ' +
        'your photo. Use paper mode on a region (up to 1 megapixel) for now.',
    );
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
    loaded.model,
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
