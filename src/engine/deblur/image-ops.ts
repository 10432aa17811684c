// What fast mode measures on a photo: where to estimate the blur (the window with the most edge energy),
// how noisy it is, and shifts, local ranges and low-passes of its results.
import type { FloatImage } from '../core/tiling';
import { linearToSrgb, srgbToLinearTable } from '../core/colour';
import { psfCentroid, type Psf } from '../kernels/psf';

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
 * A smooth low-pass of `image`: a box filter of `radius` run three times along each axis (close to a
 * Gaussian of sigma ~radius), edges clamped. It runs on block means `radius / 4` pixels wide and is
 * interpolated back bilinearly: a low-pass this wide loses nothing to that, and 24 MP take a second
 * instead of 15. Returns a new image.
 */
export function smooth(image: FloatImage, radius: number): FloatImage {
  const factor = Math.max(1, Math.floor(radius / 4));
  const small = boxBlur(blockMeans(image, factor), Math.max(1, Math.round(radius / factor)));
  return upsample(small, image.width, image.height, factor);
}

function blockMeans(image: FloatImage, factor: number): FloatImage {
  const { width, height, channels } = image;
  const w = Math.ceil(width / factor);
  const h = Math.ceil(height / factor);
  const sum = new Float64Array(w * h * channels);
  const count = new Float64Array(w * h);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cell = Math.floor(y / factor) * w + Math.floor(x / factor);
      count[cell]++;
      for (let c = 0; c < channels; c++)
        sum[cell * channels + c] += image.data[(y * width + x) * channels + c];
    }
  }
  const data = Float32Array.from(sum, (v, i) => v / count[Math.floor(i / channels)]);
  return { width: w, height: h, channels, data };
}

/** Three box filters of `radius` along each axis, edges clamped. */
function boxBlur(image: FloatImage, radius: number): FloatImage {
  const { width, height, channels } = image;
  let data = Float32Array.from(image.data);
  let scratch = new Float32Array(data.length);
  const line = new Float64Array(Math.max(width, height));
  const pass = (length: number, lines: number, index: (l: number, i: number) => number): void => {
    for (let l = 0; l < lines; l++) {
      for (let c = 0; c < channels; c++) {
        for (let i = 0; i < length; i++) line[i] = data[index(l, i) + c];
        const at = (i: number): number => line[Math.min(length - 1, Math.max(0, i))];
        let sum = 0;
        for (let i = -radius; i <= radius; i++) sum += at(i);
        for (let i = 0; i < length; i++) {
          scratch[index(l, i) + c] = sum / (2 * radius + 1);
          sum += at(i + radius + 1) - at(i - radius);
        }
      }
    }
    [data, scratch] = [scratch, data];
  };
  for (let round = 0; round < 3; round++) {
    pass(width, height, (row, x) => (row * width + x) * channels);
    pass(height, width, (column, y) => (y * width + column) * channels);
  }
  return { width, height, channels, data };
}

/** Bilinear from block means (each at its block's centre) back to `width` x `height`. */
function upsample(small: FloatImage, width: number, height: number, factor: number): FloatImage {
  const { channels } = small;
  const data = new Float32Array(width * height * channels);
  const axis = (position: number, size: number): [number, number, number] => {
    const s = Math.min(size - 1, Math.max(0, (position + 0.5) / factor - 0.5));
    const i0 = Math.floor(s);
    return [i0, Math.min(size - 1, i0 + 1), s - i0];
  };
  const columns = Array.from({ length: width }, (_, x) => axis(x, small.width));
  for (let y = 0; y < height; y++) {
    const [y0, y1, fy] = axis(y, small.height);
    for (let x = 0; x < width; x++) {
      const [x0, x1, fx] = columns[x]!;
      for (let c = 0; c < channels; c++) {
        const at = (yy: number, xx: number): number => small.data[(yy * small.width + xx) * channels + c];
        const top = at(y0, x0) + fx * (at(y0, x1) - at(y0, x0));
        const bottom = at(y1, x0) + fx * (at(y1, x1) - at(y1, x0));
        data[(y * width + x) * channels + c] = top + fy * (bottom - top);
      }
    }
  }
  return { width, height, channels, data };
}

/**
 * The whole-pixel shift (dx, dy), each within `reach`, that brings `image` closest to `reference` (same size):
 * image(x + dx, y + dy) ~ reference(x, y), compared on the interior that every shift covers; the search may be
 * centred `around` a shift other than none. A blind estimate centres its kernel on its centroid, so its result
 * sits off the sharp frame by the true kernel's centroid, which for a long shake can be many pixels.
 */
export function bestShift(
  image: FloatImage,
  reference: FloatImage,
  reach = 4,
  around: { dx: number; dy: number } = { dx: 0, dy: 0 },
): { dx: number; dy: number; meanSquaredError: number } {
  const { width, height, channels } = reference;
  const margin = reach + Math.max(Math.abs(around.dx), Math.abs(around.dy));
  let best = { dx: 0, dy: 0, meanSquaredError: Infinity };
  for (let dy = around.dy - reach; dy <= around.dy + reach; dy++) {
    for (let dx = around.dx - reach; dx <= around.dx + reach; dx++) {
      let error = 0;
      let count = 0;
      for (let y = margin; y < height - margin; y++) {
        for (let x = margin; x < width - margin; x++) {
          const i = (y * width + x) * channels;
          const j = ((y + dy) * width + x + dx) * channels;
          for (let c = 0; c < channels; c++) error += (image.data[j + c]! - reference.data[i + c]!) ** 2;
          count += channels;
        }
      }
      if (error / count < best.meanSquaredError) best = { dx, dy, meanSquaredError: error / count };
    }
  }
  return best;
}

/**
 * Mean squared error of a blind result against the sharp photo up to a whole-pixel shift, on the interior: a
 * blind estimate cannot know where the sharp frame sat within the exposure and centres its kernel on its
 * centroid, so its result sits off the sharp frame by about the true kernel's centroid (5-10 px for a long
 * shake with a knot at one end), give or take the estimate's own error. Shifts within 4 px of none and within
 * 8 px of the true kernel's centroid are searched (as when benchmarking blind deblurring: Levin et al. 2009,
 * Köhler et al. 2012).
 */
export function errorUpToShift(result: FloatImage, sharp: FloatImage, truth?: Psf): number {
  const centroid = truth ? psfCentroid(truth) : { x: 0, y: 0 };
  const around = { dx: -Math.round(centroid.x), dy: -Math.round(centroid.y) };
  return Math.min(
    bestShift(result, sharp).meanSquaredError,
    around.dx || around.dy ? bestShift(result, sharp, 8, around).meanSquaredError : Infinity,
  );
}

/** `image` moved so that pixel (x + dx, y + dy) lands on (x, y), the edges repeated. */
export function shiftImage(image: FloatImage, dx: number, dy: number): FloatImage {
  const { width, height, channels } = image;
  const data = new Float32Array(image.data.length);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y + dy));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.max(0, x + dx));
      const from = (sy * width + sx) * channels;
      data.set(image.data.subarray(from, from + channels), (y * width + x) * channels);
    }
  }
  return { width, height, channels, data };
}

/**
 * Per channel, the minimum and maximum of `image` over the (2 radius + 1)^2 square around each pixel (the
 * square cut at the image's edges). Van Herk / Gil-Werman along rows, then columns: a few comparisons per
 * pixel whatever the radius; the column pass runs along rows to stay in the cache.
 */
export function localRange(image: FloatImage, radius: number): { low: Float32Array; high: Float32Array } {
  const { width: w, height: h, channels } = image;
  const low = Float32Array.from(image.data);
  const high = Float32Array.from(image.data);
  if (radius <= 0) return { low, high };
  const span = 2 * radius + 1;
  // Lines padded by `radius` on both sides with the identities (+inf for the minimum, -inf for the maximum);
  // blocks of `span` start at padded index 0, and the window of output i is padded [i, i + 2 radius].
  const rowLength = w + 2 * radius;
  const rowMin = new Float32Array(rowLength);
  const rowMax = new Float32Array(rowLength);
  const preMin = new Float32Array(rowLength);
  const preMax = new Float32Array(rowLength);
  const sufMin = new Float32Array(rowLength);
  const sufMax = new Float32Array(rowLength);
  const rowsMin = new Float32Array(w * h);
  const rowsMax = new Float32Array(w * h);
  const columnLength = h + 2 * radius;
  const colPreMin = new Float32Array(columnLength * w);
  const colPreMax = new Float32Array(columnLength * w);
  const colSufMin = new Float32Array(columnLength * w);
  const colSufMax = new Float32Array(columnLength * w);
  const infinities = new Float32Array(w).fill(Infinity);
  const negativeInfinities = new Float32Array(w).fill(-Infinity);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      rowMin.fill(Infinity);
      rowMax.fill(-Infinity);
      for (let x = 0; x < w; x++)
        rowMin[radius + x] = rowMax[radius + x] = image.data[(y * w + x) * channels + c];
      for (let i = 0; i < rowLength; i++) {
        const start = i % span === 0;
        preMin[i] = start ? rowMin[i] : Math.min(preMin[i - 1], rowMin[i]);
        preMax[i] = start ? rowMax[i] : Math.max(preMax[i - 1], rowMax[i]);
      }
      for (let i = rowLength - 1; i >= 0; i--) {
        const end = i === rowLength - 1 || (i + 1) % span === 0;
        sufMin[i] = end ? rowMin[i] : Math.min(sufMin[i + 1], rowMin[i]);
        sufMax[i] = end ? rowMax[i] : Math.max(sufMax[i + 1], rowMax[i]);
      }
      for (let x = 0; x < w; x++) {
        rowsMin[y * w + x] = Math.min(sufMin[x], preMin[x + 2 * radius]);
        rowsMax[y * w + x] = Math.max(sufMax[x], preMax[x + 2 * radius]);
      }
    }
    // Columns: padded row p holds image row p - radius; all columns advance together.
    const padded = (source: Float32Array, identityRow: Float32Array, p: number) =>
      p < radius || p >= h + radius ? identityRow : source.subarray((p - radius) * w, (p - radius + 1) * w);
    for (let p = 0; p < columnLength; p++) {
      const vMin = padded(rowsMin, infinities, p);
      const vMax = padded(rowsMax, negativeInfinities, p);
      const row = p * w;
      if (p % span === 0) {
        colPreMin.set(vMin, row);
        colPreMax.set(vMax, row);
        continue;
      }
      for (let x = 0; x < w; x++) {
        colPreMin[row + x] = Math.min(colPreMin[row - w + x], vMin[x]);
        colPreMax[row + x] = Math.max(colPreMax[row - w + x], vMax[x]);
      }
    }
    for (let p = columnLength - 1; p >= 0; p--) {
      const vMin = padded(rowsMin, infinities, p);
      const vMax = padded(rowsMax, negativeInfinities, p);
      const row = p * w;
      if (p === columnLength - 1 || (p + 1) % span === 0) {
        colSufMin.set(vMin, row);
        colSufMax.set(vMax, row);
        continue;
      }
      for (let x = 0; x < w; x++) {
        colSufMin[row + x] = Math.min(colSufMin[row + w + x], vMin[x]);
        colSufMax[row + x] = Math.max(colSufMax[row + w + x], vMax[x]);
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const out = (y * w + x) * channels + c;
        low[out] = Math.min(colSufMin[y * w + x], colPreMin[(y + 2 * radius) * w + x]);
        high[out] = Math.max(colSufMax[y * w + x], colPreMax[(y + 2 * radius) * w + x]);
      }
    }
  }
  return { low, high };
}

/**
 * The standard deviation of the noise in a photo's linear-light luma: the median absolute response to a
 * 3x3 mask that cancels planes and ramps (Immerkær 1996), turned into a Gaussian sigma. The median ignores
 * the edges that a mean of the same response would count as noise; about 250 000 evenly spread pixels
 * are enough for it at any photo size.
 */
export function noiseLevel(image: FloatImage): number {
  const { width, height, channels } = image;
  const lin = (x: number, y: number) => {
    const i = (y * width + x) * channels;
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += srgbToLinearTable(image.data[i + c]);
    return sum / channels;
  };
  const step = Math.max(2, Math.floor(Math.sqrt((width * height) / 250_000)));
  const responses: number[] = [];
  for (let y = 1; y < height - 1; y += step) {
    for (let x = 1; x < width - 1; x += step) {
      const r =
        lin(x - 1, y - 1) +
        lin(x + 1, y - 1) +
        lin(x - 1, y + 1) +
        lin(x + 1, y + 1) -
        2 * (lin(x, y - 1) + lin(x, y + 1) + lin(x - 1, y) + lin(x + 1, y)) +
        4 * lin(x, y);
      responses.push(Math.abs(r));
    }
  }
  if (!responses.length) return 0;
  responses.sort((a, b) => a - b);
  // The mask's weights have a norm of 6; 0.6745 turns a median absolute value into a sigma.
  return responses[responses.length >> 1] / (0.6745 * 6);
}

/** The image at half its size (rounded down): each pixel the mean of a 2x2 block, in linear light. */
export function halfSize(image: FloatImage): FloatImage {
  const { channels } = image;
  const [width, height] = [image.width >> 1, image.height >> 1];
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const at = (dx: number, dy: number) =>
          srgbToLinearTable(image.data[((2 * y + dy) * image.width + 2 * x + dx) * channels + c]);
        data[(y * width + x) * channels + c] = linearToSrgb((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4);
      }
    }
  }
  return { width, height, channels, data };
}
