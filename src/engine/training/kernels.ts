import { readFile } from 'node:fs/promises';
import type { Rng } from '../core/rng';
import type { Psf } from '../kernels/psf';
import { join } from 'node:path';

/** A blur kernel, row-major, summing to 1, applied as blurry = correlate(sharp, k) (MATLAB imfilter). */
export interface Kernel {
  id: string;
  width: number;
  height: number;
  data: Float32Array;
}

interface KernelFile {
  kernels: { id: string; shape: [number, number]; data: number[][] | number[] }[];
}

const kernelCache = new Map<string, Promise<Kernel[]>>();

export function loadKernels(dataRoot: string): Promise<Kernel[]> {
  let kernels = kernelCache.get(dataRoot);
  if (!kernels) {
    kernels = readFile(join(dataRoot, 'kernels', 'kernels.json'), 'utf8').then((text) =>
      (JSON.parse(text) as KernelFile).kernels.map((k) => ({
        id: k.id,
        height: k.shape[0],
        width: k.shape[1],
        data: Float32Array.from(k.data.flat()),
      })),
    );
    kernels.catch(() => kernelCache.delete(dataRoot));
    kernelCache.set(dataRoot, kernels);
  }
  return kernels;
}

/**
 * One of the 8 symmetries of the square: bit 0 flips left-right, bit 1 flips top-bottom, bit 2 transposes
 * (applied first). 0 is the identity, 3 the rotation by 180 degrees.
 */
export function transformKernel(k: Kernel, symmetry: number): Kernel {
  const transpose = (symmetry & 4) !== 0;
  const width = transpose ? k.height : k.width;
  const height = transpose ? k.width : k.height;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const tx = symmetry & 1 ? width - 1 - x : x;
      const ty = symmetry & 2 ? height - 1 - y : y;
      data[y * width + x] = transpose ? k.data[tx * k.width + ty] : k.data[ty * k.width + tx];
    }
  }
  return { id: k.id, width, height, data };
}

/** The centre tap, as imfilter places it: floor((n - 1) / 2), so 12 for 25 taps and 34 for 70. */
export function kernelCentre(k: Kernel): { x: number; y: number } {
  return { x: (k.width - 1) >> 1, y: (k.height - 1) >> 1 };
}

/** The kernel as a square PSF centred on its centre tap, for deconvolution and comparison. */
export function kernelToPsf(k: Kernel): Psf {
  const side = Math.max(k.width, k.height) | 1;
  const c = side >> 1;
  const centre = kernelCentre(k);
  const weights = new Array<number>(side * side).fill(0);
  for (let y = 0; y < k.height; y++)
    for (let x = 0; x < k.width; x++)
      weights[(y - centre.y + c) * side + (x - centre.x + c)] = k.data[y * k.width + x]!;
  return { size: side, weights };
}

/**
 * out(y, x) = sum_ij k(i, j) * src(oy + y + i - cy, ox + x + j - cx) for a width x height output, src being
 * an interleaved image of `channels` channels with its edges replicated outwards. Zero taps are skipped
 * (the shared motion kernels are mostly zeros).
 */
export function correlateRegion(
  src: Float32Array,
  srcWidth: number,
  srcHeight: number,
  channels: number,
  k: Kernel,
  ox: number,
  oy: number,
  width: number,
  height: number,
): Float32Array {
  const c = kernelCentre(k);
  const pw = width + k.width - 1;
  const ph = height + k.height - 1;
  const padded = new Float32Array(pw * ph * channels);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(srcHeight - 1, Math.max(0, oy + y - c.y));
    for (let x = 0; x < pw; x++) {
      const sx = Math.min(srcWidth - 1, Math.max(0, ox + x - c.x));
      for (let ch = 0; ch < channels; ch++) {
        padded[(y * pw + x) * channels + ch] = src[(sy * srcWidth + sx) * channels + ch];
      }
    }
  }
  const taps: { i: number; j: number; w: number }[] = [];
  for (let i = 0; i < k.height; i++) {
    for (let j = 0; j < k.width; j++)
      if (k.data[i * k.width + j] !== 0) taps.push({ i, j, w: k.data[i * k.width + j] });
  }
  const out = new Float32Array(width * height * channels);
  const rowLen = width * channels;
  // One output row at a time in a float64 accumulator that stays in L1: faster than tap-major order.
  const acc = new Float64Array(rowLen);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (const { i, j, w } of taps) {
      const s = ((y + i) * pw + j) * channels;
      for (let t = 0; t < rowLen; t++) acc[t] += w * padded[s + t];
    }
    out.set(acc, y * rowLen);
  }
  return out;
}

/** Correlation of a whole image with a kernel, same size, edges replicated. */
export function correlate(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  k: Kernel,
): Float32Array {
  return correlateRegion(src, width, height, channels, k, 0, 0, width, height);
}

/**
 * A camera-shake kernel: a random trajectory with inertia (velocity pulled by random kicks, now and then a
 * sharp jerk), sampled finely over the exposure and splatted bilinearly, scaled so that its longest side is
 * `lengthPx`. The trajectory's time spent at each place is its weight, so slow turns leave bright knots as
 * real hand shake does. The inertia is high (the velocity keeps its direction for tens of steps): recorded
 * shake (Levin et al. 2009, Köhler et al. 2012) is a curve with a few bends, not the tangle that a random walk
 * with little inertia draws.
 */
export function shakeKernel(rng: Rng, lengthPx: number, id = 'shake'): Kernel {
  const steps = 300;
  const points: [number, number][] = [];
  let [x, y] = [0, 0];
  const heading = rng.uniform(0, 2 * Math.PI);
  let [vx, vy] = [Math.cos(heading), Math.sin(heading)];
  const inertia = rng.uniform(0.96, 0.99);
  for (let i = 0; i < steps; i++) {
    const jerk = rng.chance(0.005) ? rng.uniform(4, 10) : 1;
    vx = inertia * vx + (1 - inertia) * jerk * rng.normal() * 2;
    vy = inertia * vy + (1 - inertia) * jerk * rng.normal() * 2;
    x += vx;
    y += vy;
    points.push([x, y]);
  }
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const extent = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) || 1;
  const scale = (lengthPx - 1) / extent;
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const side = (Math.ceil(lengthPx) + 2) | 1;
  const c = side >> 1;
  const data = new Float32Array(side * side);
  for (const [px, py] of points) {
    const fx = (px - cx) * scale + c;
    const fy = (py - cy) * scale + c;
    const x0 = Math.floor(fx);
    const y0 = Math.floor(fy);
    const ax = fx - x0;
    const ay = fy - y0;
    data[y0 * side + x0] += (1 - ax) * (1 - ay);
    data[y0 * side + x0 + 1] += ax * (1 - ay);
    data[(y0 + 1) * side + x0] += (1 - ax) * ay;
    data[(y0 + 1) * side + x0 + 1] += ax * ay;
  }
  const total = data.reduce((a, b) => a + b, 0);
  for (let i = 0; i < data.length; i++) data[i] /= total;
  return { id, width: side, height: side, data };
}
