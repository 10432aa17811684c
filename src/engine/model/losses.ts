// Differentiable image losses for deblurring, built on the wasm-safe convolution.
import * as tf from '@tensorflow/tfjs';
import { conv2d } from './layers';

export function charbonnier(a: tf.Tensor, b: tf.Tensor, epsilon = 1e-3): tf.Scalar {
  return tf.mean(tf.sqrt(tf.add(tf.square(tf.sub(a, b)), epsilon * epsilon)));
}

/** A filter applying the same k x k kernel to each of `channels` channels separately (no mixing). */
function perChannelFilter(kernel: number[][], channels: number): tf.Tensor4D {
  const k = kernel.length;
  const data = new Float32Array(k * k * channels * channels);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      for (let c = 0; c < channels; c++) data[((i * k + j) * channels + c) * channels + c] = kernel[i]![j]!;
    }
  }
  return tf.tensor4d(data, [k, k, channels, channels]);
}

function gaussian(size: number, sigma: number): number[][] {
  const c = (size - 1) / 2;
  const row = Array.from({ length: size }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  const total = row.reduce((a, b) => a + b, 0) ** 2;
  return row.map((a) => row.map((b) => (a * b) / total));
}

/** Mean SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5) of images in [0, 1], 'valid' windows. */
export function ssim(a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const window = perChannelFilter(gaussian(11, 1.5), a.shape[3]);
    const blur = (t: tf.Tensor4D): tf.Tensor4D => conv2d(t, window, null);
    const c1 = 0.01 ** 2;
    const c2 = 0.03 ** 2;
    const muA = blur(a);
    const muB = blur(b);
    const varA = tf.sub(blur(tf.mul(a, a)), tf.square(muA));
    const varB = tf.sub(blur(tf.mul(b, b)), tf.square(muB));
    const cov = tf.sub(blur(tf.mul(a, b)), tf.mul(muA, muB));
    const numerator = tf.mul(tf.add(tf.mul(tf.mul(muA, muB), 2), c1), tf.add(tf.mul(cov, 2), c2));
    const denominator = tf.mul(
      tf.add(tf.add(tf.square(muA), tf.square(muB)), c1),
      tf.add(tf.add(varA, varB), c2),
    );
    return tf.mean(tf.div(numerator, denominator));
  });
}

const SOBEL_X = [
  [-1, 0, 1],
  [-2, 0, 2],
  [-1, 0, 1],
];
const SOBEL_Y = [
  [-1, -2, -1],
  [0, 0, 0],
  [1, 2, 1],
];

/** Hyper-Laplacian prior: the mean of |Sobel gradient magnitude|^alpha (natural images: alpha ~ 0.5-0.8). */
export function hyperLaplacian(x: tf.Tensor4D, alpha = 0.66): tf.Scalar {
  return tf.tidy(() => {
    const channels = x.shape[3];
    const gx = conv2d(x, perChannelFilter(SOBEL_X, channels), null, 1, 1);
    const gy = conv2d(x, perChannelFilter(SOBEL_Y, channels), null, 1, 1);
    const magnitude = tf.add(tf.add(tf.square(gx), tf.square(gy)), 1e-6);
    return tf.mean(tf.pow(magnitude, alpha / 2));
  });
}
