// `blurspace train` and `blurspace pairs`: training F and G (or the restorer), and looking at the pairs they learn from.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadCheckpointFile, loadRestorerCheckpoint } from '../engine/checkpoint';
import { TrainConfig } from '../engine/training/config';
import { writePhoto, type Photo } from '../engine/image';
import { pairPaths } from '../engine/kernels/pair-folder';
import {
  makePair,
  trainingData,
  writeContactSheet,
  type PairKind,
  type TrainingPair,
} from '../engine/training';
import { withFastModeInputs } from '../engine/training/fast-mode-inputs';
import { train } from '../engine/training/trainer';
import { formatDuration, createProgressBar } from './progress-bar';
import { SHARED_DATA_DIR } from '../host/paths';

export async function runTrainCommand(options: {
  configPath: string;
  outDir: string;
  resume: boolean;
  initFrom?: string;
  quiet: boolean;
}): Promise<number> {
  const config = TrainConfig.parse(JSON.parse(readFileSync(options.configPath, 'utf8')));
  const loadInit = config.task === 'restorer' ? loadRestorerCheckpoint : loadCheckpointFile;
  const initFrom = options.initFrom ? await loadInit(path.resolve(options.initFrom)) : null;
  const pairs = trainingData({
    dataRoot: SHARED_DATA_DIR,
    seed: config.seed,
    size: config.data.cropSize,
    batchSize: config.batchSize,
    mix: config.data.mix,
    maxBlurPx: config.data.maxBlurPx,
    validationPairs: config.validationPairs,
    partners: config.transferWeight > 0,
  });
  const fastModeInputs = config.data.restorerInput === 'fast-mode' ? withFastModeInputs(pairs) : null;
  const controller = new AbortController();
  // The first Ctrl-C stops after the current step and saves; a second one quits at once.
  process.once('SIGINT', () => {
    console.error('\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const bar = createProgressBar(options.quiet);
  const step = await train(config, fastModeInputs ?? pairs, {
    outDir: options.outDir,
    resume: options.resume,
    ...(initFrom && {
      initFrom: { tensors: initFrom.tensors, description: `${options.initFrom} (sha256 ${initFrom.sha256})` },
    }),
    signal: controller.signal,
    onStep: (r) =>
      bar.update({
        stage: `step ${r.step}/${config.steps}`,
        progress: r.step / config.steps,
        etaSeconds: r.etaSeconds,
        detail:
          `loss ${r.loss.toFixed(5)}${r.kl === null ? '' : ` (KL ${r.kl.toExponential(2)})`}` +
          `${r.transfer === null ? '' : ` (transfer ${r.transfer.toFixed(5)})`} ` +
          `lr ${r.learningRate.toExponential(2)} ${r.secondsPerStep.toFixed(2)} s/step`,
      }),
    onValidation: (r) => {
      const kinds = Object.keys(r.psnr)
        .map((k) => `${k} ${r.psnr[k]!.toFixed(2)} dB (pair ${r.identityPsnr[k]!.toFixed(2)})`)
        .join(', ');
      console.error(`\nvalidation at step ${r.step}: ${kinds}`);
    },
  }).finally(() => fastModeInputs?.close());
  bar.done();
  console.log(`stopped at step ${step} of ${config.steps}; checkpoint in ${path.join(options.outDir)}`);
  return 0;
}

export async function runPairsCommand(options: {
  kind: string;
  count: number;
  outputPath: string;
  split: string;
  size: number;
  seed: number;
}): Promise<number> {
  if (!['gopro', 'shake', 'kernel'].includes(options.kind))
    throw new Error(`unknown pair kind "${options.kind}"`);
  if (options.split !== 'train' && options.split !== 'val') throw new Error('--split is train or val');
  const started = Date.now();
  const pairs = [];
  for (let index = 0; index < options.count; index++) {
    pairs.push(
      await makePair(options.kind as PairKind, {
        seed: options.seed,
        index,
        size: options.size,
        split: options.split,
        dataRoot: SHARED_DATA_DIR,
      }),
    );
  }
  if (path.extname(options.outputPath)) await writeContactSheet(pairs, options.outputPath);
  else await writePairFolder(pairs, options);
  console.log(
    `${options.count} ${options.kind} pairs written to ${options.outputPath} in ${formatDuration((Date.now() - started) / 1000)}`,
  );
  return 0;
}

/** The pairs as files, in the layout `blurspace augment --pairs` reads: DIR/NAME_sharp.png, DIR/NAME_blur.png. */
async function writePairFolder(
  pairs: TrainingPair[],
  options: { kind: string; outputPath: string; split: string; seed: number },
): Promise<void> {
  await mkdir(options.outputPath, { recursive: true });
  for (const [index, pair] of pairs.entries()) {
    const name = `${options.kind}-${options.split}-${options.seed}-${String(index).padStart(3, '0')}`;
    const paths = pairPaths(options.outputPath, 'suffix', name, '.png');
    const photo = (data: Float32Array): Photo => ({
      width: pair.width,
      height: pair.height,
      channels: 3,
      data,
      sourceBitDepth: 8,
      sourceFormat: 'png',
      metadata: { space: 'srgb', grayscale: false, orientation: 1, pages: 1 },
    });
    await writePhoto(paths.sharp, photo(pair.sharp), { format: 'png' });
    await writePhoto(paths.blurry, photo(pair.blurry), { format: 'png' });
  }
}
