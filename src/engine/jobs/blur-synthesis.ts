// Blur synthesis from the encoded kernel space (the paper's blur generation and data augmentation):
// - generateBlurs: novel blurs, codes sampled from the VAE prior N(0, I) and put on one photo with F;
// - augmentPairs: blur transfer, G reads the blur of each sharp/blurry pair and F puts it on other sharp
//   photos, giving new training pairs.
// Both run through the engine's tiled extract/apply code, so they work on photos of any size.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { outputExtension } from '../../common/formats';
import { inputKeys, realOrResolved, replacesInput, writeFileAtomic } from '../core/fs-atomic';
import { readPhoto, type Photo } from '../image';
import { alignmentProblem, checkSameSize, measureAlignment } from '../kernels/alignment';
import {
  applyCodes,
  displayPsfs,
  extractPosterior,
  gridFor,
  resampleCodes,
  type CodeGrid,
} from '../kernels/operations';
import {
  listPairs,
  listPhotoFiles,
  pairPaths,
  type PairFiles,
  type PairLayout,
} from '../kernels/pair-folder';
import { writeTracePng } from '../kernels/trace';
import type { LoadedModel } from '../model/model-store';
import { Rng, hashInts } from '../core/rng';
import { writeResult } from './output';
import { partContext, type JobContext } from '../core/progress';

/** The config that trains a model with the prior (`blurspace train --config ...`). */
export const VAE_TRAINING_CONFIG = 'resources/training/compact-vae.json';

/** Refuses a model without the VAE prior: N(0, I) means nothing to its code space. */
export function requirePrior(loaded: LoadedModel): void {
  if (loaded.model.config.useVAE) return;
  throw new Error(
    `${path.basename(loaded.path)} was trained without the VAE prior, so there is no known distribution of ` +
      `its blur codes to sample from. Train one from it with ${VAE_TRAINING_CONFIG} (npx blurspace train ` +
      `--config ${VAE_TRAINING_CONFIG} --init-from ${loaded.path} --out runs/compact-vae) and pass ` +
      `--checkpoint runs/compact-vae/model.safetensors.`,
  );
}

/** Codes from the prior N(0, I): one code for the whole grid, or an independent one per cell ('spatial'). */
export function samplePriorCodes(
  rows: number,
  cols: number,
  kernelDim: number,
  rng: Rng,
  spatial: boolean,
): CodeGrid {
  const codes = new Float32Array(rows * cols * kernelDim);
  const drawn = spatial ? codes.length : kernelDim;
  for (let i = 0; i < drawn; i++) codes[i] = rng.normal();
  if (!spatial)
    for (let cell = 1; cell < rows * cols; cell++) codes.copyWithin(cell * kernelDim, 0, kernelDim);
  return { rows, cols, kernelDim, codes };
}

export interface GenerateBlurOptions {
  photoPath: string;
  outDir: string;
  count: number;
  /** Sample i (0-based) draws its code from Rng(seed, i): more samples never change the first ones. */
  seed: number;
  /** An independent code per 128x128 cell (as the authors' generate_blur.py) instead of one per photo. */
  spatial: boolean;
}

export interface GeneratedBlur {
  outputPath: string;
  tracePath: string;
}

/** `count` blurred versions of the photo, each with a blur sampled from the prior, and its blur trace. */
export async function generateBlurs(
  loaded: LoadedModel,
  options: GenerateBlurOptions,
  ctx: JobContext,
): Promise<GeneratedBlur[]> {
  requirePrior(loaded);
  ctx.progress({ stage: 'reading photo', progress: 0 });
  const photo = await readPhoto(options.photoPath);
  const { rows, cols } = gridFor(photo);
  const { name } = path.parse(options.photoPath);
  const extension = outputExtension(options.photoPath);
  const inputs = await inputKeys([options.photoPath]);
  const digits = Math.max(2, String(options.count).length);
  await mkdir(options.outDir, { recursive: true });
  const results: GeneratedBlur[] = [];
  for (let i = 0; i < options.count; i++) {
    const base = path.join(options.outDir, `${name}-blur-${String(i + 1).padStart(digits, '0')}`);
    const result = { outputPath: base + extension, tracePath: `${base}-trace.png` };
    if (await replacesInput(result.outputPath, inputs)) {
      throw new Error(`${result.outputPath} is the input photo: choose another output folder.`);
    }
    const codes = samplePriorCodes(
      rows,
      cols,
      loaded.model.config.kernelDim,
      new Rng(options.seed, i),
      options.spatial,
    );
    const part = partContext(ctx, i, options.count, `blur ${i + 1}/${options.count}:`);
    const blurred = await applyCodes(loaded.model, photo, codes, partContext(part, 0, 2, ''));
    await writeResult(result.outputPath, photo, blurred.data);
    await writeTracePng(
      await displayPsfs(loaded.model, photo, codes, partContext(part, 1, 2, '')),
      result.tracePath,
    );
    results.push(result);
  }
  return results;
}

export interface AugmentOptions {
  pairsDir: string;
  targetsDir: string;
  outDir: string;
  seed: number;
  /** Blurs per target photo, each from another pair while there are enough pairs. */
  perTarget: number;
  /** How a pair's code grid is fitted to a target of another size (as apply-kernel). */
  mode: 'spatial' | 'uniform';
}

export const AUGMENT_MANIFEST = 'augment.json';

export interface AugmentItem {
  /** The target photo, relative to the targets folder. */
  target: string;
  /** The pair whose blur went onto it. */
  pair: string;
  /** The new pair, relative to the output folder. */
  sharp: string;
  blurry: string;
  /** VAE: the code is mean + sigma * eps, eps ~ N(0, I) from Rng(sampleSeed); null: G's code as it is. */
  sampleSeed: number | null;
}

export interface AugmentManifest extends Pick<
  AugmentOptions,
  'seed' | 'perTarget' | 'mode' | 'pairsDir' | 'targetsDir'
> {
  format: 'blurspace-augment';
  version: 1;
  checkpoint: { sha256: string; description: string };
  layout: PairLayout;
  /** The source pairs, relative to the pairs folder; a warning when they did not look aligned. */
  pairs: Array<{ name: string; sharp: string; blurry: string; warning?: string }>;
  items: AugmentItem[];
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
function permutation(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The pair's code on its own grid: G's mean, or for a VAE mean + sigma * eps as the authors sample. */
function pairCode(
  posterior: { mean: CodeGrid; sigma: CodeGrid | null },
  sampleSeed: number | null,
): CodeGrid {
  const { mean, sigma } = posterior;
  if (!sigma || sampleSeed === null) return mean;
  const rng = new Rng(sampleSeed);
  return { ...mean, codes: mean.codes.map((m, i) => m + sigma.codes[i]! * rng.normal()) };
}

/** G's posterior for the pair; the pair's photos are released on return. */
async function readPairBlur(
  loaded: LoadedModel,
  pair: PairFiles,
  ctx: JobContext,
): Promise<{ posterior: { mean: CodeGrid; sigma: CodeGrid | null }; warning?: string }> {
  ctx.progress({ stage: 'reading photos', progress: 0 });
  const [sharp, blurry] = await Promise.all([readPhoto(pair.sharp), readPhoto(pair.blurry)]);
  try {
    checkSameSize(sharp, blurry);
  } catch (error) {
    throw new Error(`Pair "${pair.name}": ${(error as Error).message}`, { cause: error });
  }
  // Heavy blur (40+ px on a 256 px crop) can fail extract-kernel's scene check although a training pair is
  // aligned by construction: such a pair is used, with a warning.
  const problem = alignmentProblem(measureAlignment(sharp, blurry));
  const posterior = await extractPosterior(loaded.model, sharp, blurry, ctx);
  return { posterior, ...(problem && { warning: `${problem} (its blur was used all the same)` }) };
}

/**
 * Blur transfer for data augmentation: every target photo gets the blur of `perTarget` pairs (pairs dealt
 * round-robin in a seeded order), written as new sharp/blurry pairs in the pairs folder's layout, with a
 * manifest saying which pair's blur went onto which target. Deterministic from the seed.
 */
export async function augmentPairs(
  loaded: LoadedModel,
  options: AugmentOptions,
  ctx: JobContext,
): Promise<AugmentManifest> {
  const { layout, pairs } = await listPairs(options.pairsDir);
  const targets = await listPhotoFiles(options.targetsDir, 'The targets folder');
  if (targets.length === 0) {
    throw new Error(
      `The targets folder '${options.targetsDir}' holds no photos (JPEG, PNG, TIFF, WebP, AVIF or GIF).`,
    );
  }
  const outDir = await realOrResolved(options.outDir);
  for (const dir of [options.pairsDir, options.targetsDir]) {
    if ((await realOrResolved(dir)) === outDir) {
      throw new Error(`The output folder is an input folder ('${dir}'): choose another one.`);
    }
  }
  const vae = loaded.model.config.useVAE;
  const order = permutation(pairs.length, new Rng(options.seed, 0));
  const items: Array<AugmentItem & { pairIndex: number; targetPath: string }> = [];
  targets.forEach((targetPath, t) => {
    for (let j = 0; j < options.perTarget; j++) {
      const k = t * options.perTarget + j;
      const pairIndex = order[k % pairs.length]!;
      const name = `${path.parse(targetPath).name}--${pairs[pairIndex]!.name}`;
      const out = pairPaths(options.outDir, layout, name, outputExtension(targetPath));
      items.push({
        target: path.basename(targetPath),
        pair: pairs[pairIndex]!.name,
        sharp: path.relative(options.outDir, out.sharp),
        blurry: path.relative(options.outDir, out.blurry),
        sampleSeed: vae ? hashInts(options.seed, 1, k) : null,
        pairIndex,
        targetPath,
      });
    }
  });
  const outputs = items.flatMap((item) => [item.sharp, item.blurry]);
  const clash = outputs.find((output, i) => outputs.indexOf(output) !== i);
  if (clash) {
    throw new Error(
      `Two target photos would both be written to ${clash}: give the targets different names (not just ` +
        'different extensions).',
    );
  }
  const inputs = await inputKeys([...pairs.flatMap((p) => [p.sharp, p.blurry]), ...targets]);
  for (const output of outputs) {
    if (await replacesInput(path.join(options.outDir, output), inputs)) {
      throw new Error(`${output} would replace an input photo: choose another output folder.`);
    }
  }

  const usedPairs = [...new Set(items.map((item) => item.pairIndex))].sort((a, b) => a - b);
  const parts = usedPairs.length + items.length;
  const warnings = new Map<number, string>();
  let part = 0;
  for (const pairIndex of usedPairs) {
    const pair = pairs[pairIndex]!;
    const { posterior, warning } = await readPairBlur(
      loaded,
      pair,
      partContext(ctx, part++, parts, `pair ${pair.name}:`),
    );
    if (warning) warnings.set(pairIndex, warning);
    for (const item of items.filter((i) => i.pairIndex === pairIndex)) {
      const itemCtx = partContext(ctx, part++, parts, `${item.target} with ${pair.name}:`);
      itemCtx.progress({ stage: 'reading photo', progress: 0 });
      const target: Photo = await readPhoto(item.targetPath);
      const { rows, cols } = gridFor(target);
      const codes = resampleCodes(pairCode(posterior, item.sampleSeed), rows, cols, options.mode);
      const blurred = await applyCodes(loaded.model, target, codes, itemCtx);
      await mkdir(path.dirname(path.join(options.outDir, item.sharp)), { recursive: true });
      await mkdir(path.dirname(path.join(options.outDir, item.blurry)), { recursive: true });
      await writeResult(path.join(options.outDir, item.sharp), target, target.data);
      await writeResult(path.join(options.outDir, item.blurry), target, blurred.data);
    }
  }

  const manifest: AugmentManifest = {
    format: 'blurspace-augment',
    version: 1,
    checkpoint: { sha256: loaded.sha256, description: loaded.description },
    seed: options.seed,
    perTarget: options.perTarget,
    mode: options.mode,
    layout,
    pairsDir: path.resolve(options.pairsDir),
    targetsDir: path.resolve(options.targetsDir),
    pairs: pairs.map((p, index) => ({
      name: p.name,
      sharp: path.relative(options.pairsDir, p.sharp),
      blurry: path.relative(options.pairsDir, p.blurry),
      ...(warnings.has(index) && { warning: warnings.get(index) }),
    })),
    items: items.map(({ target, pair, sharp, blurry, sampleSeed }) => ({
      target,
      pair,
      sharp,
      blurry,
      sampleSeed,
    })),
  };
  await writeFileAtomic(
    path.join(options.outDir, AUGMENT_MANIFEST),
    `${JSON.stringify(manifest, null, 2)}\n`,
  );
  return manifest;
}
