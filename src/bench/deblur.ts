// `npm run bench:deblur`: restoration quality and speed on the validation split — blurry input, fast mode
// (blind kernel estimation, then deconvolution), fast mode with the learned restorer, paper mode on 256x256
// crops, and a non-blind deconvolution with the true kernel as a reference — plus a contact sheet of
// ../shared/data/real-blurry.
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
import { FAST_DEFAULTS, fastDeblur, type Reliability } from '../engine/deblur/fast-mode';
import { paperDeblur, paperSchedule, PAPER_DEFAULTS } from '../engine/deblur/paper-mode';
import { readPhoto } from '../engine/image';
import type { JobContext } from '../engine/core/progress';
import type { Psf } from '../engine/kernels/psf';
import { loadModel, loadRestorer } from '../engine/model/model-store';
import {
  kernelCentre,
  loadKernels,
  makePair,
  transformKernel,
  writeContactSheet,
  type PairKind,
} from '../engine/training';
import { bestShift } from '../engine/deblur/image-ops';
import { crop, type FloatImage } from '../engine/core/tiling';
import { DEFAULT_CHECKPOINT, DEFAULT_RESTORER, SHARED_DATA_DIR } from '../host/paths';
import { printTable, psnr, ssim } from './report';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    pairs: { type: 'string', default: '6' },
    size: { type: 'string', default: '512' },
    'paper-pairs': { type: 'string', default: '1' },
    'paper-iterations': { type: 'string', default: '200' },
    kinds: { type: 'string', default: 'kernel,shake,gopro' },
    /** FFT side of the deconvolution tiles (Settings' tile size); the engine's default when absent. */
    'tile-size': { type: 'string' },
    /** Fast mode's longest blur, in pixels (its default when absent). */
    'max-blur': { type: 'string' },
    /** Side lengths of the full-size timing photo; 0 skips it. */
    'full-size': { type: 'string', default: '6000x4000' },
    sheet: { type: 'string', default: 'test-results/bench-deblur-real.png' },
    /** The learned restorer's checkpoint (`train` with task "restorer"); '' leaves fast + learned out. */
    restorer: { type: 'string', default: DEFAULT_RESTORER },
  },
});

const ctx: JobContext = {
  signal: new AbortController().signal,
  progress: () => undefined,
  ...(values['tile-size'] && { tileSize: Number(values['tile-size']) }),
};
const fastOptions = {
  ...FAST_DEFAULTS,
  ...(values['max-blur'] && { maxBlurPx: Number(values['max-blur']) }),
};
await initBackend('auto');
const loaded = await loadModel(values.checkpoint ? path.resolve(values.checkpoint) : DEFAULT_CHECKPOINT);
console.log(`checkpoint: ${loaded.description}\n`);
const restorerPath = values.restorer ? path.resolve(values.restorer) : null;
const restorer = restorerPath ? await loadRestorer(restorerPath) : null;
const learnedOptions = restorer && { ...fastOptions, restorer };
const kernels = await loadKernels(SHARED_DATA_DIR);
const size = Number(values.size);

function truePsf(id: string, symmetry: number): Psf {
  const k = transformKernel(
    kernels.find((kernel) => kernel.id === id)!,
    symmetry,
  );
  const side = Math.max(k.width, k.height) | 1;
  const centre = kernelCentre(k);
  const weights = new Array<number>(side * side).fill(0);
  const c = side >> 1;
  for (let y = 0; y < k.height; y++) {
    for (let x = 0; x < k.width; x++)
      weights[(y - centre.y + c) * side + (x - centre.x + c)] = k.data[y * k.width + x]!;
  }
  return { size: side, weights };
}

interface Score {
  psnr: number;
  aligned: number;
  ssim: number;
  seconds: number;
  count: number;
}
const scores = new Map<string, Score>();
function record(method: string, kind: string, result: FloatImage, sharp: FloatImage, seconds: number): void {
  const key = `${kind}\t${method}`;
  const score = scores.get(key) ?? { psnr: 0, aligned: 0, ssim: 0, seconds: 0, count: 0 };
  score.psnr += psnr(result.data, sharp.data);
  score.aligned += alignedPsnr(result, sharp);
  score.ssim += ssim(result, sharp);
  score.seconds += seconds / ((result.width * result.height) / 1e6);
  score.count++;
  scores.set(key, score);
}
/**
 * PSNR after the best whole-pixel shift of up to 4 pixels, on the interior: a blind estimate cannot know where
 * the sharp frame sat within the exposure, and centres its kernel on its centroid (as is usual when
 * benchmarking blind deblurring, e.g. Köhler et al. 2012).
 */
function alignedPsnr(result: FloatImage, sharp: FloatImage): number {
  return 10 * Math.log10(1 / Math.max(bestShift(result, sharp).meanSquaredError, 1e-12));
}
/**
 * Mean time of a 1024x1024 forward FFT, the deconvolution's main cost: machines of the same kind here have
 * differed by 2.5x (6.6 vs 16.5 ms), which moves every time in this report by about as much.
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

// How often the fast mode trusted its kernel, restored at half strength, or left the photo as it was.
const trust: Record<Reliability, number> = { reliable: 0, uncertain: 0, failed: 0 };
// Fast mode's change over the blurry input, pair by pair (aligned PSNR): the mean hides losses.
const gains: { pair: string; gain: number; reliability: Reliability }[] = [];
const restorerGains: { pair: string; gain: number }[] = [];
for (const kind of values.kinds.split(',') as PairKind[]) {
  for (let index = 0; index < Number(values.pairs); index++) {
    const pair = await makePair(kind, { seed: 2021, index, size, split: 'val', dataRoot: SHARED_DATA_DIR });
    const sharp: FloatImage = { width: size, height: size, channels: 3, data: pair.sharp };
    const blurry: FloatImage = { width: size, height: size, channels: 3, data: pair.blurry };
    record('blurry input', kind, blurry, sharp, 0);
    const [fast, seconds] = await timed(() => fastDeblur(blurry, fastOptions, ctx));
    record('fast (blind kernel)', kind, fast.image, sharp, seconds);
    trust[fast.reliability]++;
    gains.push({
      pair: `${kind} ${index}`,
      gain: alignedPsnr(fast.image, sharp) - alignedPsnr(blurry, sharp),
      reliability: fast.reliability,
    });
    if (learnedOptions) {
      const [learned, seconds] = await timed(() => fastDeblur(blurry, learnedOptions, ctx));
      record('fast + learned restorer', kind, learned.image, sharp, seconds);
      restorerGains.push({
        pair: `${kind} ${index}`,
        gain: alignedPsnr(learned.image, sharp) - alignedPsnr(blurry, sharp),
      });
    }
    if (pair.info.kernel) {
      const psf = truePsf(pair.info.kernel.id, pair.info.kernel.symmetry);
      const [restored, seconds] = await timed(() => deconvolve(blurry, psf));
      record('non-blind, true kernel', kind, restored, sharp, seconds);
    }
    if (index < Number(values['paper-pairs'])) {
      // Paper mode on the central 256x256 crop; fast mode on the same crop for a like-for-like ratio.
      const offset = (size - 256) / 2;
      const cropSharp = crop(sharp, offset, offset, 256, 256);
      const cropBlurry = crop(blurry, offset, offset, 256, 256);
      const options = {
        ...PAPER_DEFAULTS,
        ...paperSchedule(Number(values['paper-iterations'])),
        seed: index,
      };
      const [paper, paperSeconds] = await timed(() => paperDeblur(loaded.model, cropBlurry, options, ctx));
      record('paper (256 crop)', kind, paper, cropSharp, paperSeconds);
      record('blurry input (256 crop)', kind, cropBlurry, cropSharp, 0);
      const [fast, fastSeconds] = await timed(() => fastDeblur(cropBlurry, fastOptions, ctx));
      record('fast (256 crop)', kind, fast.image, cropSharp, fastSeconds);
    }
  }
}

const rows = [...scores].map(([key, s]) => {
  const [kind, method] = key.split('\t') as [string, string];
  return [
    kind,
    method,
    String(s.count),
    (s.psnr / s.count).toFixed(2),
    (s.aligned / s.count).toFixed(2),
    (s.ssim / s.count).toFixed(4),
    s.seconds ? (s.seconds / s.count).toFixed(1) : '-',
  ];
});
printTable(['pairs', 'method', 'n', 'PSNR dB', 'aligned ±4 px', 'SSIM', 's / MP'], rows);
console.log(
  `\nfast-mode kernel estimates: ${trust.reliable} reliable, ${trust.uncertain} uncertain (half strength), ` +
    `${trust.failed} failed (photo left unchanged)`,
);
/** One method's change over the blurry input, pair by pair: the mean hides losses. */
function printGains(method: string, list: { pair: string; gain: number }[]): void {
  if (!list.length) return;
  const sorted = list.map((g) => g.gain).sort((a, b) => a - b);
  console.log(
    `${method} vs blurry input, aligned PSNR per pair: median ${sorted[sorted.length >> 1]!.toFixed(2)} dB, ` +
      `mean ${(sorted.reduce((a, b) => a + b, 0) / sorted.length).toFixed(2)} dB, ` +
      `worst ${sorted[0]!.toFixed(2)}, best ${sorted.at(-1)!.toFixed(2)}; ` +
      list.map((g) => `${g.pair} ${g.gain >= 0 ? '+' : ''}${g.gain.toFixed(2)}`).join(', '),
  );
}
printGains('fast mode', gains);
printGains('fast + learned restorer', restorerGains);

// Paper mode against fast mode on the same 256x256 crops: time ratio and PSNR.
const paperScore = [...scores].filter(([key]) => key.endsWith('\tpaper (256 crop)')).map(([, s]) => s);
const fastCropScore = [...scores].filter(([key]) => key.endsWith('\tfast (256 crop)')).map(([, s]) => s);
if (paperScore.length) {
  const total = (list: Score[], field: 'aligned' | 'seconds') =>
    list.reduce((sum, s) => sum + s[field], 0) / list.reduce((sum, s) => sum + s.count, 0);
  console.log(
    `paper vs fast on 256x256 crops: paper ${total(paperScore, 'aligned').toFixed(2)} dB in ` +
      `${total(paperScore, 'seconds').toFixed(0)} s/MP, fast ${total(fastCropScore, 'aligned').toFixed(2)} dB in ` +
      `${total(fastCropScore, 'seconds').toFixed(1)} s/MP: fast is ` +
      `${(total(paperScore, 'seconds') / total(fastCropScore, 'seconds')).toFixed(0)}x faster`,
  );
}

// A full-size photo (a val photo resized to e.g. 6000x4000, 24 MP, saved as a JPEG): the whole deblur job as
// a user runs it (read, estimate, preview, restore on all cores, write), timed here.
if (values['full-size'] !== '0') {
  const [width, height] = values['full-size'].split('x').map(Number) as [number, number];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-bench-'));
  try {
    const photoPath = path.join(dir, 'full.jpg');
    await sharp(path.join(SHARED_DATA_DIR, 'photos', 'enlightenment-data', 'Bamboo.jpg'))
      .resize(width, height, { fit: 'fill' })
      .jpeg({ quality: 92 })
      .toFile(photoPath);
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
    for (const learned of restorerPath ? [false, true] : [false]) {
      const outputPath = path.join(dir, 'out.jpg');
      const spec = JobSpec.parse({ kind: 'deblur', photoPath, outputPath, learned });
      const [result, seconds] = await timed(() => engine.runJob(spec, ctx.signal, () => undefined));
      const estimate = result.kind === 'deblur' ? result.estimate?.reliability : undefined;
      console.log(
        `full size: the fast deblur job${learned ? ' with the learned restorer' : ''} on a ${width}x${height} ` +
          `JPEG (${((width * height) / 1e6).toFixed(1)} MP) took ${seconds.toFixed(1)} s (read to written file, ` +
          `${tileThreads()} threads, estimate ${estimate}); peak RSS of this process so far ` +
          `${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --sheet '' skips the real-blurry contact sheet.
if (values.sheet) {
  // Real blurry photos (no ground truth): input | fast mode (| fast + learned restorer), for looking at.
  const sheet = [];
  for (const name of ['blur1.png', 'blur2.png', 'face01.png']) {
    const photo = await readPhoto(path.join(SHARED_DATA_DIR, 'real-blurry', name));
    const { image } = await fastDeblur(photo, fastOptions, ctx);
    sheet.push({ sharp: photo.data, blurry: image.data, width: photo.width, height: photo.height });
    if (learnedOptions) {
      const learned = await fastDeblur(photo, learnedOptions, ctx);
      sheet.push({ sharp: photo.data, blurry: learned.image.data, width: photo.width, height: photo.height });
    }
  }
  await writeContactSheet(sheet, values.sheet, { labels: false, columns: learnedOptions ? 2 : 3 });
  const layout = learnedOptions
    ? 'a row a photo: input | fast mode, input | fast + learned restorer'
    : 'input | fast mode';
  console.log(`\nreal-blurry contact sheet (${layout}): ${values.sheet}`);
}
