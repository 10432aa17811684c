// `npm run bench:engine`: speed, memory and blur-reconstruction quality of the engine's F and G on the
// active backend, printed as a table. Uses the default checkpoint (or --checkpoint PATH). Large-photo runs
// go through the real jobs, each in its own process so its peak memory is its own.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { JobSpec, type JobSpecInput } from '../common/api';
import { Engine } from '../engine/engine';
import { applyCodes, extractCodes } from '../engine/kernels/operations';
import type { JobContext } from '../engine/core/progress';
import { makePair, type PairKind } from '../engine/training';
import type { FloatImage } from '../engine/core/tiling';
import { DEFAULT_CHECKPOINT, SHARED_DATA_DIR } from '../host/paths';
import { printTable, psnr } from './report';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    pairs: { type: 'string', default: '8' },
    sizes: { type: 'string', default: '24,100' },
    // Child mode: run one job and print {seconds, peakGb}.
    job: { type: 'string' },
    dir: { type: 'string' },
  },
});

const checkpointPath = values.checkpoint ? path.resolve(values.checkpoint) : DEFAULT_CHECKPOINT;
const engine = await Engine.create({
  backend: values.backend as 'auto',
  checkpointPath,
  defaultCheckpointPath: checkpointPath,
});
const ctx: JobContext = { signal: new AbortController().signal, progress: () => undefined };
const seconds = (start: number): number => (performance.now() - start) / 1000;
const peakGb = (): number => process.resourceUsage().maxRSS / 1024 / 1024;

async function runJob(spec: JobSpecInput): Promise<void> {
  await engine.runJob(JobSpec.parse(spec), ctx.signal, () => undefined);
}

if (values.job) {
  const dir = values.dir!;
  const start = performance.now();
  if (values.job === 'extract') {
    await runJob({
      kind: 'extractKernel',
      sharpPath: path.join(dir, 'sharp.jpg'),
      blurryPath: path.join(dir, 'blurry.jpg'),
      outputPath: path.join(dir, 'k.blurkernel'),
    });
  } else {
    await runJob({
      kind: 'applyKernel',
      photoPath: path.join(dir, 'sharp.jpg'),
      kernelPath: path.join(dir, 'k.blurkernel'),
      outputPath: path.join(dir, 'out.jpg'),
    });
  }
  console.log(JSON.stringify({ seconds: seconds(start), peakGb: peakGb() }));
  process.exit(0);
}

const { model, description } = await engine.loadModel();
const info = engine.info();
console.log(`backend: ${info.backend} on ${info.device}`);
console.log(`checkpoint: ${description}\n`);
const rows: string[][] = [];
const sample = path.join(SHARED_DATA_DIR, 'photos-small', 'astronaut.png');

async function photoOfSize(width: number, height: number, blur = 0): Promise<FloatImage> {
  const resized = sharp(sample).resize(width, height, { fit: 'cover' });
  const { data, info: size } = await (blur ? resized.blur(blur) : resized)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: size.width,
    height: size.height,
    channels: 3,
    data: Float32Array.from(data, (v) => v / 255),
  };
}

// Network speed per megapixel on a 2 MP photo (1920x1080, padded to 1920x1152).
{
  const x = await photoOfSize(1920, 1080);
  const y = await photoOfSize(1920, 1080, 3);
  const megapixels = (1920 * 1080) / 1e6;
  let start = performance.now();
  const grid = await extractCodes(model, x, y, ctx);
  rows.push(['G (extract) per MP', `${(seconds(start) / megapixels).toFixed(2)} s`]);
  start = performance.now();
  await applyCodes(model, x, grid, ctx);
  rows.push(['F (apply) per MP', `${(seconds(start) / megapixels).toFixed(2)} s`]);
}

// Whole jobs on large photos (JPEG files in, JPEG out), each in a fresh process.
const self = fileURLToPath(import.meta.url);
for (const megapixels of values.sizes.split(',').map(Number).filter(Boolean)) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-bench-'));
  try {
    const width = Math.round(Math.sqrt(megapixels * 1e6 * 1.5));
    const height = Math.round(width / 1.5);
    const big = sharp(sample, { limitInputPixels: false }).resize(width, height, { fit: 'cover' });
    await big.clone().jpeg({ quality: 92 }).toFile(path.join(dir, 'sharp.jpg'));
    await big.clone().blur(4).jpeg({ quality: 92 }).toFile(path.join(dir, 'blurry.jpg'));
    for (const job of ['extract', 'apply']) {
      const args = [
        self,
        '--job',
        job,
        '--dir',
        dir,
        '--checkpoint',
        checkpointPath,
        '--backend',
        values.backend,
      ];
      const result = JSON.parse(
        execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').at(-1)!,
      );
      const label = job === 'extract' ? 'extract-kernel' : 'apply-kernel';
      rows.push([
        `${megapixels} MP ${label} (${width}x${height}, whole job)`,
        `${result.seconds.toFixed(1)} s, peak RSS ${result.peakGb.toFixed(2)} GB`,
      ]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Blur reconstruction PSNR(F(x, G(x, y)), y) on validation pairs, through the tiled full-image path.
const count = Number(values.pairs);
for (const kind of ['gopro', 'shake', 'kernel'] as PairKind[]) {
  let reconstruction = 0;
  let identity = 0;
  for (let index = 0; index < count; index++) {
    const pair = await makePair(kind, {
      seed: 99,
      index,
      size: 512,
      split: 'val',
      dataRoot: SHARED_DATA_DIR,
    });
    const x: FloatImage = { width: 512, height: 512, channels: 3, data: pair.sharp };
    const y: FloatImage = { width: 512, height: 512, channels: 3, data: pair.blurry };
    const reconstructed = await applyCodes(model, x, await extractCodes(model, x, y, ctx), ctx);
    reconstruction += psnr(reconstructed.data, y.data);
    identity += psnr(x.data, y.data);
  }
  rows.push([
    `PSNR(F(x,G(x,y)), y), ${kind}, ${count} val pairs 512px`,
    `${(reconstruction / count).toFixed(2)} dB (x vs y: ${(identity / count).toFixed(2)} dB)`,
  ]);
}
printTable(['measure', 'value'], rows);
