// Kernel extraction k = G(x, y) and transfer y = F(x, k) on photos of any size: pad to the 128-pixel grid,
// run the networks tile by tile with overlap, and blend.
import * as tf from '@tensorflow/tfjs';
import { checkpoint, type JobContext } from '../core/progress';
import type { KernelWizard } from '../model/kernel-wizard';
import {
  crop,
  GRID_CELL,
  mapTiles,
  planTiles,
  roundUpToGrid,
  type FloatImage,
  type TileOptions,
} from '../core/tiling';
import { fitPsf, luma, type Psf } from './psf';

/** A grid of kernel codes, row-major, `kernelDim` values per cell. */
export interface CodeGrid {
  rows: number;
  cols: number;
  kernelDim: number;
  codes: Float32Array;
}

export const DEFAULT_TILES: TileOptions = { tileSize: 512, overlap: 128 };
/** G's blocks need a code grid at least 2 cells wide. */
const MIN_G_SIDE = 2 * GRID_CELL;
const PSF_WINDOW = 256;
export const PSF_SIZE = 65;
const MAX_DISPLAY_CELLS = 6;

function imageTensor(image: FloatImage): tf.Tensor4D {
  return tf.tensor4d(image.data, [1, image.height, image.width, 3]);
}

function paddedSize(image: FloatImage, minimum: number): { width: number; height: number } {
  return {
    width: Math.max(minimum, roundUpToGrid(image.width)),
    height: Math.max(minimum, roundUpToGrid(image.height)),
  };
}

/** G over the whole photo: each cell's code is the mean over the tiles that contain it. */
export async function extractCodes(
  model: KernelWizard,
  sharp: FloatImage,
  blurry: FloatImage,
  ctx: JobContext,
  tiles: TileOptions = DEFAULT_TILES,
): Promise<CodeGrid> {
  return (await extractPosterior(model, sharp, blurry, ctx, tiles)).mean;
}

/**
 * G's full output over the whole photo, each cell averaged over the tiles that contain it: the code (the
 * mean) and, for a VAE, its standard deviation (null otherwise).
 */
export async function extractPosterior(
  model: KernelWizard,
  sharp: FloatImage,
  blurry: FloatImage,
  ctx: JobContext,
  tiles: TileOptions = DEFAULT_TILES,
): Promise<{ mean: CodeGrid; sigma: CodeGrid | null }> {
  const { width, height } = paddedSize(sharp, MIN_G_SIDE);
  const rows = height / GRID_CELL;
  const cols = width / GRID_CELL;
  const kernelDim = model.config.kernelDim;
  const sums = [new Float32Array(rows * cols * kernelDim)];
  if (model.config.useVAE) sums.push(new Float32Array(rows * cols * kernelDim));
  const count = new Float32Array(rows * cols);
  const plan = planTiles(width, height, Math.max(tiles.tileSize, MIN_G_SIDE), tiles.overlap);
  for (const [index, tile] of plan.entries()) {
    // The code, then for a VAE its sigma.
    const outputs = tf.tidy(() => {
      const { mean, sigma } = model.extractKernelPosterior(
        imageTensor(crop(sharp, tile.x, tile.y, tile.width, tile.height)),
        imageTensor(crop(blurry, tile.x, tile.y, tile.width, tile.height)),
      );
      return sigma ? [mean, sigma] : [mean];
    });
    const values = (await Promise.all(outputs.map((t) => t.data()))) as Float32Array[];
    tf.dispose(outputs);
    const tileCols = tile.width / GRID_CELL;
    for (let r = 0; r < tile.height / GRID_CELL; r++) {
      for (let c = 0; c < tileCols; c++) {
        const cell = (tile.y / GRID_CELL + r) * cols + tile.x / GRID_CELL + c;
        count[cell] += 1;
        const from = (r * tileCols + c) * kernelDim;
        values.forEach((v, i) => {
          for (let d = 0; d < kernelDim; d++) sums[i]![cell * kernelDim + d] += v[from + d];
        });
      }
    }
    ctx.progress({ stage: 'reading the blur', progress: (index + 1) / plan.length });
    await checkpoint(ctx.signal);
  }
  const [mean, sigma] = sums.map((sum) => {
    for (let cell = 0; cell < rows * cols; cell++) {
      for (let d = 0; d < kernelDim; d++) sum[cell * kernelDim + d] /= count[cell];
    }
    return { rows, cols, kernelDim, codes: sum };
  });
  return { mean: mean!, sigma: sigma ?? null };
}

/** The grid's codes on a new grid: bilinear between cell centres ('spatial'), or their mean everywhere. */
export function resampleCodes(
  grid: CodeGrid,
  rows: number,
  cols: number,
  mode: 'spatial' | 'uniform',
): CodeGrid {
  const { kernelDim } = grid;
  const codes = new Float32Array(rows * cols * kernelDim);
  if (mode === 'uniform') {
    const mean = meanCode(grid, 0, grid.rows, 0, grid.cols);
    for (let cell = 0; cell < rows * cols; cell++) codes.set(mean, cell * kernelDim);
    return { rows, cols, kernelDim, codes };
  }
  const at = (r: number, c: number, d: number): number => grid.codes[(r * grid.cols + c) * kernelDim + d];
  for (let r = 0; r < rows; r++) {
    const sr = Math.min(grid.rows - 1, Math.max(0, ((r + 0.5) * grid.rows) / rows - 0.5));
    const r0 = Math.floor(sr);
    const r1 = Math.min(grid.rows - 1, r0 + 1);
    const fr = sr - r0;
    for (let c = 0; c < cols; c++) {
      const sc = Math.min(grid.cols - 1, Math.max(0, ((c + 0.5) * grid.cols) / cols - 0.5));
      const c0 = Math.floor(sc);
      const c1 = Math.min(grid.cols - 1, c0 + 1);
      const fc = sc - c0;
      for (let d = 0; d < kernelDim; d++) {
        const top = at(r0, c0, d) * (1 - fc) + at(r0, c1, d) * fc;
        const bottom = at(r1, c0, d) * (1 - fc) + at(r1, c1, d) * fc;
        codes[(r * cols + c) * kernelDim + d] = top * (1 - fr) + bottom * fr;
      }
    }
  }
  return { rows, cols, kernelDim, codes };
}

function meanCode(grid: CodeGrid, r0: number, r1: number, c0: number, c1: number): Float32Array {
  const mean = new Float32Array(grid.kernelDim);
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      const from = (r * grid.cols + c) * grid.kernelDim;
      for (let d = 0; d < grid.kernelDim; d++) mean[d] += grid.codes[from + d];
    }
  }
  return mean.map((v) => v / ((r1 - r0) * (c1 - c0)));
}

/**
 * A code grid for the whole photo from codes read on some windows only (`windows[i]` with its code grid
 * `codes[i]`): each cell takes the mean code of the window whose centre is nearest its own.
 */
export function codesFromWindows(
  photo: FloatImage,
  windows: Array<{ x: number; y: number; width: number; height: number }>,
  codes: CodeGrid[],
): CodeGrid {
  const { rows, cols } = gridFor(photo);
  const kernelDim = codes[0]!.kernelDim;
  const means = codes.map((grid) => meanCode(grid, 0, grid.rows, 0, grid.cols));
  const out = new Float32Array(rows * cols * kernelDim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [x, y] = [(c + 0.5) * GRID_CELL, (r + 0.5) * GRID_CELL];
      const distance = (w: (typeof windows)[number]) =>
        Math.hypot(w.x + w.width / 2 - x, w.y + w.height / 2 - y);
      const nearest = windows.reduce((best, w, i) => (distance(w) < distance(windows[best]!) ? i : best), 0);
      out.set(means[nearest]!, (r * cols + c) * kernelDim);
    }
  }
  return { rows, cols, kernelDim, codes: out };
}

/** F over the whole photo with a code grid matching its padded size (see `gridFor`). */
export async function applyCodes(
  model: KernelWizard,
  photo: FloatImage,
  grid: CodeGrid,
  ctx: JobContext,
  tiles: TileOptions = DEFAULT_TILES,
): Promise<FloatImage> {
  const { width, height } = paddedSize(photo, GRID_CELL);
  if (grid.rows !== height / GRID_CELL || grid.cols !== width / GRID_CELL) {
    throw new Error(`code grid ${grid.rows}x${grid.cols} does not match a ${width}x${height} padded photo`);
  }
  return mapTiles(
    photo,
    tiles,
    async (pixels, tile) => {
      const out = tf.tidy(() => {
        const k = tf
          .tensor4d(grid.codes, [1, grid.rows, grid.cols, grid.kernelDim])
          .slice(
            [0, tile.y / GRID_CELL, tile.x / GRID_CELL, 0],
            [1, tile.height / GRID_CELL, tile.width / GRID_CELL, grid.kernelDim],
          );
        return model.adaptiveBlur(imageTensor(pixels), k);
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    async (done, total) => {
      ctx.progress({ stage: 'applying the blur', progress: done / total });
      await checkpoint(ctx.signal);
    },
  );
}

/** The code grid a photo of this size needs. */
export function gridFor(photo: FloatImage): { rows: number; cols: number } {
  const { width, height } = paddedSize(photo, GRID_CELL);
  return { rows: height / GRID_CELL, cols: width / GRID_CELL };
}

/**
 * Explicit PSFs on a coarse display grid (at most 6 x 6): for each region, F applied with the region's
 * mean code to a window of `probe` around it, and the PSF fitted to that (probe, F(probe, k)) pair.
 */
export async function displayPsfs(
  model: KernelWizard,
  probe: FloatImage,
  grid: CodeGrid,
  ctx: JobContext,
): Promise<{ rows: number; cols: number; cells: Psf[] }> {
  const { width, height } = paddedSize(probe, PSF_WINDOW);
  const rows = Math.min(grid.rows, MAX_DISPLAY_CELLS);
  const cols = Math.min(grid.cols, MAX_DISPLAY_CELLS);
  const cells: Psf[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [r0, r1] = [Math.floor((r * grid.rows) / rows), Math.floor(((r + 1) * grid.rows) / rows)];
      const [c0, c1] = [Math.floor((c * grid.cols) / cols), Math.floor(((c + 1) * grid.cols) / cols)];
      const code = meanCode(grid, r0, r1, c0, c1);
      // A window centred on the region, inside the padded probe, snapped to the grid.
      const centreX = ((c0 + c1) / 2) * GRID_CELL;
      const centreY = ((r0 + r1) / 2) * GRID_CELL;
      const wx = Math.min(width - PSF_WINDOW, Math.max(0, Math.round(centreX - PSF_WINDOW / 2)));
      const wy = Math.min(height - PSF_WINDOW, Math.max(0, Math.round(centreY - PSF_WINDOW / 2)));
      const window = crop(probe, wx, wy, PSF_WINDOW, PSF_WINDOW);
      const cellsPerSide = PSF_WINDOW / GRID_CELL;
      const blurred = tf.tidy(() => {
        const k = tf.tile(tf.tensor4d(code, [1, 1, 1, grid.kernelDim]), [1, cellsPerSide, cellsPerSide, 1]);
        return model.adaptiveBlur(imageTensor(window), k as tf.Tensor4D);
      });
      const y = (await blurred.data()) as Float32Array;
      blurred.dispose();
      const pixels = PSF_WINDOW * PSF_WINDOW;
      cells.push(fitPsf(luma(window.data, pixels), luma(y, pixels), PSF_WINDOW, PSF_SIZE));
      ctx.progress({ stage: 'drawing the blur trace', progress: cells.length / (rows * cols) });
      await checkpoint(ctx.signal);
    }
  }
  return { rows, cols, cells };
}
