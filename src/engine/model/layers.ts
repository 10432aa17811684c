// Building blocks for KernelWizard with gradients that work on the wasm backend.
// Layout: activations NHWC; conv filters HWIO [kh, kw, in, out]; transposed-conv filters [kh, kw, out, in].
import * as tf from '@tensorflow/tfjs';

export const PAD_MODES = ['reflect', 'replicate', 'zero'] as const;
export type PadMode = (typeof PAD_MODES)[number];

function zeroPad(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return pad > 0
    ? tf.pad(x, [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ])
    : x;
}

/**
 * Filter gradient [k, k, ci, co] of conv2d(x, w, stride, pad) from the padded input [n, h, w, ci] and the output
 * gradient [n, oh, ow, co], computed as one forward convolution: channels become the batch, the batch becomes the
 * channels, and the output gradient is the (dilated) filter.
 * Faster on wasm than im2col + matMul (decision 0004).
 */
function filterGradient(xPadded: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  return tf.tidy(() => {
    const ci = xPadded.shape[3];
    const co = dy.shape[3];
    const input = xPadded.transpose([3, 1, 2, 0]) as tf.Tensor4D;
    const filter = dy.transpose([1, 2, 0, 3]) as tf.Tensor4D;
    const g = tf.conv2d(input, filter, 1, 'valid', 'NHWC', stride);
    return g.slice([0, 0, 0, 0], [ci, k, k, co]).transpose([1, 2, 0, 3]);
  });
}

/** Inserts stride - 1 zeros after every row and column: [n, h, w, c] -> [n, h * s, w * s, c]. */
function dilate(x: tf.Tensor4D, stride: number): tf.Tensor4D {
  if (stride === 1) return x;
  const [n, h, w, c] = x.shape;
  const extra: Array<[number, number]> = [
    [0, 0],
    [0, 0],
    [0, stride - 1],
    [0, 0],
  ];
  const rows = tf.pad(x.reshape([n, h, 1, w * c]), extra).reshape([n * h * stride, w, 1, c]);
  return tf.pad(rows, extra).reshape([n, h * stride, w * stride, c]);
}

/**
 * Gradient of conv2d(x, w, stride, pad) with respect to x (shape `inShape`), as a forward convolution of the
 * dilated output gradient with the flipped filter. Also the forward pass of a transposed convolution. wasm's
 * own Conv2DBackpropInput is many times slower than its forward convolution (decision 0004).
 */
function convInputGradient(
  dy: tf.Tensor4D,
  w: tf.Tensor4D,
  inShape: [number, number, number, number],
  stride: number,
  pad: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const k = w.shape[0];
    const flipped = tf.reverse(w, [0, 1]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
    const d = dilate(dy, stride);
    const before = k - 1 - pad;
    const afterH = inShape[1] + pad - d.shape[1];
    const afterW = inShape[2] + pad - d.shape[2];
    const padded = tf.pad(d, [
      [0, 0],
      [before, Math.max(afterH, 0)],
      [before, Math.max(afterW, 0)],
      [0, 0],
    ]) as tf.Tensor4D;
    const [, ph, pw] = padded.shape;
    const cropped =
      afterH < 0 || afterW < 0
        ? padded.slice([0, 0, 0, 0], [-1, ph + Math.min(afterH, 0), pw + Math.min(afterW, 0), -1])
        : padded;
    return tf.conv2d(cropped as tf.Tensor4D, flipped, 1, 'valid');
  });
}

/**
 * 2-D convolution with symmetric zero padding `pad` (PyTorch `padding=pad`) and an optional bias.
 * Custom gradients, because wasm has no Conv2DBackpropFilter and a slow Conv2DBackpropInput.
 */
export function conv2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D | null,
  stride = 1,
  pad = 0,
): tf.Tensor4D {
  const k = w.shape[0];
  if (w.shape[1] !== k) throw new Error(`conv2d: only square kernels are supported, got ${w.shape}`);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xs, ws, bs] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D?];
    save([xs, ws]);
    const value = bs
      ? tf.fused.conv2d({ x: xs, filter: ws, strides: stride, pad, bias: bs })
      : tf.conv2d(xs, ws, stride, pad);
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const grads: tf.Tensor[] = [
          convInputGradient(dy, sw, sx.shape, stride, pad),
          filterGradient(zeroPad(sx, pad), dy, k, stride),
        ];
        if (bs) grads.push(dy.sum([0, 1, 2]));
        return grads;
      },
    };
  });
  return b ? op(x, w, b) : op(x, w);
}

/**
 * Transposed convolution matching PyTorch ConvTranspose2d(kernel k, stride, padding pad, output_padding 0):
 * output size (h - 1) * stride - 2 * pad + k. `w` is [k, k, out, in].
 */
export function convTranspose2d(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D | null,
  stride: number,
  pad: number,
): tf.Tensor4D {
  const k = w.shape[0];
  const [n, h, wd] = x.shape;
  const outShape: [number, number, number, number] = [
    n,
    (h - 1) * stride - 2 * pad + k,
    (wd - 1) * stride - 2 * pad + k,
    w.shape[2],
  ];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xs, ws, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xs, ws]);
    return {
      value: convInputGradient(xs, ws, outShape, stride, pad),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [tf.conv2d(dy, sw, stride, pad), filterGradient(zeroPad(dy, pad), sx, k, stride)];
      },
    };
  });
  const y = op(x, w);
  return b ? tf.add(y, b) : y;
}

/** Spatial padding; 'replicate' is only exact for pad 1, where it equals tf's 'symmetric' mode. */
export function pad2d(x: tf.Tensor4D, pad: number, mode: PadMode): tf.Tensor4D {
  if (pad === 0) return x;
  if (mode === 'zero') return zeroPad(x, pad);
  if (mode === 'replicate' && pad !== 1)
    throw new Error('pad2d: replicate padding is only supported for pad 1');
  const paddings: Array<[number, number]> = [
    [0, 0],
    [pad, pad],
    [pad, pad],
    [0, 0],
  ];
  return tf.mirrorPad(x, paddings, mode === 'reflect' ? 'reflect' : 'symmetric');
}

export function leakyRelu(x: tf.Tensor4D, slope: number): tf.Tensor4D {
  return tf.leakyRelu(x, slope);
}

/** Instance norm without affine parameters (PyTorch InstanceNorm2d defaults: biased variance, eps 1e-5). */
export function instanceNorm(x: tf.Tensor4D, eps = 1e-5): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  });
}

/**
 * PyTorch PixelShuffle in NHWC: input channel c * r * r + i * r + j goes to output channel c at offset (i, j).
 * Reshape/transpose only, because depthToSpace (which also orders channels differently) has no gradient.
 */
export function pixelShuffle(x: tf.Tensor4D, r: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, crr] = x.shape;
    const c = crr / (r * r);
    if (!Number.isInteger(c)) throw new Error(`pixelShuffle: ${crr} channels are not divisible by ${r * r}`);
    // Rank 5 (batch and rows merged) keeps the transpose within what every backend supports.
    return x
      .reshape([n * h, w, c, r, r])
      .transpose([0, 3, 1, 4, 2])
      .reshape([n, h * r, w * r, c]);
  });
}

/** Conv-ReLU-conv with identity skip and no normalisation (EDVR's ResidualBlock_noBN). */
export function residualBlockNoBN(
  x: tf.Tensor4D,
  w1: tf.Tensor4D,
  b1: tf.Tensor1D,
  w2: tf.Tensor4D,
  b2: tf.Tensor1D,
): tf.Tensor4D {
  return tf.tidy(() => tf.add(x, conv2d(tf.relu(conv2d(x, w1, b1, 1, 1)), w2, b2, 1, 1)));
}

/** Deterministic normal samples (mulberry32 + Box-Muller), so initialisation does not depend on the backend. */
export function seededNormal(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - uniform();
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}
