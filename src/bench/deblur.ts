// `npm run bench:deblur`: restoration quality and speed on the validation ladder (src/bench/tiers.ts:
// clean, realistic, GoPro; whole GoPro frames when asked for), each tier with its ceiling (the non-blind
// deconvolution with the true kernel; for GoPro, whose blur varies, a uniform kernel fitted to the pair):
// blurry input, fast mode, fast mode with the learned restorer, learned mode (the network), the ceiling; Levin
// et al.'s error ratio, kernel sizes, how far "reliable" can be trusted; then a 24 MP timing, learned mode's
// seconds per megapixel and GFLOPS, and a contact sheet of ../shared/data/real-blurry.
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { JobSpec } from '../common/api';
import { initBackend } from '../engine/core/backend';
import { Engine } from '../engine/engine';
import { tileThreads } from '../engine/core/tile-threads';
import { RealTileFft } from '../engine/deblur/tile-fft';
import { deconvolve } from '../engine/deblur/deconvolution';
import {
  blurExtent,
  FAST_DEFAULTS,
  fastDeblur,
  nonBlindOptions,
  type FastModeOptions,
  type Reliability,
} from '../engine/deblur/fast-mode';
import { restoreLearned } from '../engine/deblur/learned-restore';
import {
  deblurLearned,
  learnedTileCount,
  LearnedNetwork,
  LEARNED_TILES,
  type NetworkRestore,
} from '../engine/deblur/learned-mode';
import { guidedEstimator } from '../engine/deblur/guided-kernel';
import { findMaximModel } from '../engine/model/maxim';
import { loadOnnxRuntime, maximTileFlops } from '../engine/model/maxim-runtime';
import { encodeOnnxModel } from '../engine/model/onnx-proto';
import { count } from '../common/words';
import { paperDeblur, paperSchedule, PAPER_DEFAULTS } from '../engine/deblur/paper-mode';
import { readPhoto } from '../engine/image';
import type { JobContext } from '../engine/core/progress';
import { loadModel, loadRestorer } from '../engine/model/model-store';
import { Rng, shakeKernel, writeContactSheet } from '../engine/training';
import { errorUpToShift } from '../engine/deblur/image-ops';
import { crop, roundUpToGrid, type FloatImage } from '../engine/core/tiling';
import { embedPsf, type Psf } from '../engine/kernels/psf';
import { writeTracePng } from '../engine/kernels/trace';
import { DEFAULT_CHECKPOINT, DEFAULT_RESTORER, SHARED_DATA_DIR } from '../host/paths';
import { printTable, ssim } from './report';
import { ALL_TIERS, tierPair, TIERS, type Tier } from './tiers';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    /** Pairs per tier. */
    pairs: { type: 'string', default: '14' },
    /** Side of the tiers' square crops (gopro-frames are whole 1280x720 frames). */
    size: { type: 'string', default: '400' },
    /** Comma-separated: the default ladder clean, realistic, gopro, and gopro-frames by name. */
    tiers: { type: 'string', default: TIERS.join(',') },
    'paper-pairs': { type: 'string', default: '0' },
    'paper-iterations': { type: 'string', default: '200' },
    /** FFT side of the deconvolution tiles (Settings' tile size); the engine's default when absent. */
    'tile-size': { type: 'string' },
    /** Fast-mode settings to try, as JSON: {"maxBlurPx": 75, "blind": {...}, "deconvolution": {...}}. */
    fast: { type: 'string', default: '{}' },
    /** Side lengths of the full-size timing photo; 0 skips it. */
    'full-size': { type: 'string', default: '6000x4000' },
    sheet: { type: 'string', default: 'test-results/bench-deblur-real.png' },
    /** A PNG of every pair's ceiling kernel beside fast mode's, at the same scale; '' skips it. */
    'kernel-sheet': { type: 'string', default: '' },
    /** The learned restorer's checkpoint (`train` with task "restorer"); '' leaves fast + learned out. */
    restorer: { type: 'string', default: DEFAULT_RESTORER },
    /** Learned mode's network (its model.json; the installed package's by default); '' leaves it out. */
    network: { type: 'string', default: findMaximModel() ?? '' },
    /** '0' leaves out fast mode's guided estimate (the network's restoration of the window as the sharp photo). */
    guided: { type: 'string', default: '1' },
    /** Paper mode's start with the network: 'network' (its restoration), 'noise' (the paper's) or 'both'. */
    'paper-start': { type: 'string', default: 'both' },
    /** Side of the square photo learned mode is timed on (seconds per megapixel); 0 skips it. */
    'learned-timing': { type: 'string', default: '512' },
    /** Runtimes to time learned mode on, one after the other: comma-separated auto, onnx, tfjs. */
    'learned-runtime': { type: 'string', default: 'auto' },
    /** Print one line per pair. */
    verbose: { type: 'boolean', default: false },
  },
});

const ctx: JobContext = {
  signal: new AbortController().signal,
  progress: () => undefined,
  ...(values['tile-size'] && { tileSize: Number(values['tile-size']) }),
};
const fastOptions: FastModeOptions = {
  ...FAST_DEFAULTS,
  ...(JSON.parse(values.fast) as Partial<FastModeOptions>),
};
await initBackend('auto');
const restorerPath = values.restorer ? path.resolve(values.restorer) : null;
const restorer = restorerPath ? await loadRestorer(restorerPath) : null;
/** Fast mode with the restorer: its result run through the restorer, as fastDeblur does (no second estimate). */
const withRestorer = (image: FloatImage) =>
  restorer && restoreLearned(restorer, image, fastOptions.strength, ctx, () => undefined);
const networkPath = values.network ? path.resolve(values.network) : null;
const network = networkPath ? new LearnedNetwork(networkPath) : null;
/** Learned mode on a photo (tiles on threads when the bench is built, as in the app). */
const withNetwork = (image: FloatImage) => network && deblurLearned(network, image, 1, ctx, () => undefined);
/** The network's last input and result: a window that is the whole pair is not restored twice. */
let lastNetwork: { input: FloatImage; output: FloatImage; seconds: number } | null = null;
const sameImage = (a: FloatImage, b: FloatImage) =>
  a.width === b.width && a.height === b.height && a.data.every((v, i) => v === b.data[i]);
/** The network for the guided estimate and paper mode's start, remembering `lastNetwork`; adds its time to `reused`. */
let reusedSeconds = 0;
const rememberedNetwork: NetworkRestore = async (image, context, onTile) => {
  if (lastNetwork && sameImage(image, lastNetwork.input)) {
    reusedSeconds += lastNetwork.seconds;
    return lastNetwork.output;
  }
  return deblurLearned(network!, image, 1, context, onTile);
};
const guided = network && values.guided !== '0';
const size = Number(values.size);

/** Mean squared error up to the shift a blind estimate cannot know (image-ops' `errorUpToShift`). */
function alignedError(result: FloatImage, sharp: FloatImage, truth?: Psf): number {
  return Math.max(errorUpToShift(result, sharp, truth), 1e-12);
}
const decibels = (error: number): number => 10 * Math.log10(1 / error);
/**
 * Mean time of a 1024x1024 forward FFT, the deconvolution's main cost: machines of the same kind here have
 * differed by 2.5x, which moves every time in this report by about as much.
 */
function fftMilliseconds(): number {
  const fft = new RealTileFft(1024, 1024);
  const plane = Float32Array.from({ length: 1024 * 1024 }, (_, i) => Math.sin(i));
  const re = new Float32Array(fft.spectrumSize);
  const im = new Float32Array(fft.spectrumSize);
  for (let i = 0; i < 3; i++) fft.forward(plane, re, im);
  const start = performance.now();
  for (let i = 0; i < 20; i++) fft.forward(plane, re, im);
  return (performance.now() - start) / 20;
}
async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await run();
  return [value, (performance.now() - start) / 1000];
}
const mean = (list: number[]): number => list.reduce((a, b) => a + b, 0) / Math.max(1, list.length);

interface PairResult {
  name: string;
  blurry: number;
  fast: number;
  learned: number | null;
  network: number | null;
  guided: number | null;
  /** The guided estimate's kernel applied at full strength, whatever its reliability. */
  guidedApplied: number | null;
  guidedSeconds: number;
  guidedReliability: Reliability | null;
  ceiling: number;
  ssim: { blurry: number; fast: number; network: number | null; guided: number | null; ceiling: number };
  seconds: number;
  networkSeconds: number;
  reliability: Reliability;
  trueBlurPx: number | null;
  foundBlurPx: number;
  /** The estimated kernel applied at full strength, whatever its reliability (for tuning the labels). */
  applied: number;
  /** Fast mode run on the sharp photo itself, which it should leave as it is: its label, and the result's error. */
  onSharp: { reliability: Reliability; error: number };
}

const results = new Map<string, PairResult[]>();
/** Per pair, in order: the ceiling's kernel, then fast mode's (for --kernel-sheet). */
const kernelSheet: Psf[] = [];
const tiers = values.tiers.split(',') as Tier[];
const unknownTier = tiers.find((tier) => !ALL_TIERS.includes(tier));
if (unknownTier) throw new Error(`unknown tier "${unknownTier}": use ${ALL_TIERS.join(', ')}`);
for (const tier of tiers) {
  const list: PairResult[] = [];
  results.set(tier, list);
  for (let index = 0; index < Number(values.pairs); index++) {
    const pair = await tierPair(tier, index, size, SHARED_DATA_DIR);
    const megapixels = (pair.blurry.width * pair.blurry.height) / 1e6;
    const [fast, seconds] = await timed(() => fastDeblur(pair.blurry, fastOptions, ctx));
    const learned = await withRestorer(fast.image);
    const [restored, networkSeconds] = await timed(async () => withNetwork(pair.blurry));
    lastNetwork = restored && { input: pair.blurry, output: restored, seconds: networkSeconds };
    reusedSeconds = 0;
    const [guidedResult, guidedOwnSeconds] = await timed(async () =>
      guided
        ? fastDeblur(pair.blurry, { ...fastOptions, estimator: guidedEstimator(rememberedNetwork) }, ctx)
        : null,
    );
    const onSharp = await fastDeblur(pair.sharp, fastOptions, ctx);
    const restore = (psf: Psf) =>
      deconvolve(pair.blurry, psf, { ...nonBlindOptions(pair.blurry), ...fastOptions.deconvolution });
    const ceiling = await restore(pair.ceilingPsf);
    const applied = fast.reliability === 'reliable' ? fast.image : await restore(fast.psf);
    const guidedApplied =
      guidedResult &&
      (guidedResult.reliability === 'reliable' ? guidedResult.image : await restore(guidedResult.psf));
    const result: PairResult = {
      name: pair.name,
      blurry: alignedError(pair.blurry, pair.sharp, pair.ceilingPsf),
      fast: alignedError(fast.image, pair.sharp, pair.ceilingPsf),
      learned: learned && alignedError(learned, pair.sharp, pair.ceilingPsf),
      network: restored && alignedError(restored, pair.sharp, pair.ceilingPsf),
      guided: guidedResult && alignedError(guidedResult.image, pair.sharp, pair.ceilingPsf),
      guidedApplied: guidedApplied && alignedError(guidedApplied, pair.sharp, pair.ceilingPsf),
      guidedSeconds: (guidedOwnSeconds + reusedSeconds) / megapixels,
      guidedReliability: guidedResult?.reliability ?? null,
      ceiling: alignedError(ceiling, pair.sharp, pair.ceilingPsf),
      ssim: {
        blurry: ssim(pair.blurry, pair.sharp),
        fast: ssim(fast.image, pair.sharp),
        network: restored && ssim(restored, pair.sharp),
        guided: guidedResult && ssim(guidedResult.image, pair.sharp),
        ceiling: ssim(ceiling, pair.sharp),
      },
      seconds: seconds / megapixels,
      networkSeconds: networkSeconds / megapixels,
      reliability: fast.reliability,
      trueBlurPx: pair.blurPx,
      foundBlurPx: fast.reliability === 'failed' ? 0 : blurExtent(fast.psf),
      applied: alignedError(applied, pair.sharp, pair.ceilingPsf),
      onSharp: { reliability: onSharp.reliability, error: alignedError(onSharp.image, pair.sharp) },
    };
    list.push(result);
    kernelSheet.push(pair.ceilingPsf, fast.psf);
    if (values.verbose) {
      console.log(
        `${tier} ${index} ${pair.name}: blurry ${decibels(result.blurry).toFixed(2)}, fast ` +
          `${decibels(result.fast).toFixed(2)} (${result.reliability}), ` +
          (result.network === null
            ? ''
            : `learned mode ${decibels(result.network).toFixed(2)} in ${networkSeconds.toFixed(1)} s, `) +
          `ceiling ${decibels(result.ceiling).toFixed(2)} dB; ` +
          `error ratio ${(result.fast / result.ceiling).toFixed(2)}; blur ${result.trueBlurPx} px, found ` +
          `${blurExtent(fast.psf)} px (support ${fast.psf.size}, consistency ` +
          `${fast.estimate.consistency.toFixed(2)}, fill ${fast.estimate.fill.toFixed(2)}, edge mass ` +
          `${fast.estimate.edgeMass.toFixed(2)}); applied at full strength ${decibels(result.applied).toFixed(2)} dB` +
          (guidedResult
            ? `; guided ${decibels(result.guided!).toFixed(2)} (${guidedResult.reliability}, found ` +
              `${blurExtent(guidedResult.psf)} px, support ${guidedResult.psf.size}, halves ` +
              `${guidedResult.estimate.consistency.toFixed(2)}), applied ${decibels(result.guidedApplied!).toFixed(2)} dB`
            : ''),
      );
    }
    if (index < Number(values['paper-pairs'])) await paperAgainstFast(pair.blurry, pair.sharp, index);
    lastNetwork = null;
  }
}

// The public sets of real camera shake that fast mode is judged on (4 scenes x 8 recorded kernels of about
// 10-27 px; 25 scenes with one 31 px kernel) have shorter blurs than the ladder's 9-75 px: each tier cut to
// that range predicts them better.
const PUBLIC_SETS_BLUR_PX = 33;
for (const [tier, list] of [...results]) {
  const short = list.filter((r) => r.trueBlurPx !== null && r.trueBlurPx <= PUBLIC_SETS_BLUR_PX);
  if (short.length && short.length < list.length)
    results.set(`${tier}, blur <= ${PUBLIC_SETS_BLUR_PX} px`, short);
}

/**
 * Mean of per-pair gains with its standard error: with 8-14 pairs a tier's mean moves by a few tenths of a dB
 * when one pair's estimate flips, so a change smaller than the error is not a finding.
 */
function withStandardError(gains: number[]): string {
  const m = mean(gains);
  if (gains.length < 2) return m.toFixed(2);
  const variance = gains.reduce((sum, g) => sum + (g - m) ** 2, 0) / (gains.length - 1);
  return `${m.toFixed(2)} ± ${Math.sqrt(variance / gains.length).toFixed(2)}`;
}

/** GoPro tiers have no true kernel: their reference is a uniform kernel fitted to each pair. */
const hasFittedReference = (list: PairResult[]): boolean => list[0]!.trueBlurPx === null;

/** How many labels are reliable / uncertain / failed. */
function labelCounts(labels: Array<Reliability | null>): string {
  return (['reliable', 'uncertain', 'failed'] as const)
    .map((label) => labels.filter((l) => l === label).length)
    .join(' / ');
}

const rows: string[][] = [];
for (const [tier, list] of results) {
  if (!list.length) continue;
  const row = (method: string, errors: number[], ssims: number[] | null, seconds: string) =>
    rows.push([
      tier,
      method,
      String(errors.length),
      mean(errors.map(decibels)).toFixed(2),
      withStandardError(errors.map((error, i) => decibels(error) - decibels(list[i]!.blurry))),
      ssims ? mean(ssims).toFixed(4) : '-',
      seconds,
    ]);
  row(
    'blurry input',
    list.map((r) => r.blurry),
    list.map((r) => r.ssim.blurry),
    '-',
  );
  row(
    'fast (blind kernel)',
    list.map((r) => r.fast),
    list.map((r) => r.ssim.fast),
    mean(list.map((r) => r.seconds)).toFixed(1),
  );
  if (restorer)
    row(
      'fast + learned restorer',
      list.map((r) => r.learned!),
      null,
      '-',
    );
  if (network)
    row(
      'learned mode (network)',
      list.map((r) => r.network!),
      list.map((r) => r.ssim.network!),
      mean(list.map((r) => r.networkSeconds)).toFixed(0),
    );
  if (guided) {
    row(
      `guided (network's window, fitted kernel; ${labelCounts(list.map((r) => r.guidedReliability))})`,
      list.map((r) => r.guided!),
      list.map((r) => r.ssim.guided!),
      mean(list.map((r) => r.guidedSeconds)).toFixed(0),
    );
    row(
      'guided kernel, always applied',
      list.map((r) => r.guidedApplied!),
      null,
      '-',
    );
  }
  row(
    'estimated kernel, always applied',
    list.map((r) => r.applied),
    null,
    '-',
  );
  row(
    hasFittedReference(list) ? 'fitted uniform kernel (reference)' : 'ceiling (true kernel)',
    list.map((r) => r.ceiling),
    list.map((r) => r.ssim.ceiling),
    '-',
  );
}
printTable(['tier', 'method', 'n', 'PSNR dB (aligned)', 'gain dB ± s.e.', 'SSIM', 's / MP'], rows);

console.log('');
const summary: string[][] = [];
for (const [tier, list] of results) {
  if (!list.length) continue;
  const ratios = list.map((r) => r.fast / r.ceiling);
  const reliable = list.filter((r) => r.reliability === 'reliable');
  const falseReliable = reliable.filter((r) => r.fast > r.blurry);
  // 0.1 dB is an error 2.3 % larger: below that a "worse" result looks the same as its input.
  const visiblyWorse = reliable.filter((r) => r.fast > r.blurry * 10 ** 0.01);
  const sizeErrors = list
    .filter((r) => r.foundBlurPx > 0 && r.trueBlurPx !== null)
    .map((r) => r.foundBlurPx - r.trueBlurPx!);
  summary.push([
    tier,
    `${((100 * ratios.filter((q) => q <= 3).length) / ratios.length).toFixed(0)} %`,
    [...ratios].sort((a, b) => a - b)[ratios.length >> 1]!.toFixed(2),
    (mean(list.map((r) => decibels(r.ceiling))) - mean(list.map((r) => decibels(r.fast)))).toFixed(2),
    labelCounts(list.map((r) => r.reliability)),
    `${falseReliable.length} of ${reliable.length} (${visiblyWorse.length} by > 0.1 dB)`,
    sizeErrors.length ? `${mean(sizeErrors).toFixed(1)} / ${mean(sizeErrors.map(Math.abs)).toFixed(1)}` : '-',
    hasFittedReference(list) ? '-' : mean(list.map((r) => r.trueBlurPx ?? 0)).toFixed(1),
  ]);
}
printTable(
  [
    'tier',
    'error ratio <= 3',
    'median ratio',
    'fast below ceiling dB',
    'reliable / uncertain / failed',
    'reliable but worse than input',
    'kernel size error px (mean / mean abs)',
    'true blur px',
  ],
  summary,
);

// A photo with no motion blur must come out as it went in: a blur "found" on a sharp photo and removed
// sharpens noise and rings. Fast mode on each pair's sharp photo, per ladder tier.
console.log('');
const sharpRows: string[][] = [];
for (const tier of tiers) {
  const list = results.get(tier);
  if (!list?.length) continue;
  const psnrs = list.map((r) => decibels(r.onSharp.error));
  sharpRows.push([
    tier,
    String(list.length),
    labelCounts(list.map((r) => r.onSharp.reliability)),
    Math.min(...psnrs).toFixed(2),
    [...psnrs].sort((a, b) => a - b)[psnrs.length >> 1]!.toFixed(2),
  ]);
}
printTable(
  [
    'sharp photos (no blur)',
    'n',
    'reliable / uncertain / failed',
    'result against the photo: lowest PSNR dB',
    'median PSNR dB',
  ],
  sharpRows,
);

/**
 * Paper mode against fast mode on the central 256x256 crop: PSNR and time; with the network, also its
 * restoration and paper mode started from it (`--paper-start`).
 */
async function paperAgainstFast(blurry: FloatImage, sharp: FloatImage, index: number): Promise<void> {
  const loaded = await loadModel(values.checkpoint ? path.resolve(values.checkpoint) : DEFAULT_CHECKPOINT);
  const x = (sharp.width - 256) >> 1;
  const y = (sharp.height - 256) >> 1;
  const cropSharp = crop(sharp, x, y, 256, 256);
  const cropBlurry = crop(blurry, x, y, 256, 256);
  const options = { ...PAPER_DEFAULTS, ...paperSchedule(Number(values['paper-iterations'])), seed: index };
  const psnr = (image: FloatImage) => decibels(alignedError(image, cropSharp)).toFixed(2);
  const starts = network ? values['paper-start'] : 'noise';
  const parts = [`blurry ${psnr(cropBlurry)}`];
  if (starts !== 'network') {
    const [paper, paperSeconds] = await timed(() => paperDeblur(loaded.model, cropBlurry, options, ctx));
    parts.push(`paper ${psnr(paper)} dB in ${paperSeconds.toFixed(0)} s`);
  }
  if (network && starts !== 'noise') {
    const start = await rememberedNetwork(cropBlurry, ctx, () => undefined);
    const [paper, paperSeconds] = await timed(() =>
      paperDeblur(loaded.model, cropBlurry, { ...options, start }, ctx),
    );
    parts.push(`network ${psnr(start)}, paper from it ${psnr(paper)} dB in ${paperSeconds.toFixed(0)} s`);
  }
  const [fast, fastSeconds] = await timed(() => fastDeblur(cropBlurry, fastOptions, ctx));
  parts.push(`fast ${psnr(fast.image)} dB in ${fastSeconds.toFixed(1)} s`);
  console.log(`paper mode on a 256x256 crop (${options.iterations} iterations): ${parts.join(', ')}`);
}

// A full-size photo (a val photo resized to e.g. 6000x4000, 24 MP, saved as a JPEG): the whole deblur job as
// a user runs it (read, estimate, preview, restore on all cores, write), timed here. Twice: as resized (its
// upscaling leaves a small blur), and blurred by a 25 px camera shake, as the photos fast mode is for. The
// deconvolution's time grows with the kernel found (larger tiles), so the kernel's size is printed with it.
if (values['full-size'] !== '0') {
  const [width, height] = values['full-size'].split('x').map(Number) as [number, number];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-bench-'));
  try {
    const { data, info } = await sharp(
      path.join(SHARED_DATA_DIR, 'photos', 'enlightenment-data', 'Bamboo.jpg'),
    )
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const shake = shakeKernel(new Rng(24), 25);
    const photos: Array<[string, ReturnType<typeof sharp>]> = [
      ['as resized', sharp(data, { raw: info })],
      [
        'with a 25 px shake',
        sharp(data, { raw: info }).convolve({
          width: shake.width,
          height: shake.height,
          kernel: Array.from(shake.data),
        }),
      ],
    ];
    const engine = await Engine.create({
      backend: 'auto',
      checkpointPath: null,
      defaultCheckpointPath: DEFAULT_CHECKPOINT,
      ...(restorerPath && { restorerPath }),
      ...(values['tile-size'] && { tileSize: Number(values['tile-size']) as 512 | 1024 | 2048 }),
    });
    console.log(
      `machine speed: a 1024x1024 real FFT takes ${fftMilliseconds().toFixed(1)} ms here (compare timings ` +
        `between machines with it)`,
    );
    for (const [what, photo] of photos) {
      const photoPath = path.join(dir, 'full.jpg');
      await photo.jpeg({ quality: 92 }).toFile(photoPath);
      for (const learned of restorerPath ? [false, true] : [false]) {
        const outputPath = path.join(dir, 'out.jpg');
        const spec = JobSpec.parse({ kind: 'deblur', photoPath, outputPath, learned });
        const [result, seconds] = await timed(() => engine.runJob(spec, ctx.signal, () => undefined));
        const estimate = result.kind === 'deblur' ? result.estimate : undefined;
        console.log(
          `full size: the fast deblur job${learned ? ' with the learned restorer' : ''} on a ${width}x${height} ` +
            `JPEG (${((width * height) / 1e6).toFixed(1)} MP, ${what}) took ${seconds.toFixed(1)} s (read to ` +
            `written file, ${tileThreads()} threads, estimate ${estimate?.reliability}, kernel ` +
            `${estimate?.extent.width}x${estimate?.extent.height} px); peak RSS of this process so far ` +
            `${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`,
        );
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * onnxruntime's dense peak here: the best of `runs` runs of a 2048x2048 by 2048x2048 MatMul (17.2 GFLOP) on
 * `threads` intra-op threads, in GFLOPS; null without onnxruntime.
 */
async function densePeakGflops(threads: number, runs = 8): Promise<number | null> {
  const ort = loadOnnxRuntime();
  if (typeof ort === 'string') return null;
  const n = 2048;
  const matrix = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i) / 64);
  const bytes = new Uint8Array(matrix.buffer);
  const model = encodeOnnxModel(
    {
      name: 'dense-peak',
      nodes: [{ op: 'MatMul', inputs: ['x', 'w'], outputs: ['y'] }],
      initializers: [{ name: 'w', type: 'float', dims: [n, n], data: bytes }],
      inputs: [{ name: 'x', type: 'float', dims: [n, n] }],
      outputs: [{ name: 'y', type: 'float', dims: [n, n] }],
    },
    20,
    'blurspace bench',
  );
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds = { x: new ort.Tensor('float32', matrix, [n, n]) };
  let best = Infinity;
  for (let run = 0; run <= runs; run++) {
    const [, seconds] = await timed(() => session.run(feeds));
    if (run > 0) best = Math.min(best, seconds);
  }
  return (2 * n ** 3) / best / 1e9;
}

// Learned mode's speed on a photo of a modest size (a val photo resized), tiles on threads as in the app:
// seconds per megapixel, and the GFLOPS achieved (the tiles' arithmetic, counted on the network's ONNX graph,
// over the time) against onnxruntime's dense peak measured right after.
if (network && values['learned-timing'] !== '0') {
  const side = Number(values['learned-timing']);
  const photo = await readPhoto(
    await sharp(path.join(SHARED_DATA_DIR, 'photos', 'enlightenment-data', 'Bamboo.jpg'))
      .resize(side, side, { fit: 'cover' })
      .png()
      .toBuffer(),
  );
  const megapixels = (side * side) / 1e6;
  const tiles = learnedTileCount(side, side);
  const tile = Math.min(LEARNED_TILES.tileSize, roundUpToGrid(side, LEARNED_TILES.cell));
  for (const runtime of values['learned-runtime'].split(',')) {
    // The tile threads read it when they start: a new network (new threads) for each runtime.
    process.env.BLURSPACE_LEARNED_RUNTIME = runtime;
    const timedNetwork = new LearnedNetwork(networkPath!);
    const [, seconds] = await timed(async () => deblurLearned(timedNetwork, photo, 1, ctx, () => undefined));
    console.log(
      `learned mode (runtime ${runtime}): a ${side}x${side} photo (${tiles} tiles) took ` +
        `${seconds.toFixed(0)} s, ${(seconds / megapixels).toFixed(0)} s per megapixel (${tileThreads()} threads, ` +
        `network load and warm-up included); load average ${os.loadavg()[0]!.toFixed(1)}; peak RSS ` +
        `${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`,
    );
    const gflop = (await maximTileFlops(networkPath!, tile, tile)).total / 1e9;
    const achieved = (gflop * tiles) / seconds;
    const peaks = [1, tileThreads()].filter((t, i, all) => all.indexOf(t) === i);
    const peak: Array<[number, number | null]> = [];
    for (const threads of peaks) peak.push([threads, await densePeakGflops(threads)]);
    const best = Math.max(...peak.map(([, g]) => g ?? 0));
    console.log(
      `  ${gflop.toFixed(1)} GFLOP a ${tile}x${tile} tile (counted on its ONNX graph), ${(gflop * tiles).toFixed(0)} ` +
        `in all: ${achieved.toFixed(1)} GFLOPS achieved; dense peak (onnxruntime MatMul 2048³, measured now) ` +
        peak
          .map(([t, g]) => `${g === null ? 'n/a' : g.toFixed(0)} GFLOPS on ${count(t, 'thread')}`)
          .join(', ') +
        (best
          ? `: ${((100 * achieved) / best).toFixed(0)} % of it; at that peak at least ` +
            `${((gflop * tiles) / best / megapixels).toFixed(0)} s per megapixel`
          : ''),
    );
  }
}

// Each pair's ceiling kernel (left) beside fast mode's (right), both centred in the largest support, two pairs a row
// in the order of the per-pair lines: what a kernel's shape got wrong, which its size and similarity do not show.
if (values['kernel-sheet'] && kernelSheet.length) {
  const side = Math.max(...kernelSheet.map((psf) => psf.size));
  const cols = Math.min(4, kernelSheet.length);
  const cells = kernelSheet.map((psf) => embedPsf(psf, side));
  await writeTracePng(
    { rows: Math.ceil(cells.length / cols), cols, cells },
    values['kernel-sheet'],
    2 * side,
  );
  console.log(`\nkernels (ceiling | fast mode, two pairs a row): ${values['kernel-sheet']}`);
}

// --sheet '' skips the real-blurry contact sheet.
if (values.sheet) {
  // Real blurry photos (no ground truth), for looking at: a row a photo, input | fast mode, then
  // input | fast + learned restorer and input | learned mode when they run.
  const sheet = [];
  for (const name of ['blur1.png', 'blur2.png', 'face01.png']) {
    const photo = await readPhoto(path.join(SHARED_DATA_DIR, 'real-blurry', name));
    const { image } = await fastDeblur(photo, fastOptions, ctx);
    const cell = (result: FloatImage) => ({
      sharp: photo.data,
      blurry: result.data,
      width: photo.width,
      height: photo.height,
    });
    sheet.push(cell(image));
    const learned = await withRestorer(image);
    if (learned) sheet.push(cell(learned));
    const restored = await withNetwork(photo);
    if (restored) sheet.push(cell(restored));
  }
  const columns = 1 + Number(Boolean(restorer)) + Number(Boolean(network));
  await writeContactSheet(sheet, values.sheet, { labels: false, columns });
  const layout = [
    'input | fast mode',
    restorer && 'input | fast + learned restorer',
    network && 'input | learned mode',
  ];
  console.log(
    `\nreal-blurry contact sheet (a row a photo: ${layout.filter(Boolean).join(', ')}): ${values.sheet}`,
  );
}
