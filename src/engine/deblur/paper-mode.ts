// The paper's blind deblurring (Tran et al. 2021, Algorithm 1): F is frozen; the sharp image x = Gx(zx)
// and the kernel code k = Gk(zk) are two deep-image-prior networks with fixed random inputs, each with its
// own Adam optimizer, stepped together from one gradient evaluation per iteration, on
// rho(y, F(x, k)) + lambda ||k|| + gamma * hyper-Laplacian(x).
//
// The paper's data term mixes a VGG perceptual loss with SSIM; VGG weights cannot be had offline, so the
// perceptual part is replaced by a Charbonnier loss (the one F and G were trained with), keeping (1 - SSIM).
import * as tf from '@tensorflow/tfjs';
import { charbonnier, hyperLaplacian, ssim } from '../model/losses';
import type { KernelWizard } from '../model/kernel-wizard';
import { conv2d, leakyRelu, seededNormal } from '../model/layers';
import { checkpoint, type JobContext } from '../core/progress';
import { Adam } from '../core/adam';
import { crop, GRID_CELL, roundUpToGrid, type FloatImage } from '../core/tiling';

export interface PaperModeOptions {
  /** Main iterations after the warm-up (the paper: 5000). */
  iterations: number;
  warmupIterations: number;
  learningRate: number;
  seed: number;
  /** Called every few seconds with the current estimate, for live previews. */
  onPreview?(x: FloatImage, progress: number): void;
  /**
   * A restoration to start from (the learned network's; issue 22, item 6): x is then this plus the image
   * prior's output less 0.5 (a residual the warm-up pulls to zero), and k starts from G(start, y) instead of
   * the code of "no blur". Absent: the paper's start from noise.
   */
  start?: FloatImage;
  previewSeconds?: number;
}

export const PAPER_DEFAULTS = { iterations: 5000, warmupIterations: 300, learningRate: 5e-4 };

/** The paper's warm-up is 300 of 5000 steps; shorter runs keep that proportion. */
export function paperSchedule(iterations: number): { iterations: number; warmupIterations: number } {
  return { iterations, warmupIterations: Math.max(1, Math.round((iterations * 300) / 5000)) };
}

const NOISE_CHANNELS = 8;
const WIDTHS = [32, 64, 64];
const CODE_NOISE = 64;

type Params = Map<string, tf.Variable>;

function variable(params: Params, name: string, shape: number[], std: number, normal: () => number): void {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: size }, () => normal() * std);
  params.set(name, tf.variable(tf.tensor(data, shape), true));
}

/** Gx: a small encoder-decoder with skip connections, mapping fixed noise to an image (sigmoid). */
function createImagePrior(seed: number): Params {
  const normal = seededNormal(seed);
  const params: Params = new Map();
  let channels = NOISE_CHANNELS;
  WIDTHS.forEach((width, level) => {
    variable(params, `down${level}.w`, [3, 3, channels, width], Math.sqrt(2 / (9 * channels)), normal);
    variable(params, `down${level}.b`, [width], 0, normal);
    channels = width;
  });
  for (let level = WIDTHS.length - 1; level >= 0; level--) {
    const skip = level > 0 ? WIDTHS[level - 1]! : NOISE_CHANNELS;
    const out = level > 0 ? WIDTHS[level - 1]! : 32;
    variable(
      params,
      `up${level}.w`,
      [3, 3, channels + skip, out],
      Math.sqrt(2 / (9 * (channels + skip))),
      normal,
    );
    variable(params, `up${level}.b`, [out], 0, normal);
    channels = out;
  }
  variable(params, 'out.w', [1, 1, channels, 3], Math.sqrt(1 / channels), normal);
  variable(params, 'out.b', [3], 0, normal);
  return params;
}

function imagePrior(params: Params, z: tf.Tensor4D): tf.Tensor4D {
  const skips: tf.Tensor4D[] = [z];
  let h = z;
  WIDTHS.forEach((_, level) => {
    h = leakyRelu(
      conv2d(
        h,
        params.get(`down${level}.w`) as tf.Tensor4D,
        params.get(`down${level}.b`) as tf.Tensor1D,
        2,
        1,
      ),
      0.2,
    );
    skips.push(h);
  });
  for (let level = WIDTHS.length - 1; level >= 0; level--) {
    const skip = skips[level]!;
    const up = tf.image.resizeBilinear(h, [skip.shape[1], skip.shape[2]]);
    const joined = tf.concat([up, skip], 3);
    h = leakyRelu(
      conv2d(
        joined,
        params.get(`up${level}.w`) as tf.Tensor4D,
        params.get(`up${level}.b`) as tf.Tensor1D,
        1,
        1,
      ),
      0.2,
    );
  }
  return tf.sigmoid(
    conv2d(h, params.get('out.w') as tf.Tensor4D, params.get('out.b') as tf.Tensor1D),
  ) as tf.Tensor4D;
}

/** Gk: a two-layer perceptron from fixed noise to the code grid. */
function createKernelPrior(seed: number, codeSize: number): Params {
  const normal = seededNormal(seed + 1);
  const params: Params = new Map();
  variable(params, 'k.w1', [CODE_NOISE, 256], Math.sqrt(2 / CODE_NOISE), normal);
  variable(params, 'k.b1', [256], 0, normal);
  variable(params, 'k.w2', [256, codeSize], Math.sqrt(1 / 256), normal);
  variable(params, 'k.b2', [codeSize], 0, normal);
  return params;
}

function kernelPrior(
  params: Params,
  z: tf.Tensor2D,
  gridShape: [number, number, number, number],
): tf.Tensor4D {
  const hidden = tf.relu(tf.add(tf.matMul(z, params.get('k.w1') as tf.Tensor2D), params.get('k.b1')!));
  return tf.add(tf.matMul(hidden, params.get('k.w2') as tf.Tensor2D), params.get('k.b2')!).reshape(gridShape);
}

function toTensor(image: FloatImage): tf.Tensor4D {
  return tf.tensor4d(image.data, [1, image.height, image.width, 3]);
}

/** One gradient evaluation, then an Adam step for each network with its own optimizer state. */
function step(networks: Array<[Params, Adam]>, learningRate: number, loss: () => tf.Scalar): void {
  tf.tidy(() => {
    const all = networks.flatMap(([params]) => [...params.values()]);
    const { grads } = tf.variableGrads(loss, all);
    for (const [params, adam] of networks) {
      adam.apply(new Map([...params].map(([name, v]) => [name, grads[v.name]!])), learningRate);
    }
  });
}

/** Runs Algorithm 1 on a photo of any size (reflect-padded to the 128-pixel grid) and returns x. */
export async function paperDeblur(
  model: KernelWizard,
  blurry: FloatImage,
  options: PaperModeOptions,
  ctx: JobContext,
): Promise<FloatImage> {
  // At least 256: G (used for the warm-up code) needs a code grid two cells wide.
  const width = Math.max(2 * GRID_CELL, roundUpToGrid(blurry.width));
  const height = Math.max(2 * GRID_CELL, roundUpToGrid(blurry.height));
  const gridShape: [number, number, number, number] = [
    1,
    height / GRID_CELL,
    width / GRID_CELL,
    model.config.kernelDim,
  ];
  const codeSize = gridShape[1] * gridShape[2] * gridShape[3];
  const xPrior = createImagePrior(options.seed);
  const kPrior = createKernelPrior(options.seed, codeSize);
  const xAdam = new Adam(xPrior);
  const kAdam = new Adam(kPrior);
  const y = toTensor(crop(blurry, 0, 0, width, height));
  const zx = tf.randomUniform<tf.Rank.R4>(
    [1, height, width, NOISE_CHANNELS],
    0,
    0.1,
    'float32',
    options.seed,
  );
  const zk = tf.randomUniform<tf.Rank.R2>([1, CODE_NOISE], 0, 1, 'float32', options.seed + 7);
  const start = options.start ? toTensor(crop(options.start, 0, 0, width, height)) : null;
  // Without a start, the warm-up pulls k towards the code of "no blur" (G(y, y)) and x towards y.
  const neutral = tf.tidy(() => model.extractKernel(start ?? y, y));
  const latent = (): tf.Tensor4D => {
    const prior = imagePrior(xPrior, zx);
    return start ? (tf.add(start, tf.sub(prior, 0.5)) as tf.Tensor4D) : prior;
  };
  const total = options.warmupIterations + options.iterations;
  let lastPreview = performance.now();
  const emitPreview = async (progress: number): Promise<void> => {
    if (!options.onPreview) return;
    const x = tf.tidy(() => tf.clipByValue(latent(), 0, 1));
    options.onPreview({ width, height, channels: 3, data: (await x.data()) as Float32Array }, progress);
    x.dispose();
  };
  try {
    for (let i = 0; i < total; i++) {
      const warm = i < options.warmupIterations;
      const t = i - options.warmupIterations;
      const firstHalf = t < options.iterations / 2;
      // Step decay: halve at 50 % and 75 % of the main iterations.
      const learningRate =
        options.learningRate *
        (warm ? 1 : t < options.iterations / 2 ? 1 : t < (3 * options.iterations) / 4 ? 0.5 : 0.25);
      const terms: Record<string, tf.Scalar> = {};
      const keep = (name: string, value: tf.Scalar): tf.Scalar => {
        terms[name]?.dispose();
        terms[name] = tf.keep(value.clone());
        return value;
      };
      const objective = (): tf.Scalar => {
        const x = latent();
        const k = kernelPrior(kPrior, zk, gridShape);
        if (warm) {
          return keep(
            'total',
            tf.add(
              keep('warm-up x', tf.mean(tf.square(tf.sub(x, start ?? y)))),
              keep('warm-up k', tf.mean(tf.square(tf.sub(k, neutral)))),
            ) as tf.Scalar,
          );
        }
        const reblurred = model.adaptiveBlur(x, k);
        const data = keep('data (Charbonnier)', charbonnier(reblurred, y));
        const kernelNorm = keep('||k||', tf.norm(k) as tf.Scalar);
        const prior = keep('hyper-Laplacian', hyperLaplacian(x));
        let loss = tf.add(data, tf.mul(prior, firstHalf ? 2e-2 : 5e-2));
        loss = tf.add(loss, tf.mul(kernelNorm, firstHalf ? 5e-5 : 5e-4));
        if (firstHalf) loss = tf.add(loss, keep('1 - SSIM', tf.sub(1, ssim(reblurred, y)) as tf.Scalar));
        return keep('total', loss as tf.Scalar);
      };
      step(
        [
          [xPrior, xAdam],
          [kPrior, kAdam],
        ],
        learningRate,
        objective,
      );
      const values: Record<string, number> = {};
      for (const [name, value] of Object.entries(terms)) {
        values[name] = value.dataSync()[0]!;
        value.dispose();
      }
      ctx.progress({
        stage: warm ? 'warm-up' : 'optimising x and k',
        progress: (i + 1) / total,
        loss: { step: i + 1, terms: values },
      });
      if (performance.now() - lastPreview > (options.previewSeconds ?? 3) * 1000) {
        lastPreview = performance.now();
        await emitPreview((i + 1) / total);
      }
      await checkpoint(ctx.signal);
    }
    const x = tf.tidy(() => tf.clipByValue(latent(), 0, 1));
    const full: FloatImage = { width, height, channels: 3, data: (await x.data()) as Float32Array };
    x.dispose();
    return crop(full, 0, 0, blurry.width, blurry.height);
  } finally {
    tf.dispose([y, zx, zk, neutral]);
    start?.dispose();
    xAdam.dispose();
    kAdam.dispose();
    for (const v of [...xPrior.values(), ...kPrior.values()]) v.dispose();
  }
}
