// `npm run bench:engine`: speed, memory and blur-reconstruction quality of the engine's F and G on the
// active backend, printed as a table. Uses the default checkpoint (or --checkpoint PATH).
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { initBackend } from '../engine/backend';
import { readPhoto } from '../engine/image';
import { applyCodes, extractCodes, gridFor, resampleCodes } from '../engine/kernels/operations';
import type { JobContext } from '../engine/jobs/progress';
import { loadModel } from '../engine/model-store';
import { makePair, type PairKind } from '../engine/training';
import type { FloatImage } from '../engine/tiling';
import { DEFAULT_CHECKPOINT, SHARED_DATA_DIR } from '../main/paths';
import { printTable, psnr } from './report';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    pairs: { type: 'string', default: '8' },
    'skip-24mp': { type: 'boolean', default: false },
  },
});

const ctx: JobContext = { signal: new AbortController().signal, progress: () => undefined };

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

async function photoOfSize(file: string, width: number, height: number, blur = 0): Promise<FloatImage> {
  const resized = sharp(file).resize(width, height, { fit: 'cover' });
  return readPhoto(await (blur ? resized.blur(blur) : resized).png().toBuffer());
}

const status = await initBackend(values.backend as 'auto');
const checkpointPath = values.checkpoint ? path.resolve(values.checkpoint) : DEFAULT_CHECKPOINT;
const loaded = await loadModel(checkpointPath);
const { model } = loaded;
console.log(`backend: ${status.backend} on ${status.device}`);
console.log(`checkpoint: ${loaded.description}\n`);

const rows: string[][] = [];
const sample = path.join(SHARED_DATA_DIR, 'photos-small', 'astronaut.png');

// Speed per megapixel on a 2 MP photo (1920x1080: padded to 1920x1152).
{
  const sharpPhoto = await photoOfSize(sample, 1920, 1080);
  const blurryPhoto = await photoOfSize(sample, 1920, 1080, 3);
  const megapixels = (1920 * 1080) / 1e6;
  let start = performance.now();
  const grid = await extractCodes(model, sharpPhoto, blurryPhoto, ctx);
  rows.push(['G (extract) per MP', `${(seconds(start) / megapixels).toFixed(2)} s`]);
  start = performance.now();
  await applyCodes(model, sharpPhoto, grid, ctx);
  rows.push(['F (apply) per MP', `${(seconds(start) / megapixels).toFixed(2)} s`]);
}

// A 24 MP photo: extraction from a pair, then transfer onto the same size.
if (!values['skip-24mp']) {
  const big = await photoOfSize(sample, 6000, 4000);
  const bigBlurry = await photoOfSize(sample, 6000, 4000, 4);
  {
    const start = performance.now();
    const grid = await extractCodes(model, big, bigBlurry, ctx);
    const extractSeconds = seconds(start);
    const middle = performance.now();
    const { rows: r, cols: c } = gridFor(big);
    await applyCodes(model, big, resampleCodes(grid, r, c, 'spatial'), ctx);
    rows.push(['24 MP extraction (G, tiled)', `${extractSeconds.toFixed(1)} s`]);
    rows.push(['24 MP transfer (F, tiled)', `${seconds(middle).toFixed(1)} s`]);
  }
}
rows.push(['peak memory (RSS)', `${(process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2)} GB`]);

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
