// The kernel jobs: read the blur of a sharp/blurry pair into a .blurkernel file, and put a saved blur
// onto another photo.
import path from 'node:path';
import type { JobResult, JobSpec, KernelSummary } from '../../common/api';
import { readPhoto, type Photo } from '../image';
import { checkPairAlignment } from '../kernels/alignment';
import {
  KERNEL_FILE_EXTENSION,
  KERNEL_FILE_FORMAT,
  KERNEL_FILE_VERSION,
  KernelFileSchema,
  decodeCodes,
  encodeCodes,
  loadKernelFile,
  saveKernelFile,
  type KernelFile,
} from '../kernels/kernel-file';
import {
  DEFAULT_TILES,
  applyCodes,
  displayPsfs,
  extractCodes,
  gridFor,
  resampleCodes,
} from '../kernels/operations';
import { displayRegions, renderGlyphSpritePng, renderTracePng } from '../kernels/trace';
import type { LoadedModel } from '../model/model-store';
import type { TileOptions } from '../core/tiling';
import { writeResult } from './output';
import type { JobContext } from '../core/progress';

export async function runExtractKernel(
  spec: Extract<JobSpec, { kind: 'extractKernel' }>,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photos', progress: 0 });
  const [sharp, blurry] = await Promise.all([readPhoto(spec.sharpPath), readPhoto(spec.blurryPath)]);
  const alignment = checkPairAlignment(sharp, blurry);
  const grid = await extractCodes(loaded.model, sharp, blurry, ctx, tilesFor(ctx));
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
  const [trace, glyphs] = await Promise.all([renderTracePng(kernel.psf), renderGlyphSpritePng(kernel.psf)]);
  return {
    kernelPath,
    name: kernel.name,
    grid: { rows: kernel.grid.rows, cols: kernel.grid.cols },
    source: { width: kernel.source.width, height: kernel.source.height },
    traceDataUrl: `data:image/png;base64,${trace.toString('base64')}`,
    psfGrid: {
      rows: kernel.psf.rows,
      cols: kernel.psf.cols,
      regions: displayRegions(kernel.psf, kernel.grid, kernel.source),
    },
    glyphsDataUrl: `data:image/png;base64,${glyphs.toString('base64')}`,
    checkpoint: kernel.checkpoint.description,
  };
}

/** Refuses a kernel read with another model than `loaded`: its codes mean nothing to this one. */
export function checkSameModel(kernel: KernelFile, loaded: LoadedModel, advice: string): void {
  if (kernel.checkpoint.sha256 !== loaded.sha256) {
    throw new Error(
      `This kernel was read with another model (${kernel.checkpoint.description}), not the one in use ` +
        `(${loaded.description}). ${advice}`,
    );
  }
}

/**
 * A kernel file for the library: validated, made by the model in use, and written to `copyTo` (the
 * workspace) when given, so the library keeps working after the original moves or an upload expires.
 */
export async function importKernel(
  source: string,
  copyTo: string | null,
  loaded: LoadedModel,
): Promise<KernelSummary> {
  const kernel = await loadKernelFile(source);
  checkSameModel(kernel, loaded, 'Choose that checkpoint in Settings, then import the kernel again.');
  if (copyTo) await saveKernelFile(copyTo, kernel);
  return summarise(copyTo ?? source, kernel);
}

/** The kernel file's JSON (validated), renamed when `name` is given, and a file name for it. */
export async function exportKernelText(
  kernelPath: string,
  name?: string,
): Promise<{ fileName: string; text: string }> {
  const kernel = await loadKernelFile(kernelPath);
  const renamed = { ...kernel, name: name ?? kernel.name };
  const safe =
    renamed.name
      .replace(/[^\p{L}\p{N}._ -]+/gu, '_')
      .trim()
      .slice(0, 80) || 'kernel';
  return {
    fileName: `${safe}${KERNEL_FILE_EXTENSION}`,
    text: JSON.stringify(KernelFileSchema.parse(renamed)),
  };
}

/** Tiles for the networks: the user's tile size setting, else the engine's default. */
function tilesFor(ctx: JobContext): TileOptions {
  return ctx.tileSize ? { ...DEFAULT_TILES, tileSize: ctx.tileSize } : DEFAULT_TILES;
}

export async function runApplyKernel(
  spec: Extract<JobSpec, { kind: 'applyKernel' }>,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const kernel = await loadKernelFile(spec.kernelPath);
  // Codes only mean something to the model that wrote them.
  checkSameModel(kernel, loaded, 'Choose that checkpoint in Settings, or extract the kernel again.');
  let photo: Photo | undefined = await readPhoto(spec.photoPath);
  const { rows, cols } = gridFor(photo);
  const source = {
    rows: kernel.grid.rows,
    cols: kernel.grid.cols,
    kernelDim: kernel.kernelDim,
    codes: decodeCodes(kernel),
  };
  const codes = resampleCodes(source, rows, cols, spec.mode);
  const blurred = await applyCodes(loaded.model, photo, codes, ctx, tilesFor(ctx));
  // Let the source pixels go before encoding: at 100 MP they are 1.2 GB.
  const result: Photo = { ...photo, data: blurred.data };
  // eslint-disable-next-line no-useless-assignment -- dropping the last reference is the point
  photo = undefined;
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, result, result.data, spec.output);
  return { kind: 'applyKernel', outputPath: spec.outputPath };
}
