// `npx blurspace <command>`: the command line, running the same engine in-process.
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  BackendPreference,
  JobSpec,
  type EngineInfo,
  type JobResult,
  type JobSpecInput,
} from '../common/api';
import { initBackend, preferenceFromEnvironment } from '../engine/core/backend';
import { Engine } from '../engine/engine';
import { writeFileAtomic } from '../engine/core/fs-atomic';
import { augmentPairs, AUGMENT_MANIFEST, generateBlurs } from '../engine/jobs/blur-synthesis';
import { JobCancelledError, jobContext, type JobContext, type ProgressUpdate } from '../engine/core/progress';
import { loadKernelFile } from '../engine/kernels/kernel-file';
import { writeTracePng } from '../engine/kernels/trace';
import { DEFAULT_CHECKPOINT, DEFAULT_RESTORER, DEFAULT_VAE_CHECKPOINT } from '../host/paths';
import { createProgressBar } from './progress-bar';
import { SettingsStore, defaultConfigDir } from '../host/settings';
import { runTrainCommand, runPairsCommand } from './train-command';

const USAGE = `Usage: blurspace <command> [options]

Commands:
  info                                   Backend, device, versions and the checkpoint in use
  extract-kernel --sharp S --blurry B -o K.blurkernel
                                         Read the blur of a sharp/blurry pair into a kernel file
  apply-kernel PHOTO --kernel K -o OUT [--uniform]
                                         Put a saved blur onto another photo (spatial by default)
  show-kernel K -o trace.png             Draw a kernel file's blur trace
  deblur PHOTO -o OUT [--mode fast|paper] [--roi x,y,w,h] [--iterations N] [--strength S]
         [--learned] [--seed N] [--loss-log FILE] [--trace KERNEL.png]
                                         Blind deblurring. fast (default): the blur is estimated on
                                         the most textured part (or --roi), then removed from the
                                         whole photo; --learned then runs the learned restorer
                                         (slower; also for blur one kernel cannot describe);
                                         --trace draws the kernel it found. paper: the paper's
                                         Algorithm 1 on --roi (up to 1 MP), --iterations
  batch IN... -o OUTDIR [--recursive] [--preset export|apply-kernel|deblur] [--kernel K] [--uniform]
        [--strength S] [--learned] [--format F] [--quality Q] [--bit-depth 8|16] [--name TEMPLATE]
        [--strip-metadata] [--on-conflict skip|rename|overwrite] [--jobs N]
                                         Export, blur (apply-kernel --kernel K) or deblur (fast mode,
                                         --strength 0..1, default 1, --learned) many photos and
                                         folders into OUTDIR, the folder tree mirrored; names from
                                         TEMPLATE ({name}, {preset}, {date}, {n}; default
                                         {name}-{preset}); existing files are renamed around by
                                         default. Run it again to resume after a crash or Ctrl-C; a
                                         report is written to OUTDIR (deblur: which photos were left
                                         unchanged)
  train --config C --out DIR [--resume] [--init-from CHECKPOINT]
                                         Train F and G (see resources/training/); --init-from starts
                                         a new run from another run's weights (e.g. a VAE from the
                                         default model)
  pairs --kind gopro|shake|kernel -n N -o sheet.png|DIR [--split train|val] [--size S] [--seed S]
                                         A contact sheet of training pairs, for looking at; with a
                                         folder (no extension), the pairs as DIR/NAME_sharp.png and
                                         DIR/NAME_blur.png
  generate-blur PHOTO -n N -o DIR [--seed S] [--spatial]
                                         N blurred versions of PHOTO with blurs sampled from the
                                         kernel space's prior (the shipped VAE model
                                         unless --checkpoint names another VAE), each with its
                                         blur trace; --spatial: a blur per 128x128 cell
  augment --pairs DIR --targets DIR -o DIR [-n K] [--seed S] [--uniform]
                                         Blur transfer: the blur of each sharp/blurry pair in --pairs
                                         onto the sharp photos in --targets (K blurs each, default 1),
                                         written as new pairs with a manifest (augment.json). Pairs are
                                         NAME_sharp.EXT + NAME_blur.EXT, or sharp/NAME.EXT + blur/NAME.EXT

Common options:
  --backend B          auto | gpu | wasm | cpu (default: the saved setting, or BLURSPACE_BACKEND)
  --checkpoint PATH    Model checkpoint (ours .safetensors or the authors' .pth)
  --json               Machine-readable output (info)
  -q, --quiet          No progress bar
  -h, --help           This help`;

const OPTIONS = {
  backend: { type: 'string' },
  checkpoint: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  output: { type: 'string', short: 'o' },
  sharp: { type: 'string' },
  blurry: { type: 'string' },
  kernel: { type: 'string' },
  uniform: { type: 'boolean', default: false },
  name: { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'boolean', default: false },
  'init-from': { type: 'string' },
  kind: { type: 'string' },
  split: { type: 'string' },
  size: { type: 'string' },
  n: { type: 'string', short: 'n' },
  seed: { type: 'string' },
  mode: { type: 'string' },
  roi: { type: 'string' },
  iterations: { type: 'string' },
  strength: { type: 'string' },
  learned: { type: 'boolean', default: false },
  'loss-log': { type: 'string' },
  trace: { type: 'string' },
  recursive: { type: 'boolean', short: 'r', default: false },
  preset: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  'bit-depth': { type: 'string' },
  'on-conflict': { type: 'string' },
  'strip-metadata': { type: 'boolean', default: false },
  jobs: { type: 'string' },
  spatial: { type: 'boolean', default: false },
  pairs: { type: 'string' },
  targets: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

class UsageError extends Error {}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`missing ${flag}`);
  return path.resolve(value);
}

function formatInfo(info: EngineInfo): string {
  const versions = Object.entries(info.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `backend     ${info.backend}${info.gpu ? ' (GPU)' : ''}`,
    `device      ${info.device}`,
    `checkpoint  ${info.checkpoint.description}`,
    `versions    ${versions}`,
    `note        ${info.backendNote}`,
  ].join('\n');
}

function savedSettings() {
  return SettingsStore.load(path.join(defaultConfigDir(), 'settings.json')).get();
}

function backendPreference(values: Values): BackendPreference {
  return values.backend
    ? BackendPreference.parse(values.backend)
    : preferenceFromEnvironment(savedSettings().backend);
}

async function createEngine(values: Values): Promise<Engine> {
  return Engine.create({
    backend: backendPreference(values),
    checkpointPath: values.checkpoint ? path.resolve(values.checkpoint) : savedSettings().checkpointPath,
    defaultCheckpointPath: DEFAULT_CHECKPOINT,
    restorerPath: DEFAULT_RESTORER,
  });
}

/** Runs one engine job with a progress bar; Ctrl-C cancels it cleanly. Loss terms go to `lossLog` (JSONL). */
async function runJob(
  engine: Engine,
  input: JobSpecInput,
  quiet: boolean,
  lossLog?: string,
): Promise<JobResult> {
  const spec = JobSpec.parse(input);
  return withProgress(quiet, (signal, onProgress) => engine.runJob(spec, signal, onProgress), lossLog);
}

/** Runs engine work in a job context (progress bar, ETA); Ctrl-C cancels it cleanly. */
function runTask<T>(quiet: boolean, work: (ctx: JobContext) => Promise<T>): Promise<T> {
  return withProgress(quiet, (signal, onProgress) => work(jobContext(signal, onProgress)));
}

async function withProgress<T>(
  quiet: boolean,
  work: (
    signal: AbortSignal,
    onProgress: (update: ProgressUpdate & { etaSeconds: number | null }) => void,
  ) => Promise<T>,
  lossLog?: string,
): Promise<T> {
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const bar = createProgressBar(quiet);
  const log = lossLog ? createWriteStream(lossLog) : null;
  try {
    return await work(controller.signal, (update) => {
      if (update.loss) log?.write(`${JSON.stringify(update.loss)}\n`);
      const detail = update.loss ? `loss ${update.loss.terms.total?.toFixed(5) ?? ''}` : undefined;
      bar.update({ ...update, detail });
    });
  } finally {
    bar.done();
    log?.end();
    process.off('SIGINT', onSigint);
  }
}

function parseRegion(
  text: string | undefined,
): { x: number; y: number; width: number; height: number } | undefined {
  if (!text) return undefined;
  const parts = text.split(',').map(Number);
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new UsageError(`--roi wants x,y,width,height in pixels, got "${text}"`);
  }
  const [x, y, width, height] = parts as [number, number, number, number];
  return { x, y, width, height };
}

const optionalNumber = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : Number(text);

/** Ctrl-C in a command that writes file after file: says what stays, and resolves to null. */
const cancelledPartway =
  (kept: string) =>
  (error: unknown): null => {
    if (!(error instanceof JobCancelledError)) throw error;
    console.error(`blurspace: cancelled; ${kept} are kept.`);
    return null;
  };

/** A whole-number option of at least `min`, or its default. */
function countOption(text: string | undefined, flag: string, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} wants a whole number of at least ${min}, got "${text}"`);
  }
  return value;
}

/** `batch`: many photos through one preset, resumable; exit code 1 when some photos failed. */
async function runBatchCommand(values: Values, inputs: string[]): Promise<number> {
  if (inputs.length === 0) throw new UsageError('missing the photos or folders to process');
  const outDir = required(values.output, '-o OUTDIR');
  const presetName = z.enum(['export', 'apply-kernel', 'deblur']).parse(values.preset ?? 'export');
  const spec = JobSpec.parse({
    kind: 'batch',
    inputs: inputs.map((input) => path.resolve(input)),
    recursive: values.recursive,
    outDir,
    preset:
      presetName === 'export'
        ? { kind: 'export' }
        : presetName === 'deblur'
          ? { kind: 'deblur', strength: optionalNumber(values.strength), learned: values.learned }
          : {
              kind: 'apply-kernel',
              kernelPath: required(values.kernel, '--kernel KERNEL'),
              mode: values.uniform ? 'uniform' : 'spatial',
            },
    output: {
      format: values.format,
      quality: optionalNumber(values.quality),
      bitDepth: optionalNumber(values['bit-depth']),
      keepMetadata: values['strip-metadata'] ? false : undefined,
    },
    nameTemplate: values.name,
    onConflict: values['on-conflict'] ?? 'rename',
    jobs: optionalNumber(values.jobs) ?? 1,
  });
  try {
    const result = await runJob(await createEngine(values), spec, values.quiet);
    if (result.kind !== 'batch') throw new Error(`unexpected ${result.kind} result`);
    for (const item of result.problems.filter((i) => i.status === 'failed')) {
      console.log(`failed   ${item.input}: ${item.reason ?? ''}`);
    }
    for (const item of result.unchanged) console.log(`unchanged ${item.input}: ${item.note}`);
    const { counts } = result;
    console.log(
      `${counts.total} photos: ${counts.done} done` +
        (result.unchanged.length ? ` (${result.unchanged.length} written unchanged)` : '') +
        `, ${counts.failed} failed, ${counts.skipped} skipped; report in ${result.reportPath}`,
    );
    return counts.failed > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof JobCancelledError) {
      console.error('blurspace: batch cancelled; finished photos are kept, run the same command to resume.');
      return 130;
    }
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'info': {
      const info = (await createEngine(values)).info();
      console.log(values.json ? JSON.stringify(info, null, 2) : formatInfo(info));
      return 0;
    }
    case 'extract-kernel': {
      const sharpPath = required(values.sharp, '--sharp PHOTO');
      const blurryPath = required(values.blurry, '--blurry PHOTO');
      const outputPath = required(values.output, '-o KERNEL');
      const spec = {
        kind: 'extractKernel' as const,
        sharpPath,
        blurryPath,
        outputPath,
        name: values.name,
      };
      await runJob(await createEngine(values), spec, values.quiet);
      console.log(`kernel written to ${outputPath}`);
      return 0;
    }
    case 'apply-kernel': {
      const photoPath = required(rest[0], 'the PHOTO to blur');
      const kernelPath = required(values.kernel, '--kernel KERNEL');
      const outputPath = required(values.output, '-o OUTPUT');
      const spec = {
        kind: 'applyKernel' as const,
        photoPath,
        kernelPath,
        outputPath,
        mode: values.uniform ? ('uniform' as const) : ('spatial' as const),
      };
      await runJob(await createEngine(values), spec, values.quiet);
      console.log(`blurred photo written to ${outputPath}`);
      return 0;
    }
    case 'deblur': {
      const photoPath = required(rest[0], 'the PHOTO to deblur');
      const outputPath = required(values.output, '-o OUTPUT');
      const spec = {
        kind: 'deblur' as const,
        photoPath,
        outputPath,
        mode: (values.mode ?? 'fast') as 'fast' | 'paper',
        roi: parseRegion(values.roi),
        iterations: values.iterations ? Number(values.iterations) : undefined,
        strength: values.strength ? Number(values.strength) : undefined,
        learned: values.learned,
        seed: values.seed ? Number(values.seed) : undefined,
      };
      const lossLog = values['loss-log'] ? path.resolve(values['loss-log']) : undefined;
      const result = await runJob(await createEngine(values), spec, values.quiet, lossLog);
      if (result.kind === 'deblur' && result.estimate) {
        const { note, window, extent, traceDataUrl } = result.estimate;
        console.log(
          `${note} (blur about ${extent.width}x${extent.height} px, estimated on ${window.width}x${window.height} ` +
            `at ${window.x},${window.y})`,
        );
        if (values.trace) {
          await writeFileAtomic(values.trace, Buffer.from(traceDataUrl.split(',')[1]!, 'base64'));
          console.log(`blur kernel drawn to ${values.trace}`);
        }
      }
      console.log(`deblurred photo written to ${outputPath}`);
      return 0;
    }
    case 'show-kernel': {
      const kernel = await loadKernelFile(required(rest[0], 'the KERNEL file'));
      const outputPath = required(values.output, '-o PICTURE.png');
      await writeTracePng(kernel.psf, outputPath);
      console.log(`blur trace (${kernel.psf.rows}x${kernel.psf.cols} regions) written to ${outputPath}`);
      return 0;
    }
    case 'batch':
      return runBatchCommand(values, rest);
    case 'generate-blur': {
      const photoPath = required(rest[0], 'the PHOTO to blur');
      const outDir = required(values.output, '-o DIR');
      const count = countOption(values.n, '-n', 8, 1);
      const seed = countOption(values.seed, '--seed', 1, 0);
      // Sampling needs the VAE prior: the shipped VAE model unless a checkpoint is named.
      const checkpoint = values.checkpoint ?? DEFAULT_VAE_CHECKPOINT;
      const loaded = await (await createEngine({ ...values, checkpoint })).loadModel();
      const results = await runTask(values.quiet, (ctx) =>
        generateBlurs(loaded, { photoPath, outDir, count, seed, spatial: values.spatial }, ctx),
      ).catch(cancelledPartway('the blurs already written'));
      if (!results) return 130;
      for (const result of results) console.log(`${result.outputPath}  (blur trace ${result.tracePath})`);
      console.log(`${count} blurs sampled from the prior (seed ${seed}) written to ${outDir}`);
      return 0;
    }
    case 'augment': {
      const options = {
        pairsDir: required(values.pairs, '--pairs DIR'),
        targetsDir: required(values.targets, '--targets DIR'),
        outDir: required(values.output, '-o DIR'),
        perTarget: countOption(values.n, '-n', 1, 1),
        seed: countOption(values.seed, '--seed', 1, 0),
        mode: values.uniform ? ('uniform' as const) : ('spatial' as const),
      };
      const loaded = await (await createEngine(values)).loadModel();
      const manifest = await runTask(values.quiet, (ctx) => augmentPairs(loaded, options, ctx)).catch(
        cancelledPartway('the pairs already written (but no manifest)'),
      );
      if (!manifest) return 130;
      for (const pair of manifest.pairs.filter((p) => p.warning)) {
        console.error(`blurspace: warning: pair "${pair.name}": ${pair.warning}`);
      }
      console.log(
        `${manifest.items.length} new pairs (${manifest.pairs.length} source pairs, seed ${manifest.seed}) ` +
          `written to ${options.outDir}; manifest in ${path.join(options.outDir, AUGMENT_MANIFEST)}`,
      );
      return 0;
    }
    case 'train':
      console.error((await initBackend(backendPreference(values))).note);
      return runTrainCommand({
        configPath: required(values.config, '--config FILE'),
        outDir: required(values.out, '--out DIR'),
        resume: values.resume,
        initFrom: values['init-from'],
        quiet: values.quiet,
      });
    case 'pairs':
      return runPairsCommand({
        kind: values.kind ?? 'shake',
        count: Number(values.n ?? 8),
        outputPath: required(values.output, '-o SHEET.png'),
        split: values.split ?? 'train',
        size: Number(values.size ?? 256),
        seed: Number(values.seed ?? 1),
      });
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof z.ZodError) {
      console.error(`blurspace: invalid options:\n${z.prettifyError(error)}`);
      process.exit(2);
    }
    if (error instanceof UsageError) {
      console.error(`blurspace: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof JobCancelledError) {
      console.error('blurspace: cancelled; nothing was written.');
      process.exit(130);
    }
    console.error(`blurspace: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
