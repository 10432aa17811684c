// The kernel jobs: read the blur of a sharp/blurry pair into a .blurkernel file, and put a saved blur
// onto another photo.
import path from 'node:path';
import type { JobResult, JobSpec, KernelSummary } from '../../common/api';
import { readPhoto, type Photo } from '../image';
import { measureAlignment } from '../kernels/alignment';
import {
  KERNEL_FILE_FORMAT,
  KERNEL_FILE_VERSION,
  decodeCodes,
  encodeCodes,
  loadKernelFile,
  saveKernelFile,
  type KernelFile,
} from '../kernels/kernel-file';
import { applyCodes, displayPsfs, extractCodes, gridFor, resampleCodes } from '../kernels/operations';
import { renderTracePng } from '../kernels/trace';
import type { LoadedModel } from '../model-store';
import { writeResult } from './output';
import type { JobContext } from './progress';

/** Offsets beyond this many pixels mean the pair was not shot from the same position. */
export const MAX_PAIR_OFFSET = 24;
/**
 * Below this phase-correlation confidence the two photos do not show the same scene. Measured on
 * photos-small (512 px): the same photo under Gaussian blur up to sigma 20 scored 8.8-99, different
 * photos 5.1-6.6.
 */
export const MIN_PAIR_CONFIDENCE = 7.5;

export async function runExtractKernel(
  spec: Extract<JobSpec, { kind: 'extractKernel' }>,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photos', progress: 0 });
  const [sharp, blurry] = await Promise.all([readPhoto(spec.sharpPath), readPhoto(spec.blurryPath)]);
  if (sharp.width !== blurry.width || sharp.height !== blurry.height) {
    throw new Error(
      `The sharp photo is ${sharp.width}x${sharp.height} and the blurry one ${blurry.width}x${blurry.height}: ` +
        'a kernel can only be read from two photos of the same size and framing.',
    );
  }
  const alignment = measureAlignment(sharp, blurry);
  if (alignment.confidence < MIN_PAIR_CONFIDENCE) {
    throw new Error(
      'These two photos do not seem to show the same scene (their structures do not match). Pick a sharp ' +
        'and a blurry shot of the same subject, taken from the same position.',
    );
  }
  if (Math.hypot(alignment.dx, alignment.dy) > MAX_PAIR_OFFSET) {
    throw new Error(
      `The blurry photo is offset by ${alignment.dx}, ${alignment.dy} pixels from the sharp one. Align the two ` +
        `(within ${MAX_PAIR_OFFSET} pixels) before reading a kernel from them.`,
    );
  }
  const grid = await extractCodes(loaded.model, sharp, blurry, ctx);
  const psf = await displayPsfs(loaded.model, sharp, grid, ctx);
  const kernel: KernelFile = {
    format: KERNEL_FILE_FORMAT,
    version: KERNEL_FILE_VERSION,
    name: spec.name ?? path.parse(spec.blurryPath).name,
    createdAt: new Date().toISOString(),
    checkpoint: { sha256: loaded.sha256, description: loaded.description },
    source: {
      width: sharp.width,
      height: sharp.height,
      sharp: path.basename(spec.sharpPath),
      blurry: path.basename(spec.blurryPath),
      shift: { x: alignment.dx, y: alignment.dy },
    },
    grid: { rows: grid.rows, cols: grid.cols, cell: 128 },
    kernelDim: grid.kernelDim,
    codes: encodeCodes(grid.codes),
    psf,
  };
  await saveKernelFile(spec.outputPath, kernel);
  return { kind: 'extractKernel', kernel: await summarise(spec.outputPath, kernel) };
}

export async function summarise(kernelPath: string, kernel: KernelFile): Promise<KernelSummary> {
  const png = await renderTracePng(kernel.psf);
  return {
    kernelPath,
    name: kernel.name,
    grid: { rows: kernel.grid.rows, cols: kernel.grid.cols },
    source: { width: kernel.source.width, height: kernel.source.height },
    traceDataUrl: `data:image/png;base64,${png.toString('base64')}`,
  };
}

export async function runApplyKernel(
  spec: Extract<JobSpec, { kind: 'applyKernel' }>,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const kernel = await loadKernelFile(spec.kernelPath);
  // Codes only mean something to the model that wrote them.
  if (kernel.checkpoint.sha256 !== loaded.sha256) {
    throw new Error(
      `This kernel was read with another model (${kernel.checkpoint.description}), not the one in use ` +
        `(${loaded.description}). Choose that checkpoint in Settings, or extract the kernel again.`,
    );
  }
  let photo: Photo | undefined = await readPhoto(spec.photoPath);
  const { rows, cols } = gridFor(photo);
  const source = {
    rows: kernel.grid.rows,
    cols: kernel.grid.cols,
    kernelDim: kernel.kernelDim,
    codes: decodeCodes(kernel),
  };
  const blurred = await applyCodes(loaded.model, photo, resampleCodes(source, rows, cols, spec.mode), ctx);
  // Let the source pixels go before encoding: at 100 MP they are 1.2 GB.
  const result: Photo = { ...photo, data: blurred.data };
  // eslint-disable-next-line no-useless-assignment -- dropping the last reference is the point
  photo = undefined;
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, result, result.data, spec.output);
  return { kind: 'applyKernel', outputPath: spec.outputPath };
}
