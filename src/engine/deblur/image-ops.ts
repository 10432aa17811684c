// Small image operations the fast mode needs: area resampling, gradient energy, a shock filter.
import type { FloatImage } from '../tiling';

/** Area-average (downscale) or bilinear (upscale) resampling to `width` x `height`. */
export function resample(image: FloatImage, width: number, height: number): FloatImage {
  const { channels } = image;
  const out = new Float32Array(width * height * channels);
  const sx = image.width / width;
  const sy = image.height / height;
  if (sx >= 1 && sy >= 1) {
    for (let y = 0; y < height; y++) {
      const y0 = Math.floor(y * sy);
      const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
      for (let x = 0; x < width; x++) {
        const x0 = Math.floor(x * sx);
        const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let yy = y0; yy < y1; yy++) {
            for (let xx = x0; xx < x1; xx++) sum += image.data[(yy * image.width + xx) * channels + c];
          }
          out[(y * width + x) * channels + c] = sum / ((y1 - y0) * (x1 - x0));
        }
      }
    }
    return { width, height, channels, data: out };
  }
  for (let y = 0; y < height; y++) {
    const fy = Math.min(image.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(image.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(image.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(image.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const at = (xx: number, yy: number): number => image.data[(yy * image.width + xx) * channels + c];
        const top = at(x0, y0) * (1 - wx) + at(x1, y0) * wx;
        const bottom = at(x0, y1) * (1 - wx) + at(x1, y1) * wx;
        out[(y * width + x) * channels + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return { width, height, channels, data: out };
}

/** The top-left corner of the `size` x `size` window with the most edge energy, on a `step` grid. */
export function mostTexturedWindow(image: FloatImage, size: number, step = 32): { x: number; y: number } {
  const { width, height, channels } = image;
  // Gradient energy of the luma, summed per step x step block, then the best window of blocks.
  const bw = Math.ceil(width / step);
  const bh = Math.ceil(height / step);
  const blocks = new Float64Array(bw * bh);
  for (let y = 0; y + 1 < height; y++) {
    for (let x = 0; x + 1 < width; x++) {
      let gx = 0;
      let gy = 0;
      for (let c = 0; c < channels; c++) {
        const v = image.data[(y * width + x) * channels + c];
        gx += image.data[(y * width + x + 1) * channels + c] - v;
        gy += image.data[((y + 1) * width + x) * channels + c] - v;
      }
      // The magnitude rather than its square: a few saturated edges should not win over real texture.
      blocks[Math.floor(y / step) * bw + Math.floor(x / step)] += Math.hypot(gx, gy);
    }
  }
  const span = Math.floor(size / step);
  let best = { x: 0, y: 0 };
  let bestScore = -1;
  for (let by = 0; by + span <= bh; by++) {
    for (let bx = 0; bx + span <= bw; bx++) {
      let score = 0;
      for (let j = 0; j < span; j++) for (let i = 0; i < span; i++) score += blocks[(by + j) * bw + bx + i];
      const x = Math.min(bx * step, width - size);
      const y = Math.min(by * step, height - size);
      if (score > bestScore && x >= 0 && y >= 0) {
        bestScore = score;
        best = { x, y };
      }
    }
  }
  return best;
}

/**
 * Osher-Rudin shock filter: pushes values away from edges' midpoints, turning blurred ramps into steps.
 * It predicts where sharp edges are (Cho & Lee 2009), which is what breaks the "no blur" solution.
 */
export function shockFilter(image: FloatImage, iterations = 6, dt = 0.25): FloatImage {
  const { width, height, channels } = image;
  let current = Float32Array.from(image.data);
  const next = new Float32Array(current.length);
  const at = (data: Float32Array, x: number, y: number, c: number): number =>
    data[(Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))) * channels + c];
  for (let iteration = 0; iteration < iterations; iteration++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) {
          const v = at(current, x, y, c);
          const gx = (at(current, x + 1, y, c) - at(current, x - 1, y, c)) / 2;
          const gy = (at(current, x, y + 1, c) - at(current, x, y - 1, c)) / 2;
          const laplacian =
            at(current, x + 1, y, c) +
            at(current, x - 1, y, c) +
            at(current, x, y + 1, c) +
            at(current, x, y - 1, c) -
            4 * v;
          // Clamped: the filter sharpens edges, it must not invent values a photo cannot have.
          next[(y * width + x) * channels + c] = Math.min(
            1,
            Math.max(0, v - Math.sign(laplacian) * Math.hypot(gx, gy) * dt),
          );
        }
      }
    }
    current = Float32Array.from(next);
  }
  return { width, height, channels, data: current };
}

/** A 3x3 binomial blur (sigma about 0.85): takes the noise off before edges are predicted. */
export function smooth3(image: FloatImage): FloatImage {
  const { width, height, channels } = image;
  const data = new Float32Array(image.data.length);
  const w = [1, 2, 1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let j = -1; j <= 1; j++) {
          const yy = Math.min(height - 1, Math.max(0, y + j));
          for (let i = -1; i <= 1; i++) {
            const xx = Math.min(width - 1, Math.max(0, x + i));
            sum += w[i + 1]! * w[j + 1]! * image.data[(yy * width + xx) * channels + c];
          }
        }
        data[(y * width + x) * channels + c] = sum / 16;
      }
    }
  }
  return { width, height, channels, data };
}
