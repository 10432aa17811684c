// `npm run bench:model`: how well the checkpoint models blur, on the validation split only.
// - blur reconstruction PSNR(F(x, G(x, y)), y) per kind of pair (the paper's Table 3 measure);
// - a neutral code: G(x, x) should give F(x, G(x, x)) ≈ x;
// - interpolation: F(x, (1 - t) k1 + t k2) between a light and a strong blur should blur in between;
// - kernel transfer: the code of one pair applied to another scene blurred with the same kernel, against
//   the explicit PSFs measured from that pair (deblur/pair-kernel.ts) convolved in linear light; and the
//   same on real GoPro frame averages, from the left half of a crop to its right half;
// - cross-kind (Table 3): with --gopro-only and --shake-only checkpoints (trained on one kind each), each on
//   both kinds.
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../engine/core/backend';
import { loadModel } from '../engine/model/model-store';
import type { Reliability } from '../common/api';
import type { FloatImage } from '../engine/core/tiling';
import { estimatePairPsfs } from '../engine/deblur/pair-kernel';
import { blurWithPsfs } from '../engine/deblur/psf-blur';
import { makePair, type PairKind } from '../engine/training';
import { kernelToPsf, loadKernels, transformKernel } from '../engine/training/kernels';
import { DEFAULT_CHECKPOINT, SHARED_DATA_DIR } from '../host/paths';
import { bestToneCurve, printTable, psnr } from './report';

const { values } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    pairs: { type: 'string', default: '16' },
    'gopro-only': { type: 'string' },
    'shake-only': { type: 'string' },
  },
});
await initBackend('auto');
const { model, description } = await loadModel(
  values.checkpoint ? path.resolve(values.checkpoint) : DEFAULT_CHECKPOINT,
);
console.log(`checkpoint: ${description}\n`);
const count = Number(values.pairs);
const SIZE = 256;
const image = (data: Float32Array): tf.Tensor4D => tf.tensor4d(data, [1, SIZE, SIZE, 3]);
const run = (f: () => tf.Tensor): Float32Array => {
  const t = tf.tidy(f);
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
};
/** Mean absolute horizontal+vertical gradient: falls as blur grows. */
function sharpness(data: Float32Array): number {
  let sum = 0;
  for (let y = 0; y + 1 < SIZE; y++) {
    for (let x = 0; x + 1 < SIZE; x++) {
      const i = (y * SIZE + x) * 3;
      sum += Math.abs(data[i + 3]! - data[i]!) + Math.abs(data[i + SIZE * 3]! - data[i]!);
    }
  }
  return sum / (SIZE * SIZE);
}

/**
 * Mean PSNR(F(x, G(x, y)), y) of a model over the val pairs of one kind, of x against y, and of x through
 * the best tone curve for each pair (a model of the tone alone, no blur).
 */
async function reconstruction(of: typeof model, kind: PairKind): Promise<[number, number, number]> {
  let sum = 0;
  let identity = 0;
  let tone = 0;
  for (let index = 0; index < count; index++) {
    const pair = await makePair(kind, {
      seed: 7,
      index,
      size: SIZE,
      split: 'val',
      dataRoot: SHARED_DATA_DIR,
    });
    const y = run(() =>
      of.adaptiveBlur(image(pair.sharp), of.extractKernel(image(pair.sharp), image(pair.blurry))),
    );
    sum += psnr(y, pair.blurry);
    identity += psnr(pair.sharp, pair.blurry);
    tone += psnr(bestToneCurve(pair.sharp, pair.blurry), pair.blurry);
  }
  return [sum / count, identity / count, tone / count];
}

const rows: string[][] = [];
for (const kind of ['gopro', 'shake', 'kernel'] as PairKind[]) {
  const [psnrOf, identity, tone] = await reconstruction(model, kind);
  rows.push([
    `PSNR(F(x, G(x, y)), y), ${kind}`,
    `${psnrOf.toFixed(2)} dB`,
    `x vs y ${identity.toFixed(2)} dB, x through the best tone curve ${tone.toFixed(2)} dB`,
  ]);
}

// Neutral code and interpolation, on shake pairs: light (12 px) and strong (48 px) blur of the same x.
let neutral = 0;
const curve = [0, 0.25, 0.5, 0.75, 1].map(() => 0);
let light = 0;
let unblurred = 0;
let strong = 0;
// Does F respond to what the code says? Outputs for the light and the strong code should differ as much
// as the two blurry photos do.
let codeResponse = 0;
let blurryDistance = 0;
for (let index = 0; index < count; index++) {
  const options = { seed: 11, index, size: SIZE, split: 'val' as const, dataRoot: SHARED_DATA_DIR };
  const a = await makePair('shake', { ...options, maxBlurPx: 12 });
  const b = await makePair('shake', { ...options, maxBlurPx: 48 });
  neutral += psnr(
    run(() => model.adaptiveBlur(image(a.sharp), model.extractKernel(image(a.sharp), image(a.sharp)))),
    a.sharp,
  );
  light += sharpness(a.blurry);
  unblurred += sharpness(a.sharp);
  strong += sharpness(b.blurry);
  blurryDistance += psnr(a.blurry, b.blurry);
  const [lightCode, strongCode] = [a.blurry, b.blurry].map((blurry) =>
    run(() => model.adaptiveBlur(image(a.sharp), model.extractKernel(image(a.sharp), image(blurry)))),
  );
  codeResponse += psnr(lightCode!, strongCode!);
  [0, 0.25, 0.5, 0.75, 1].forEach((t, i) => {
    curve[i]! += sharpness(
      run(() => {
        const x = image(a.sharp);
        const k1 = model.extractKernel(x, image(a.blurry));
        const k2 = model.extractKernel(x, image(b.blurry));
        return model.adaptiveBlur(x, tf.add(tf.mul(k1, 1 - t), tf.mul(k2, t)) as tf.Tensor4D);
      }),
    );
  });
}
rows.push([
  'PSNR(F(x, G(x, x)), x): neutral code',
  `${(neutral / count).toFixed(2)} dB`,
  'high = no blur added',
]);
rows.push([
  'sharpness along k1 -> k2 (t = 0, .25, .5, .75, 1)',
  curve.map((v) => (v / count).toFixed(4)).join(' '),
  `targets: light ${(light / count).toFixed(4)}, strong ${(strong / count).toFixed(4)} (x ${(unblurred / count).toFixed(4)})`,
]);
rows.push([
  'PSNR(F(x, k_light), F(x, k_strong)): response to the code',
  `${(codeResponse / count).toFixed(2)} dB`,
  `target: PSNR(y_light, y_strong) ${(blurryDistance / count).toFixed(2)} dB`,
]);

// Kernel transfer (what "extract kernel" then "apply kernel" does): pairs a and b share one shared kernel
// and capture on two scenes; F(x_b, G(x_a, y_a)) should be as close to y_b as F(x_b, G(x_b, y_b)) is. The
// explicit transfer blurs x_b with the PSFs measured from (x_a, y_a), beside the PSFs measured from b itself
// and the true kernel.
const rgb = (data: Float32Array, width = SIZE, height = SIZE): FloatImage => ({
  width,
  height,
  channels: 3,
  data,
});
/** Verdicts of the PSFs measured from the pairs `a` (and the GoPro left halves), by reliability. */
const verdicts: Record<Reliability, number> = { reliable: 0, uncertain: 0, failed: 0 };
const explicitTransfer = async (from: [FloatImage, FloatImage], to: FloatImage, tally = true) => {
  const measured = await estimatePairPsfs(...from);
  if (tally) verdicts[measured.reliability] += 1;
  return (await blurWithPsfs(to, measured)).data;
};
const sharedKernels = await loadKernels(SHARED_DATA_DIR);
const transfer = { encoded: 0, encodedOwn: 0, explicit: 0, explicitOwn: 0, truth: 0, identity: 0 };
for (let index = 0; index < count; index++) {
  const options = { seed: 13, index, size: SIZE, split: 'val' as const, dataRoot: SHARED_DATA_DIR };
  const a = await makePair('kernel', options);
  const b = await makePair('kernel', { ...options, sceneIndex: index + count });
  const xb = (): tf.Tensor4D => image(b.sharp);
  transfer.encoded += psnr(
    run(() => model.adaptiveBlur(xb(), model.extractKernel(image(a.sharp), image(a.blurry)))),
    b.blurry,
  );
  transfer.encodedOwn += psnr(
    run(() => model.adaptiveBlur(xb(), model.extractKernel(xb(), image(b.blurry)))),
    b.blurry,
  );
  transfer.explicit += psnr(await explicitTransfer([rgb(a.sharp), rgb(a.blurry)], rgb(b.sharp)), b.blurry);
  transfer.explicitOwn += psnr(
    await explicitTransfer([rgb(b.sharp), rgb(b.blurry)], rgb(b.sharp), false),
    b.blurry,
  );
  const shared = sharedKernels.find((k) => k.id === a.info.kernel!.id)!;
  const truth = kernelToPsf(transformKernel(shared, a.info.kernel!.symmetry));
  transfer.truth += psnr(
    (await blurWithPsfs(rgb(b.sharp), { rows: 1, cols: 1, cells: [truth] })).data,
    b.blurry,
  );
  transfer.identity += psnr(b.sharp, b.blurry);
}
const mean = (sum: number) => `${(sum / count).toFixed(2)} dB`;
rows.push(
  [
    'PSNR(F(x_b, G(x_a, y_a)), y_b): encoded transfer',
    mean(transfer.encoded),
    `own code ${mean(transfer.encodedOwn)}, x_b vs y_b (unblurred) ${mean(transfer.identity)}`,
  ],
  [
    'PSNR(x_b * PSF(x_a, y_a), y_b): explicit-PSF transfer',
    mean(transfer.explicit),
    `own PSFs ${mean(transfer.explicitOwn)}, true kernel ${mean(transfer.truth)}`,
  ],
);

// The same on real blur: GoPro frame averages, a 512-pixel crop whose left half gives the blur and whose
// right half receives it (the camera's motion is shared; moving subjects are not).
const HALF = 256;
const halves = (data: Float32Array): [Float32Array, Float32Array] => {
  const [left, right] = [new Float32Array(HALF * 2 * HALF * 3), new Float32Array(HALF * 2 * HALF * 3)];
  for (let y = 0; y < 2 * HALF; y++) {
    left.set(data.subarray(y * 2 * HALF * 3, (y * 2 + 1) * HALF * 3), y * HALF * 3);
    right.set(data.subarray((y * 2 + 1) * HALF * 3, (y + 1) * 2 * HALF * 3), y * HALF * 3);
  }
  return [left, right];
};
const half = (data: Float32Array): tf.Tensor4D => tf.tensor4d(data, [1, 2 * HALF, HALF, 3]);
const real = { encoded: 0, explicit: 0, identity: 0 };
for (let index = 0; index < count; index++) {
  const pair = await makePair('gopro', {
    seed: 17,
    index,
    size: 2 * HALF,
    split: 'val',
    dataRoot: SHARED_DATA_DIR,
  });
  const [[xa, xb], [ya, yb]] = [halves(pair.sharp), halves(pair.blurry)];
  real.encoded += psnr(
    run(() => model.adaptiveBlur(half(xb), model.extractKernel(half(xa), half(ya)))),
    yb,
  );
  real.explicit += psnr(
    await explicitTransfer([rgb(xa, HALF, 2 * HALF), rgb(ya, HALF, 2 * HALF)], rgb(xb, HALF, 2 * HALF)),
    yb,
  );
  real.identity += psnr(xb, yb);
}
rows.push(
  ['GoPro, left half to right: encoded transfer', mean(real.encoded), ''],
  [
    'GoPro, left half to right: explicit-PSF transfer',
    mean(real.explicit),
    `x_b vs y_b (unblurred) ${mean(real.identity)}`,
  ],
);
printTable(['measure', 'value', 'reference'], rows);
console.log(
  `\nverdicts of the measured PSFs (kernel pairs a, GoPro left halves): ${Object.entries(verdicts)
    .map(([verdict, n]) => `${n} ${verdict}`)
    .join(', ')}`,
);

const singleKind = (['gopro', 'shake'] as const).filter((kind) => values[`${kind}-only`]);
if (singleKind.length) {
  const cross: string[][] = [];
  for (const trainedOn of singleKind) {
    const loaded = await loadModel(path.resolve(values[`${trainedOn}-only`]!));
    const [gopro] = await reconstruction(loaded.model, 'gopro');
    const [shake] = await reconstruction(loaded.model, 'shake');
    cross.push([
      `${trainedOn} only: ${values[`${trainedOn}-only`]}`,
      `${gopro.toFixed(2)} dB`,
      `${shake.toFixed(2)} dB`,
    ]);
  }
  console.log('\ncross-kind: PSNR(F(x, G(x, y)), y) of models trained on one kind of pair');
  printTable(['trained on', 'tested on gopro', 'tested on shake'], cross);
}
