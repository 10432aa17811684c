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
  compactPsf,
  encodeCodes,
  loadKernelFile,
  saveKernelFile,
  type ExplicitPsf,
  type KernelFile,
} from '../kernels/kernel-file';
import {
  DEFAULT_TILES,
  applyCodes,
  codesFromWindows,
  displayPsfs,
  extractCodes,
  gridFor,
  resampleCodes,
  type CodeGrid,
} from '../kernels/operations';
import { displayRegions, renderGlyphSpritePng, renderTracePng } from '../kernels/trace';
import type { LoadedModel } from '../model/model-store';
import { crop, type FloatImage, type TileOptions } from '../core/tiling';
import { estimatePairPsfs, pairWindows, type PairPsfs } from '../deblur/pair-kernel';
import { deblurLearned, type LearnedNetwork } from '../deblur/learned-mode';
import { MAXIM_MISSING } from '../model/maxim';
import { blurWithPsfs } from '../deblur/psf-blur';
import { gridRegions, meanPsf } from '../kernels/psf';
import { writeResult } from './output';
import { spanContext, type JobContext } from '../core/progress';

/**
 * Side of the windows the network restores when there is no sharp photo: one network tile each (tens of
 * seconds on a CPU), where a pair's windows are up to 384 px (pair-kernel.ts).
 */
export const STAND_IN_WINDOW = 256;

export const STAND_IN_MISSING =
  "Reading a kernel from the blurry photo alone needs the learned mode's network, to restore the parts the " +
  `blur is measured on; give the sharp photo of the pair instead. ${MAXIM_MISSING}`;

/** What the kernel file is made of: the codes, the photo F draws the display PSFs on, the measured PSFs. */
interface KernelReading {
  grid: CodeGrid;
  probe: FloatImage;
  measured: PairPsfs;
  shift: { x: number; y: number };
}

/** The blur of a sharp/blurry pair: G over the whole pair, PSFs measured region by region. */
async function readPair(
  sharp: Photo,
  blurry: Photo,
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<KernelReading> {
  const alignment = checkPairAlignment(sharp, blurry);
  // Two halves of the progress bar: G's code, then the PSFs measured region by region.
  const grid = await extractCodes(loaded.model, sharp, blurry, spanContext(ctx, 0, 0.5), tilesFor(ctx));
  const measuring = spanContext(ctx, 0.5, 1);
  const measured = await estimatePairPsfs(sharp, blurry, {
    signal: ctx.signal,
    onProgress: (fraction) =>
      measuring.progress({ stage: 'measuring the blur region by region', progress: fraction }),
  });
  return { grid, probe: sharp, measured, shift: { x: alignment.dx, y: alignment.dy } };
}

/** Share of a reading from the blurry photo alone that the network's windows take; measuring after them is quick. */
const STAND_IN_SHARE = 0.9;

/**
 * The blur of a single blurry photo (issue 22, item 5a): the network restores the window of each region the
 * blur is measured on, and its result stands in for the sharp photo there: G reads a code on each window
 * (each cell of the photo takes the nearest window's), the PSFs are measured on the same windows.
 */
async function readBlurryAlone(
  blurry: Photo,
  ctx: JobContext,
  loaded: LoadedModel,
  network: LearnedNetwork,
): Promise<KernelReading> {
  const windows = pairWindows(blurry, STAND_IN_WINDOW);
  // The photo with the network's windows pasted in: only the windows are ever read as the sharp photo.
  const standIn: FloatImage = { ...blurry, data: Float32Array.from(blurry.data) };
  const codes: CodeGrid[] = [];
  for (const [index, window] of windows.entries()) {
    const y = crop(blurry, window.x, window.y, window.width, window.height);
    const x = await deblurLearned(network, y, 1, ctx, (done, total) =>
      ctx.progress({
        stage: `restoring region ${index + 1} of ${windows.length} with the network`,
        progress: (STAND_IN_SHARE * (index + done / total)) / windows.length,
      }),
    );
    pasteInto(standIn, x, window.x, window.y);
    // G on one window is quick beside the network: it does not move the progress bar.
    codes.push(await extractCodes(loaded.model, x, y, { ...ctx, progress: () => {} }, tilesFor(ctx)));
  }
  const measuring = spanContext(ctx, STAND_IN_SHARE, 1);
  const measured = await estimatePairPsfs(standIn, blurry, {
    windows,
    standIn: true,
    signal: ctx.signal,
    onProgress: (fraction) =>
      measuring.progress({ stage: 'measuring the blur region by region', progress: fraction }),
  });
  return { grid: codesFromWindows(blurry, windows, codes), probe: standIn, measured, shift: { x: 0, y: 0 } };
}

/** Copies `patch` into `image` at (x, y). */
function pasteInto(image: FloatImage, patch: FloatImage, x: number, y: number): void {
  const { channels } = image;
  for (let row = 0; row < patch.height; row++) {
    const from = row * patch.width * channels;
    const to = ((y + row) * image.width + x) * channels;
    image.data.set(patch.data.subarray(from, from + patch.width * channels), to);
  }
}

export async function runExtractKernel(
  spec: Extract<JobSpec, { kind: 'extractKernel' }>,
  ctx: JobContext,
  loaded: LoadedModel,
  learned: () => LearnedNetwork,
): Promise<JobResult> {
  ctx.progress({ stage: 'reading photos', progress: 0 });
  let network: LearnedNetwork | null = null;
  if (!spec.sharpPath) {
    try {
      network = learned();
    } catch {
      throw new Error(STAND_IN_MISSING);
    }
  }
  const [sharp, blurry] = await Promise.all([
    spec.sharpPath ? readPhoto(spec.sharpPath) : null,
    readPhoto(spec.blurryPath),
  ]);
  // The reading, then the trace drawn from it: a third of a pair's time, little beside the network's windows.
  const drawing = sharp ? 2 / 3 : 0.95;
  const reading = spanContext(ctx, 0, drawing);
  const { grid, probe, measured, shift } = sharp
    ? await readPair(sharp, blurry, reading, loaded)
    : await readBlurryAlone(blurry, reading, loaded, network!);
  const psf = await displayPsfs(loaded.model, probe, grid, spanContext(ctx, drawing, 1));
  const kernel: KernelFile = {
    format: KERNEL_FILE_FORMAT,
    version: KERNEL_FILE_VERSION,
    name: spec.name ?? path.parse(spec.blurryPath).name,
    createdAt: new Date().toISOString(),
    checkpoint: { sha256: loaded.sha256, description: loaded.description },
    source: {
      width: blurry.width,
      height: blurry.height,
      sharp: spec.sharpPath ? path.basename(spec.sharpPath) : '',
      ...(!spec.sharpPath && { sharpStandIn: 'network' as const }),
      blurry: path.basename(spec.blurryPath),
      shift,
    },
    grid: { rows: grid.rows, cols: grid.cols, cell: 128 },
    kernelDim: grid.kernelDim,
    codes: encodeCodes(grid.codes),
    psf,
    explicitPsf: {
      rows: measured.rows,
      cols: measured.cols,
      cells: measured.cells.map(compactPsf),
      explained: measured.explained.map((v) => Number(v.toFixed(4))),
      doubtful: measured.doubtful,
      reliability: measured.reliability,
      note: measured.note,
    },
  };
  await saveKernelFile(spec.outputPath, kernel);
  return { kind: 'extractKernel', kernel: await summarise(spec.outputPath, kernel) };
}

/** The measured PSFs for the UI: their trace and glyphs, regions over the source, and the verdict. */
async function summariseExplicit(kernel: KernelFile): Promise<KernelSummary['explicit']> {
  const measured = kernel.explicitPsf;
  if (!measured) return null;
  const [trace, glyphs] = await Promise.all([renderTracePng(measured), renderGlyphSpritePng(measured)]);
  return {
    traceDataUrl: `data:image/png;base64,${trace.toString('base64')}`,
    glyphsDataUrl: `data:image/png;base64,${glyphs.toString('base64')}`,
    psfGrid: {
      rows: measured.rows,
      cols: measured.cols,
      regions: gridRegions(measured.rows, measured.cols, kernel.source),
    },
    explained: measured.explained,
    doubtful: measured.doubtful,
    reliability: measured.reliability,
    note: measured.note,
  };
}

export async function summarise(kernelPath: string, kernel: KernelFile): Promise<KernelSummary> {
  const [trace, glyphs, explicit] = await Promise.all([
    renderTracePng(kernel.psf),
    renderGlyphSpritePng(kernel.psf),
    summariseExplicit(kernel),
  ]);
  return {
    kernelPath,
    name: kernel.name,
    grid: { rows: kernel.grid.rows, cols: kernel.grid.cols },
    source: {
      width: kernel.source.width,
      height: kernel.source.height,
      ...(kernel.source.sharpStandIn && { sharpStandIn: kernel.source.sharpStandIn }),
    },
    traceDataUrl: `data:image/png;base64,${trace.toString('base64')}`,
    psfGrid: {
      rows: kernel.psf.rows,
      cols: kernel.psf.cols,
      regions: displayRegions(kernel.psf, kernel.grid, kernel.source),
    },
    glyphsDataUrl: `data:image/png;base64,${glyphs.toString('base64')}`,
    checkpoint: kernel.checkpoint.description,
    explicit,
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
  if (spec.using === 'explicit' && !kernel.explicitPsf) {
    throw new Error(
      'This kernel file holds no PSFs measured from its pair (it was made by an earlier Blurspace): read ' +
        'the kernel from its pair again, or apply it with its code.',
    );
  }
  // Codes only mean something to the model that wrote them; measured PSFs need no model.
  if (spec.using === 'encoded')
    checkSameModel(kernel, loaded, 'Choose that checkpoint in Settings, or extract the kernel again.');
  let photo: Photo | undefined = await readPhoto(spec.photoPath);
  const blurred =
    spec.using === 'explicit'
      ? await applyExplicit(photo, kernel.explicitPsf!, spec.mode, ctx)
      : await applyEncoded(photo, kernel, spec.mode, ctx, loaded);
  // Let the source pixels go before encoding: at 100 MP they are 1.2 GB.
  const result: Photo = { ...photo, data: blurred.data };
  // eslint-disable-next-line no-useless-assignment -- dropping the last reference is the point
  photo = undefined;
  ctx.progress({ stage: 'saving', progress: 1 });
  await writeResult(spec.outputPath, result, result.data, spec.output);
  return { kind: 'applyKernel', outputPath: spec.outputPath };
}

/** F with the kernel's code grid, stretched over the photo ('spatial') or its mean everywhere. */
async function applyEncoded(
  photo: Photo,
  kernel: KernelFile,
  mode: 'spatial' | 'uniform',
  ctx: JobContext,
  loaded: LoadedModel,
): Promise<FloatImage> {
  const { rows, cols } = gridFor(photo);
  const source = {
    rows: kernel.grid.rows,
    cols: kernel.grid.cols,
    kernelDim: kernel.kernelDim,
    codes: decodeCodes(kernel),
  };
  return applyCodes(loaded.model, photo, resampleCodes(source, rows, cols, mode), ctx, tilesFor(ctx));
}

/**
 * The measured PSFs, their grid stretched over the photo ('spatial') or their mean everywhere. A PSF keeps
 * its size in pixels on a photo of another size, as the codes do.
 */
function applyExplicit(
  photo: Photo,
  measured: ExplicitPsf,
  mode: 'spatial' | 'uniform',
  ctx: JobContext,
): Promise<FloatImage> {
  const grid = mode === 'uniform' ? { rows: 1, cols: 1, cells: [meanPsf(measured.cells)] } : measured;
  return blurWithPsfs(photo, grid, {
    signal: ctx.signal,
    onProgress: (done, total) => ctx.progress({ stage: 'applying the blur', progress: done / total }),
  });
}
