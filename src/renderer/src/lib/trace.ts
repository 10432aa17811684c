// Where the display PSFs of a kernel lie over the photo shown, for the blur trace grid in the viewer: the
// engine gives each PSF's region of the kernel's source, stretched here over the photo the way 'spatial'
// application stretches the codes.
import type { KernelSummary } from '../../../common/api';
import type { Rect, Size } from './view';

export interface TraceCell extends Rect {
  row: number;
  col: number;
}

/** The display regions of `kernel` in the photo's pixels, row-major. */
export function traceCells(kernel: KernelSummary, photo: Size): TraceCell[] {
  const sx = photo.width / kernel.source.width;
  const sy = photo.height / kernel.source.height;
  return kernel.psfGrid.regions.map((region, index) => ({
    row: Math.floor(index / kernel.psfGrid.cols),
    col: index % kernel.psfGrid.cols,
    x: region.x * sx,
    y: region.y * sy,
    width: region.width * sx,
    height: region.height * sy,
  }));
}

/** A glyph's side in photo pixels: most of its cell, but at most `maxScreen` pixels on screen. */
export function glyphSide(cell: Rect, scale: number, maxScreen = 120): number {
  return Math.max(0, Math.min(0.8 * Math.min(cell.width, cell.height), maxScreen / scale));
}
