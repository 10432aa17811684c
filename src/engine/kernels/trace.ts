// The blur trace picture: each region's PSF drawn as the path the light took, bright on dark, the way
// photographers know it from other deblurring tools.
import sharp from 'sharp';
import { writeFileAtomic } from '../fs-atomic';
import type { Psf } from './psf';

export interface TraceGrid {
  rows: number;
  cols: number;
  cells: Psf[];
}

/** Renders the grid of PSFs as an 8-bit greyscale image, `cellPixels` square per cell, 1 px grid lines. */
export function renderTrace(
  grid: TraceGrid,
  cellPixels = 96,
): { width: number; height: number; data: Uint8Array } {
  const width = grid.cols * cellPixels + grid.cols + 1;
  const height = grid.rows * cellPixels + grid.rows + 1;
  const data = new Uint8Array(width * height).fill(60); // grid lines
  grid.cells.forEach((psf, index) => {
    const row = Math.floor(index / grid.cols);
    const col = index % grid.cols;
    const max = Math.max(...psf.weights) || 1;
    const left = col * (cellPixels + 1) + 1;
    const top = row * (cellPixels + 1) + 1;
    for (let y = 0; y < cellPixels; y++) {
      const py = Math.min(psf.size - 1, Math.floor((y * psf.size) / cellPixels));
      for (let x = 0; x < cellPixels; x++) {
        const px = Math.min(psf.size - 1, Math.floor((x * psf.size) / cellPixels));
        // A gamma lifts the faint tails of long traces into view.
        const v = Math.sqrt(psf.weights[py * psf.size + px]! / max);
        data[(top + y) * width + left + x] = Math.round(12 + v * 243);
      }
    }
  });
  return { width, height, data };
}

export async function renderTracePng(grid: TraceGrid, cellPixels?: number): Promise<Buffer> {
  const { width, height, data } = renderTrace(grid, cellPixels);
  return sharp(data, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

export async function writeTracePng(grid: TraceGrid, path: string, cellPixels?: number): Promise<void> {
  await writeFileAtomic(path, await renderTracePng(grid, cellPixels));
}
