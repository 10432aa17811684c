// The commands of `blurspace`: each with its help, the options it takes, and what it runs.
import path from 'node:path';
import { z } from 'zod';
import { JobSpec, type EngineInfo } from '../common/api';
import { count } from '../common/words';
import { initBackend } from '../engine/core/backend';
import { writeFileAtomic } from '../engine/core/fs-atomic';
import { JobCancelledError } from '../engine/core/progress';
import { augmentPairs, AUGMENT_MANIFEST, generateBlurs } from '../engine/jobs/blur-synthesis';
import { loadKernelFile } from '../engine/kernels/kernel-file';
import { pairGrid } from '../engine/deblur/pair-kernel';
import { STAND_IN_MISSING, STAND_IN_WINDOW } from '../engine/jobs/kernel-jobs';
import { writeTracePng } from '../engine/kernels/trace';
import { DEFAULT_VAE_CHECKPOINT } from '../host/paths';
import {
  BACKEND,
  CHECKPOINT,
  countOption,
  optionalNumber,
  optionalPath,
  parseRegion,
  QUIET,
  refuseToReplaceInputs,
  required,
  UsageError,
  type Command,
  type OptionHelp,
  type Values,
} from './command';
import { cancelledPartway, backendPreference, createEngine, runJob, runTask } from './engine-run';
import { runPairsCommand, runTrainCommand } from './train-command';

const IN_PLACE: OptionHelp = {
  name: 'in-place',
  flag: '--in-place',
  help: 'Write the result over PHOTO (atomically); -o may then be left out',
};

/** -o, or with --in-place and no -o the input itself. */
const resultPath = (values: Values, input: string): string =>
  values.output || !values['in-place'] ? required(values.output, '-o OUTPUT (or --in-place)') : input;

function formatInfo(info: EngineInfo): string {
  const versions = Object.entries(info.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return [
    `backend     ${info.backend}${info.gpu ? ' (GPU)' : ''}`,
    `device      ${info.device}`,
    `checkpoint  ${info.checkpoint.description}`,
    `network     ${info.learnedNetwork.note}`,
    `versions    ${versions}`,
    `note        ${info.backendNote}`,
  ].join('\n');
}

const info: Command = {
  name: 'info',
  summary: 'Backend, device, versions, the checkpoint in use and the learned network',
  usage: '[--json]',
  description:
    'Says which backend and device the engine runs on, the versions of its parts, the checkpoint it uses ' +
    "and whether learned mode's network is installed.",
  options: [{ name: 'json', flag: '--json', help: 'Machine-readable output' }, BACKEND, CHECKPOINT],
  async run(values) {
    const engineInfo = (await createEngine(values)).info();
    console.log(values.json ? JSON.stringify(engineInfo, null, 2) : formatInfo(engineInfo));
    return 0;
  },
};

const extractKernel: Command = {
  name: 'extract-kernel',
  summary: 'Read the blur of a sharp/blurry pair (or of one blurry photo) into a kernel file',
  usage: '[--sharp S] --blurry B -o K.blurkernel [--name NAME]',
  description:
    'Reads the blur between a sharp photo and a blurry photo of the same scene into a kernel file, which ' +
    "apply-kernel and the app can put onto other photos. Without --sharp, the learned mode's network " +
    '(MAXIM) restores the parts of the blurry photo the blur is measured on and stands in for the sharp ' +
    'photo: one network tile (tens of seconds on a CPU) per region, up to 9.',
  options: [
    { name: 'sharp', flag: '--sharp PHOTO', help: 'The sharp photo (optional: see above)' },
    { name: 'blurry', flag: '--blurry PHOTO', help: 'The same scene, blurred' },
    { name: 'output', flag: '-o, --output KERNEL', help: 'The kernel file to write (.blurkernel)' },
    { name: 'name', flag: '--name NAME', help: 'The name stored in the kernel file' },
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values) {
    const sharpPath = optionalPath(values.sharp);
    const blurryPath = required(values.blurry, '--blurry PHOTO');
    const outputPath = required(values.output, '-o KERNEL');
    await refuseToReplaceInputs(
      [sharpPath, blurryPath, optionalPath(values.checkpoint)],
      [{ flag: '-o', path: outputPath }],
    );
    const engine = await createEngine(values);
    if (!sharpPath) {
      // One network tile per region (kernel-jobs.ts): say so, and how long, before starting.
      const photo = await engine.openPhoto(blurryPath);
      const { rows, cols } = pairGrid(photo.width, photo.height);
      const estimate = engine.learnedEstimate(STAND_IN_WINDOW, STAND_IN_WINDOW);
      if (!estimate.available) throw new Error(STAND_IN_MISSING);
      console.log(
        `no --sharp: the network restores ${count(rows * cols, 'region')} of the blurry photo to measure ` +
          `the blur against, about ${Math.max(1, Math.round((rows * cols * estimate.seconds!) / 60))} min`,
      );
    }
    const spec = { kind: 'extractKernel' as const, sharpPath, blurryPath, outputPath, name: values.name };
    const result = await runJob(engine, spec, values.quiet);
    console.log(`kernel written to ${outputPath}`);
    // How far the blur measured from the pair can be trusted, as the app's Kernel panel says it.
    if (result.kind === 'extractKernel' && result.kernel.explicit) console.log(result.kernel.explicit.note);
    return 0;
  },
};

const applyKernel: Command = {
  name: 'apply-kernel',
  summary: 'Put a saved blur onto another photo',
  usage: 'PHOTO --kernel K -o OUT [--uniform] [--explicit] [--in-place]',
  description:
    'Blurs PHOTO with the blur of a kernel file. The kernel is spatial by default: its grid of blurs is ' +
    'stretched over the photo; --uniform uses its mean blur everywhere. The result never replaces PHOTO ' +
    'unless --in-place says so.',
  options: [
    { name: 'kernel', flag: '--kernel K', help: 'The kernel file (.blurkernel)' },
    { name: 'output', flag: '-o, --output OUT', help: 'The blurred photo; its extension sets the format' },
    { name: 'uniform', flag: '--uniform', help: "The kernel's mean blur everywhere" },
    {
      name: 'explicit',
      flag: '--explicit',
      help: "Blur with the PSFs measured from the kernel's pair instead of the model's code",
    },
    IN_PLACE,
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values, args) {
    const photoPath = required(args[0], 'the PHOTO to blur');
    const kernelPath = required(values.kernel, '--kernel KERNEL');
    const outputPath = resultPath(values, photoPath);
    await refuseToReplaceInputs(
      [photoPath, kernelPath, optionalPath(values.checkpoint)],
      [{ flag: '-o', path: outputPath, inPlace: { input: photoPath, given: values['in-place'] } }],
    );
    const spec = {
      kind: 'applyKernel' as const,
      photoPath,
      kernelPath,
      outputPath,
      mode: values.uniform ? ('uniform' as const) : ('spatial' as const),
      using: values.explicit ? ('explicit' as const) : ('encoded' as const),
    };
    await runJob(await createEngine(values), spec, values.quiet);
    console.log(`blurred photo written to ${outputPath}`);
    return 0;
  },
};

const showKernel: Command = {
  name: 'show-kernel',
  summary: "Draw a kernel file's blur trace",
  usage: 'K -o trace.png',
  description: 'Draws the blur of each region of a kernel file as a trace, in one PNG picture.',
  options: [{ name: 'output', flag: '-o, --output PICTURE', help: 'The picture to write (PNG)' }],
  async run(values, args) {
    const kernelPath = required(args[0], 'the KERNEL file');
    const outputPath = required(values.output, '-o PICTURE.png');
    await refuseToReplaceInputs([kernelPath], [{ flag: '-o', path: outputPath }]);
    const kernel = await loadKernelFile(kernelPath);
    await writeTracePng(kernel.psf, outputPath);
    console.log(`blur trace (${kernel.psf.rows}x${kernel.psf.cols} regions) written to ${outputPath}`);
    return 0;
  },
};

const deblur: Command = {
  name: 'deblur',
  summary: "Blind deblurring of a photo (fast, the paper's method on a region, or a network)",
  usage:
    'PHOTO -o OUT [--mode fast|paper|learned] [--roi x,y,w,h] [--iterations N] [--strength S] [--learned] [--guided] ' +
    '[--seed N] [--loss-log FILE] [--trace KERNEL.png] [--in-place]',
  description:
    'Removes the blur of PHOTO without knowing it beforehand. fast (default): the blur is estimated on the ' +
    'most textured part of the photo (or --roi), then removed from the whole photo; --learned then runs ' +
    "the learned restorer. paper: the paper's Algorithm 1 on --roi (up to 1 MP). learned: a deblurring " +
    'network trained on GoPro (MAXIM) on the photo or --roi; minutes per megapixel on a CPU (the time is ' +
    'estimated first). The result never replaces PHOTO unless --in-place says so.',
  options: [
    { name: 'output', flag: '-o, --output OUT', help: 'The deblurred photo; its extension sets the format' },
    IN_PLACE,
    { name: 'mode', flag: '--mode fast|paper|learned', help: 'fast (default), paper or learned' },
    {
      name: 'roi',
      flag: '--roi x,y,w,h',
      help: 'In photo pixels. fast: where to estimate the blur (default the most textured part); paper and learned: the region to restore (paper: required for photos over 1 MP)',
    },
    { name: 'iterations', flag: '--iterations N', help: 'Paper mode: the number of iterations' },
    {
      name: 'strength',
      flag: '--strength S',
      help: '0 keeps the photo, 1 (default) removes the estimated blur fully',
    },
    {
      name: 'learned',
      flag: '--learned',
      help: 'Fast mode: then run the learned restorer (slower; also for blur one kernel cannot describe)',
    },
    { name: 'seed', flag: '--seed N', help: 'Paper mode: the random seed (default 0)' },
    {
      name: 'loss-log',
      flag: '--loss-log FILE',
      help: 'The loss terms of each step as JSON lines (fast: the kernel fit; paper: the optimisation)',
    },
    {
      name: 'guided',
      flag: '--guided',
      help: "Fast mode: measure the blur against the learned network's restoration of the estimation window instead of blindly: for real camera or subject motion (slower)",
    },
    { name: 'trace', flag: '--trace KERNEL.png', help: 'Fast mode: draw the blur kernel it found' },
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values, args) {
    const photoPath = required(args[0], 'the PHOTO to deblur');
    const outputPath = resultPath(values, photoPath);
    const lossLog = optionalPath(values['loss-log']);
    const trace = optionalPath(values.trace);
    await refuseToReplaceInputs(
      [photoPath, optionalPath(values.checkpoint)],
      [
        { flag: '-o', path: outputPath, inPlace: { input: photoPath, given: values['in-place'] } },
        { flag: '--trace', path: trace },
        { flag: '--loss-log', path: lossLog },
      ],
    );
    const mode = z.enum(['fast', 'paper', 'learned']).parse(values.mode ?? 'fast');
    const roi = parseRegion(values.roi);
    const engine = await createEngine(values);
    if (mode === 'learned') {
      const size = roi ?? (await engine.openPhoto(photoPath));
      const estimate = engine.learnedEstimate(size.width, size.height);
      if (!estimate.available) throw new Error(estimate.note);
      console.log(
        `learned mode: ${count(estimate.tiles, 'tile')} of the network, about ` +
          `${Math.max(1, Math.round(estimate.seconds! / 60))} min (${estimate.note})`,
      );
    }
    const spec = {
      kind: 'deblur' as const,
      photoPath,
      outputPath,
      mode,
      roi,
      iterations: values.iterations ? Number(values.iterations) : undefined,
      strength: values.strength ? Number(values.strength) : undefined,
      learned: values.learned,
      guided: values.guided,
      seed: values.seed ? Number(values.seed) : undefined,
    };
    const result = await runJob(engine, spec, values.quiet, lossLog);
    if (result.kind === 'deblur' && result.estimate) {
      const { note, window, extent, traceDataUrl } = result.estimate;
      console.log(
        `${note} (blur about ${extent.width}x${extent.height} px, estimated on ${window.width}x${window.height} ` +
          `at ${window.x},${window.y})`,
      );
      if (trace) {
        await writeFileAtomic(trace, Buffer.from(traceDataUrl.split(',')[1]!, 'base64'));
        console.log(`blur kernel drawn to ${trace}`);
      }
    }
    console.log(`deblurred photo written to ${outputPath}`);
    return 0;
  },
};

const batch: Command = {
  name: 'batch',
  summary: 'Export, blur or deblur many photos and folders into a folder; resumable',
  usage:
    'IN... -o OUTDIR [--recursive] [--preset export|apply-kernel|deblur] [--kernel K] [--uniform] ' +
    '[--strength S] [--learned] [--guided] [--format F] [--quality Q] [--bit-depth 8|16] [--name TEMPLATE] ' +
    '[--strip-metadata] [--on-conflict skip|rename|overwrite] [--jobs N]',
  description:
    'Runs every photo of IN (files and folders) through one preset into OUTDIR, the folder tree mirrored. ' +
    'A result never replaces an input. Run the same command again to resume after a crash or Ctrl-C; a ' +
    'report is written to OUTDIR (deblur: which photos were left unchanged). Exit code 1 when some photos ' +
    'failed.',
  options: [
    { name: 'output', flag: '-o, --output OUTDIR', help: 'The output folder' },
    { name: 'recursive', flag: '-r, --recursive', help: 'Also take the photos in sub-folders' },
    {
      name: 'preset',
      flag: '--preset P',
      help: 'export (default): re-encode; apply-kernel: put the blur of --kernel onto each; deblur: --mode',
    },
    { name: 'kernel', flag: '--kernel K', help: 'apply-kernel: the kernel file' },
    { name: 'uniform', flag: '--uniform', help: "apply-kernel: the kernel's mean blur everywhere" },
    { name: 'strength', flag: '--strength S', help: 'deblur: 0..1, default 1' },
    {
      name: 'mode',
      flag: '--mode fast|learned',
      help: 'deblur: fast (default) or learned (the network: minutes per megapixel)',
    },
    { name: 'learned', flag: '--learned', help: 'deblur, fast mode: then run the learned restorer' },
    {
      name: 'guided',
      flag: '--guided',
      help: "deblur, fast mode: measure the blur against the network's restoration (about a minute more per photo)",
    },
    {
      name: 'format',
      flag: '--format F',
      help: 'jpeg | png | tiff | webp (default: as the photo, PNG for others)',
    },
    { name: 'quality', flag: '--quality Q', help: 'JPEG and WebP quality, 1..100' },
    { name: 'bit-depth', flag: '--bit-depth 8|16', help: 'PNG and TIFF bit depth (default: as the photo)' },
    {
      name: 'strip-metadata',
      flag: '--strip-metadata',
      help: 'Leave out EXIF, XMP, IPTC and the ICC profile',
    },
    {
      name: 'name',
      flag: '--name TEMPLATE',
      help: 'Result names from {name}, {preset}, {date} and {n} (default {name}-{preset})',
    },
    {
      name: 'on-conflict',
      flag: '--on-conflict C',
      help: 'A result name already taken: rename (default: add a number), skip the photo, or overwrite earlier batch results',
    },
    { name: 'jobs', flag: '--jobs N', help: 'Photos processed at the same time (default 1)' },
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values, inputs) {
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
            ? {
                kind: 'deblur',
                mode: values.mode ?? 'fast',
                strength: optionalNumber(values.strength),
                learned: values.learned,
                guided: values.guided,
              }
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
    const engine = await createEngine(values);
    // As deblur --mode learned: refused before any photo is read, rather than every photo failing.
    if (spec.kind === 'batch' && spec.preset.kind === 'deblur' && spec.preset.mode === 'learned') {
      const network = engine.info().learnedNetwork;
      if (!network.available) throw new Error(network.note);
    }
    try {
      const result = await runJob(engine, spec, values.quiet);
      if (result.kind !== 'batch') throw new Error(`unexpected ${result.kind} result`);
      for (const item of result.problems.filter((i) => i.status === 'failed')) {
        console.log(`failed   ${item.input}: ${item.reason ?? ''}`);
      }
      const unchanged = result.deblurred.filter((item) => !item.changed);
      for (const item of unchanged) console.log(`unchanged ${item.name}: ${item.note}`);
      const { counts } = result;
      console.log(
        `${count(counts.total, 'photo')}: ${counts.done} done` +
          (unchanged.length ? ` (${unchanged.length} written unchanged)` : '') +
          `, ${counts.failed} failed, ${counts.skipped} skipped; report in ${result.reportPath}`,
      );
      return counts.failed > 0 ? 1 : 0;
    } catch (error) {
      if (error instanceof JobCancelledError) {
        console.error(
          'blurspace: batch cancelled; finished photos are kept, run the same command to resume.',
        );
        return 130;
      }
      throw error;
    }
  },
};

const train: Command = {
  name: 'train',
  summary: 'Train the kernel networks F and G, or the learned restorer',
  usage: '--config C --out DIR [--resume] [--init-from CHECKPOINT]',
  description:
    'Trains as the config file says (see resources/training/), saving checkpoints into DIR. The first ' +
    'Ctrl-C stops after the current step and saves.',
  options: [
    { name: 'config', flag: '--config FILE', help: 'The training config (JSON)' },
    { name: 'out', flag: '--out DIR', help: 'Where the run is kept (checkpoints, state, log)' },
    { name: 'resume', flag: '--resume', help: 'Go on with the run in DIR' },
    {
      name: 'init-from',
      flag: '--init-from CHECKPOINT',
      help: "Start a new run from another run's weights (e.g. a VAE from the default model)",
    },
    BACKEND,
    QUIET,
  ],
  async run(values) {
    console.error((await initBackend(backendPreference(values))).note);
    return runTrainCommand({
      configPath: required(values.config, '--config FILE'),
      outDir: required(values.out, '--out DIR'),
      resume: values.resume,
      initFrom: values['init-from'],
      quiet: values.quiet,
    });
  },
};

const pairs: Command = {
  name: 'pairs',
  summary: 'Training pairs as a contact sheet or as files, for looking at',
  usage: '--kind gopro|shake|kernel -n N -o sheet.png|DIR [--split train|val] [--size S] [--seed S]',
  description:
    'Makes N training pairs of one kind. With a picture name (sheet.png), a contact sheet; with a folder ' +
    '(no extension), the pairs as DIR/NAME_sharp.png and DIR/NAME_blur.png, as augment --pairs reads them.',
  options: [
    { name: 'kind', flag: '--kind K', help: 'gopro | shake (default) | kernel' },
    { name: 'n', flag: '-n N', help: 'How many pairs (default 8)' },
    { name: 'output', flag: '-o, --output OUT', help: 'A contact sheet (PNG) or a folder' },
    { name: 'split', flag: '--split S', help: 'train (default) | val' },
    { name: 'size', flag: '--size S', help: 'Side of each pair in pixels (default 256)' },
    { name: 'seed', flag: '--seed S', help: 'Random seed (default 1)' },
  ],
  run(values) {
    return runPairsCommand({
      kind: values.kind ?? 'shake',
      count: Number(values.n ?? 8),
      outputPath: required(values.output, '-o SHEET.png'),
      split: values.split ?? 'train',
      size: Number(values.size ?? 256),
      seed: Number(values.seed ?? 1),
    });
  },
};

const generateBlur: Command = {
  name: 'generate-blur',
  summary: "New blurred versions of a photo, blurs sampled from the kernel space's prior",
  usage: 'PHOTO -n N -o DIR [--seed S] [--spatial]',
  description:
    "Writes N blurred versions of PHOTO into DIR, each with a blur sampled from the kernel space's prior " +
    '(the shipped VAE model unless --checkpoint names another VAE), and each with its blur trace.',
  options: [
    { name: 'n', flag: '-n N', help: 'How many blurs (default 8)' },
    { name: 'output', flag: '-o, --output DIR', help: 'The output folder' },
    {
      name: 'seed',
      flag: '--seed S',
      help: 'Random seed (default 1); more blurs never change the first ones',
    },
    { name: 'spatial', flag: '--spatial', help: 'A blur per 128x128 cell instead of one for the photo' },
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values, args) {
    const photoPath = required(args[0], 'the PHOTO to blur');
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
  },
};

const augment: Command = {
  name: 'augment',
  summary: 'Blur transfer: the blurs of sharp/blurry pairs onto other sharp photos, as new pairs',
  usage: '--pairs DIR --targets DIR -o DIR [-n K] [--seed S] [--uniform]',
  description:
    'Reads the blur of each sharp/blurry pair in --pairs and puts it onto the sharp photos in --targets ' +
    '(K blurs each), written as new pairs with a manifest (augment.json). Pairs are NAME_sharp.EXT + ' +
    'NAME_blur.EXT, or sharp/NAME.EXT + blur/NAME.EXT.',
  options: [
    { name: 'pairs', flag: '--pairs DIR', help: 'The sharp/blurry pairs' },
    { name: 'targets', flag: '--targets DIR', help: 'The sharp photos to blur' },
    { name: 'output', flag: '-o, --output DIR', help: 'The output folder (not an input folder)' },
    { name: 'n', flag: '-n K', help: 'Blurs per target photo (default 1)' },
    { name: 'seed', flag: '--seed S', help: 'Random seed (default 1)' },
    { name: 'uniform', flag: '--uniform', help: "Each pair's mean blur everywhere" },
    BACKEND,
    CHECKPOINT,
    QUIET,
  ],
  async run(values) {
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
  },
};

/** In the order `blurspace --help` lists them. */
export const COMMANDS: Command[] = [
  info,
  extractKernel,
  applyKernel,
  showKernel,
  deblur,
  batch,
  train,
  pairs,
  generateBlur,
  augment,
];
