// Blurring a photo with explicit PSFs (the transfer that uses the PSFs measured from a pair): each region's
// PSF blurs the photo around its centre and the results are blended bilinearly between the region centres,
// so the blur varies smoothly over the frame. In linear light, where blur adds up; tile by tile with FFTs,
// each tile read with a margin of the PSF's reach (edges replicated), so no tile wraps around.
import { linearToSrgb, lookupTable, srgbToLinearTable } from '../core/colour';
import { checkpoint } from '../core/progress';
import type { FloatImage } from '../core/tiling';
import type { PsfGrid } from './deconvolution';
import { correlationKernelPlane, RealTileFft, tileFftSize } from './tile-fft';

/** Kept pixels per tile side, at least (the FFT side grows with the PSFs). */
const MIN_KEPT = 384;

const toSrgb = lookupTable(linearToSrgb, 65536);

/**
 * Weights of the grid's rows (or columns) at image coordinate `v` of `length`: a hat around each cell centre,
 * clamped at the outer centres, so that they sum to 1 everywhere.
 */
function hat(v: number, length: number, cells: number, index: number): number {
  const g = Math.min(cells - 1, Math.max(0, ((v + 0.5) / length) * cells - 0.5));
  return Math.max(0, 1 - Math.abs(g - index));
}

export interface PsfBlurContext {
  signal?: AbortSignal;
  /** Called after each tile. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The photo (sRGB 0..1) blurred by a grid of PSFs stretched over it: blurry = correlate(sharp, psf) near
 * each region's centre, blended between centres. A 1 x 1 grid is a uniform blur.
 */
export async function blurWithPsfs(
  image: FloatImage,
  grid: PsfGrid,
  ctx: PsfBlurContext = {},
): Promise<FloatImage> {
  const { width, height, channels } = image;
  if (grid.cells.length !== grid.rows * grid.cols)
    throw new RangeError('the PSF grid has the wrong cell count');
  const reach = Math.max(...grid.cells.map((psf) => psf.size)) >> 1;
  const side = tileFftSize(MIN_KEPT + 2 * reach);
  const kept = side - 2 * reach;
  const fft = new RealTileFft(side, side);
  const n = fft.spectrumSize;
  const kernels = grid.cells.map((psf) => {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    fft.forward(
      correlationKernelPlane(psf.weights, psf.size, side, side, new Float64Array(side * side)),
      re,
      im,
    );
    return { re, im };
  });
  const out = new Float32Array(width * height * channels);
  const plane = new Float64Array(side * side);
  const spectra = Array.from({ length: channels }, () => ({
    re: new Float64Array(n),
    im: new Float64Array(n),
  }));
  const [re, im] = [new Float64Array(n), new Float64Array(n)];
  const tilesX = Math.ceil(width / kept);
  const tilesY = Math.ceil(height / kept);
  let done = 0;
  for (let ty = 0; ty < height; ty += kept) {
    for (let tx = 0; tx < width; tx += kept) {
      const tw = Math.min(kept, width - tx);
      const th = Math.min(kept, height - ty);
      for (let c = 0; c < channels; c++) {
        for (let y = 0; y < side; y++) {
          const sy = Math.min(height - 1, Math.max(0, ty - reach + y));
          for (let x = 0; x < side; x++) {
            const sx = Math.min(width - 1, Math.max(0, tx - reach + x));
            plane[y * side + x] = srgbToLinearTable(image.data[(sy * width + sx) * channels + c]);
          }
        }
        fft.forward(plane, spectra[c].re, spectra[c].im);
      }
      const rowWeights = (r: number) =>
        Float64Array.from({ length: th }, (_, y) => hat(ty + y, height, grid.rows, r));
      const colWeights = (k: number) =>
        Float64Array.from({ length: tw }, (_, x) => hat(tx + x, width, grid.cols, k));
      const accumulated = new Float64Array(tw * th * channels);
      for (let r = 0; r < grid.rows; r++) {
        const wy = rowWeights(r);
        if (!wy.some((w) => w > 0)) continue;
        for (let k = 0; k < grid.cols; k++) {
          const wx = colWeights(k);
          if (!wx.some((w) => w > 0)) continue;
          const kernel = kernels[r * grid.cols + k];
          for (let c = 0; c < channels; c++) {
            const s = spectra[c];
            for (let i = 0; i < n; i++) {
              re[i] = s.re[i] * kernel.re[i] - s.im[i] * kernel.im[i];
              im[i] = s.re[i] * kernel.im[i] + s.im[i] * kernel.re[i];
            }
            fft.inverse(re, im, plane);
            for (let y = 0; y < th; y++) {
              if (wy[y] === 0) continue;
              for (let x = 0; x < tw; x++)
                accumulated[(y * tw + x) * channels + c] +=
                  wy[y] * wx[x] * plane[(y + reach) * side + x + reach];
            }
          }
        }
      }
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw * channels; x++)
          out[((ty + y) * width + tx) * channels + x] = toSrgb(accumulated[y * tw * channels + x]);
      }
      ctx.onProgress?.(++done, tilesX * tilesY);
      await checkpoint(ctx.signal);
    }
  }
  return { width, height, channels, data: out };
}
