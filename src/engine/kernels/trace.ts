// The blur trace picture: each region's PSF drawn as the path the light took, bright on dark, the way
// photographers know it from other deblurring tools.
import sharp from 'sharp';
import { writeFileAtomic } from '../core/fs-atomic';
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

/**
 * The region of the source each display PSF stands for, in source pixels, row-major: region r spans the
 * code cells floor(r * R / rows) to floor((r + 1) * R / rows), as `displayPsfs` takes them.
 */
export function displayRegions(
  display: { rows: number; cols: number },
  codeGrid: { rows: number; cols: number; cell: number },
  source: { width: number; height: number },
): { x: number; y: number; width: number; height: number }[] {
  const edge = (index: number, count: number, cells: number, side: number): number =>
    Math.min(Math.floor((index * cells) / count) * codeGrid.cell, side);
  const regions = [];
  for (let r = 0; r < display.rows; r++) {
    const y = edge(r, display.rows, codeGrid.rows, source.height);
    const height = edge(r + 1, display.rows, codeGrid.rows, source.height) - y;
    for (let c = 0; c < display.cols; c++) {
      const x = edge(c, display.cols, codeGrid.cols, source.width);
      regions.push({ x, y, width: edge(c + 1, display.cols, codeGrid.cols, source.width) - x, height });
    }
  }
  return regions;
}

/**
 * The PSFs as glyphs for drawing over a photo: one RGBA sprite, `cols` x `rows` squares of the largest
 * PSF's side, each white with the PSF (gamma-lifted like the trace) as its alpha, transparent elsewhere.
 */
export function renderGlyphSprite(grid: TraceGrid): {
  side: number;
  width: number;
  height: number;
  data: Uint8Array;
} {
  const side = Math.max(1, ...grid.cells.map((psf) => psf.size));
  const width = grid.cols * side;
  const height = grid.rows * side;
  const data = new Uint8Array(width * height * 4);
  grid.cells.forEach((psf, index) => {
    const left = (index % grid.cols) * side + ((side - psf.size) >> 1);
    const top = Math.floor(index / grid.cols) * side + ((side - psf.size) >> 1);
    const max = Math.max(...psf.weights) || 1;
    for (let y = 0; y < psf.size; y++) {
      for (let x = 0; x < psf.size; x++) {
        const i = ((top + y) * width + left + x) * 4;
        data.fill(255, i, i + 3);
        data[i + 3] = Math.round(Math.sqrt(Math.max(0, psf.weights[y * psf.size + x]!) / max) * 255);
      }
    }
  });
  return { side, width, height, data };
}

export async function renderGlyphSpritePng(grid: TraceGrid): Promise<Buffer> {
  const { width, height, data } = renderGlyphSprite(grid);
  return sharp(data, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}
