// Where the PSFs of a kernel lie over the photo shown, for the blur trace grid in the viewer: the engine
// gives each PSF's region of the kernel's source, stretched here over the photo the way 'spatial'
// application stretches them. The PSFs measured from the pair are drawn when the kernel has them (they show
// the blur as it was); older kernel files have only those drawn from the model's code.
import type { KernelSummary } from '../../../common/api';
import type { Rect, Size } from './view';

export interface TraceCell extends Rect {
  row: number;
  col: number;
  /** The region's PSF is doubtful (measured PSFs only). */
  doubtful: boolean;
}

/** The PSF grid to draw for a kernel: the measured one when there is one, else the code's. */
export interface ShownTrace {
  source: 'explicit' | 'encoded';
  psfGrid: KernelSummary['psfGrid'];
  glyphsDataUrl: string;
  doubtful: boolean[];
}

export function shownTrace(kernel: KernelSummary): ShownTrace {
  const { explicit } = kernel;
  if (explicit) return { source: 'explicit', ...explicit };
  return { source: 'encoded', psfGrid: kernel.psfGrid, glyphsDataUrl: kernel.glyphsDataUrl, doubtful: [] };
}

/** The regions of a PSF grid over `kernel`'s source in the photo's pixels, row-major. */
export function traceCells(kernel: KernelSummary, trace: ShownTrace, photo: Size): TraceCell[] {
  const sx = photo.width / kernel.source.width;
  const sy = photo.height / kernel.source.height;
  return trace.psfGrid.regions.map((region, index) => ({
    row: Math.floor(index / trace.psfGrid.cols),
    col: index % trace.psfGrid.cols,
    x: region.x * sx,
    y: region.y * sy,
    width: region.width * sx,
    height: region.height * sy,
    doubtful: trace.doubtful[index] ?? false,
  }));
}

/** A glyph's side in photo pixels: most of its cell, but at most `maxScreen` pixels on screen. */
export function glyphSide(cell: Rect, scale: number, maxScreen = 120): number {
  return Math.max(0, Math.min(0.8 * Math.min(cell.width, cell.height), maxScreen / scale));
}
