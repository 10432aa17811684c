// Photos of any size through networks that need multiples of 128: reflect-pad to the grid, cut into
// overlapping grid-aligned tiles, and blend the tiles back with feathered weights. Tiles start on the
// 128-pixel grid so each tile's slice of a kernel-code grid lines up with its pixels.
import { GRID_CELL } from './model/kernel-wizard';

/** An interleaved float image (RGB unless channels says otherwise). */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

export interface Tile {
  /** Top-left corner in the padded image; always a multiple of GRID_CELL. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export function roundUpToGrid(n: number, cell = GRID_CELL): number {
  return Math.max(cell, Math.ceil(n / cell) * cell);
}

/** Mirror index into [0, n) without repeating the edge pixel (like numpy's 'reflect'). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/** Pads on the right and bottom by reflection to `width` x `height`. */
export function reflectPad(image: FloatImage, width: number, height: number): FloatImage {
  if (width === image.width && height === image.height) return image;
  const { channels } = image;
  const data = new Float32Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sy = reflect(y, image.height);
    for (let x = 0; x < width; x++) {
      const src = (sy * image.width + reflect(x, image.width)) * channels;
      const dst = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) data[dst + c] = image.data[src + c];
    }
  }
  return { width, height, channels, data };
}

export function crop(image: FloatImage, x: number, y: number, width: number, height: number): FloatImage {
  const { channels } = image;
  const data = new Float32Array(width * height * channels);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * image.width + x) * channels;
    data.set(image.data.subarray(start, start + width * channels), row * width * channels);
  }
  return { width, height, channels, data };
}

/**
 * Grid-aligned tiles covering a padded `width` x `height` image, each at most `tileSize` square,
 * neighbours overlapping by at least `overlap` (both multiples of GRID_CELL).
 */
export function planTiles(width: number, height: number, tileSize: number, overlap: number): Tile[] {
  if (width % GRID_CELL || height % GRID_CELL || tileSize % GRID_CELL || overlap % GRID_CELL) {
    throw new RangeError(`sizes must be multiples of ${GRID_CELL}`);
  }
  if (overlap >= tileSize) throw new RangeError('the overlap must be smaller than the tile');
  const starts = (length: number): number[] => {
    const size = Math.min(tileSize, length);
    if (size === length) return [0];
    const count = Math.ceil((length - overlap) / (size - overlap));
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      // Spread tiles evenly, snapped to the grid; the last one ends at the edge.
      const ideal = Math.round((i * (length - size)) / (count - 1) / GRID_CELL) * GRID_CELL;
      out.push(Math.min(ideal, length - size));
    }
    return [...new Set(out)];
  };
  const tiles: Tile[] = [];
  for (const y of starts(height)) {
    for (const x of starts(width)) {
      tiles.push({ x, y, width: Math.min(tileSize, width), height: Math.min(tileSize, height) });
    }
  }
  return tiles;
}

/** Weight of a tile pixel: 1 inside, ramping down linearly over `feather` pixels at inner edges. */
function featherWeight(pos: number, size: number, feather: number, atStart: boolean, atEnd: boolean): number {
  let w = 1;
  if (!atStart && pos < feather) w = Math.min(w, (pos + 0.5) / feather);
  if (!atEnd && size - 1 - pos < feather) w = Math.min(w, (size - pos - 0.5) / feather);
  return w;
}

/** Accumulates processed tiles into one image with feathered blending. */
export class TileBlender {
  private readonly sum: Float32Array;
  private readonly weight: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: number,
    private readonly feather: number,
  ) {
    this.sum = new Float32Array(width * height * channels);
    this.weight = new Float32Array(width * height);
  }

  add(tile: Tile, pixels: Float32Array): void {
    const { channels } = this;
    for (let row = 0; row < tile.height; row++) {
      const wy = featherWeight(
        row,
        tile.height,
        this.feather,
        tile.y === 0,
        tile.y + tile.height >= this.height,
      );
      for (let col = 0; col < tile.width; col++) {
        const wx = featherWeight(
          col,
          tile.width,
          this.feather,
          tile.x === 0,
          tile.x + tile.width >= this.width,
        );
        const w = wx * wy;
        const dst = (tile.y + row) * this.width + tile.x + col;
        const src = (row * tile.width + col) * channels;
        this.weight[dst] += w;
        for (let c = 0; c < channels; c++) this.sum[dst * channels + c] += w * pixels[src + c];
      }
    }
  }

  /** The blended image cropped to `width` x `height` from the top-left. */
  result(width = this.width, height = this.height): FloatImage {
    const { channels } = this;
    const data = new Float32Array(width * height * channels);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * this.width + x;
        const w = this.weight[i] || 1;
        for (let c = 0; c < channels; c++)
          data[(y * width + x) * channels + c] = this.sum[i * channels + c] / w;
      }
    }
    return { width, height, channels, data };
  }
}
