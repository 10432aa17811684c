// Photos of any size through networks that need multiples of a grid cell (128 for F and G, 64 for the
// deblurring network): reflect-pad to the grid, cut into overlapping grid-aligned tiles, and blend the tiles
// back with feathered weights. Tiles start on the grid so each tile's slice of a kernel-code grid lines up
// with its pixels.

/**
 * The networks' grid: every downsampling in G and in F's adapter halves the size, seven times, so images
 * and tiles are multiples of this and one kernel code covers one cell.
 */
export const GRID_CELL = 128;

/** An interleaved float image (RGB unless channels says otherwise). */
export interface FloatImage {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/** How a network is run over a photo: tile side and overlap, both multiples of the grid cell. */
export interface TileOptions {
  /** Smaller tiles use less memory; overlap is work done twice. */
  tileSize: number;
  overlap: number;
  /** The network's size multiple; GRID_CELL when absent. */
  cell?: number;
}

export interface Tile {
  /** Top-left corner in the padded image; always a multiple of the grid cell. */
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

/**
 * A `width` x `height` window at (x, y); parts beyond the image's right and bottom edges are filled by
 * reflection, so windows of the padded grid can be cut without ever padding the whole photo.
 */
export function crop(image: FloatImage, x: number, y: number, width: number, height: number): FloatImage {
  const { channels } = image;
  const data = new Float32Array(width * height * channels);
  const inside = Math.max(0, Math.min(width, image.width - x));
  for (let row = 0; row < height; row++) {
    const sy = reflect(y + row, image.height);
    const rowStart = (sy * image.width + x) * channels;
    data.set(image.data.subarray(rowStart, rowStart + inside * channels), row * width * channels);
    for (let col = inside; col < width; col++) {
      const src = (sy * image.width + reflect(x + col, image.width)) * channels;
      for (let c = 0; c < channels; c++) data[(row * width + col) * channels + c] = image.data[src + c];
    }
  }
  return { width, height, channels, data };
}

/** Pads on the right and bottom by reflection to `width` x `height`. */
export function reflectPad(image: FloatImage, width: number, height: number): FloatImage {
  return width === image.width && height === image.height ? image : crop(image, 0, 0, width, height);
}

/**
 * Grid-aligned tiles covering a padded `width` x `height` image, each at most `tileSize` square,
 * neighbours overlapping by at least `overlap` (all multiples of `cell`).
 */
export function planTiles(
  width: number,
  height: number,
  tileSize: number,
  overlap: number,
  cell = GRID_CELL,
): Tile[] {
  if (width % cell || height % cell || tileSize % cell || overlap % cell) {
    throw new RangeError(`sizes must be multiples of ${cell}`);
  }
  if (overlap >= tileSize) throw new RangeError('the overlap must be smaller than the tile');
  const starts = (length: number): number[] => {
    const size = Math.min(tileSize, length);
    if (size === length) return [0];
    const count = Math.ceil((length - overlap) / (size - overlap));
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      // Spread tiles evenly, snapped to the grid; the last one ends at the edge.
      const ideal = Math.round((i * (length - size)) / (count - 1) / cell) * cell;
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

/**
 * Accumulates processed tiles into one image with feathered blending. Tiles come from planTiles over a
 * `gridWidth` x `gridHeight` grid (the padded photo); only the photo's own `width` x `height` is kept, so
 * padding costs no memory. The tiles form columns times rows, so the total weight at a pixel is a column
 * sum times a row sum: two 1D arrays instead of a full-size weight image.
 */
export class TileBlender {
  private readonly sum: Float32Array;
  private readonly columnWeight: Float64Array;
  private readonly rowWeight: Float64Array;
  private readonly seenColumns = new Set<number>();
  private readonly seenRows = new Set<number>();

  constructor(
    readonly width: number,
    readonly height: number,
    readonly channels: number,
    private readonly feather: number,
    private readonly gridWidth = width,
    private readonly gridHeight = height,
  ) {
    this.sum = new Float32Array(width * height * channels);
    this.columnWeight = new Float64Array(width);
    this.rowWeight = new Float64Array(height);
  }

  private weights(start: number, size: number, total: number): Float64Array {
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++)
      out[i] = featherWeight(i, size, this.feather, start === 0, start + size >= total);
    return out;
  }

  add(tile: Tile, pixels: Float32Array): void {
    const { channels } = this;
    const wx = this.weights(tile.x, tile.width, this.gridWidth);
    const wy = this.weights(tile.y, tile.height, this.gridHeight);
    const columns = Math.min(tile.width, this.width - tile.x);
    const rows = Math.min(tile.height, this.height - tile.y);
    if (!this.seenColumns.has(tile.x)) {
      this.seenColumns.add(tile.x);
      for (let col = 0; col < columns; col++) this.columnWeight[tile.x + col] += wx[col];
    }
    if (!this.seenRows.has(tile.y)) {
      this.seenRows.add(tile.y);
      for (let row = 0; row < rows; row++) this.rowWeight[tile.y + row] += wy[row];
    }
    for (let row = 0; row < rows; row++) {
      let dst = ((tile.y + row) * this.width + tile.x) * channels;
      let src = row * tile.width * channels;
      for (let col = 0; col < columns; col++) {
        const w = wx[col] * wy[row];
        for (let c = 0; c < channels; c++) this.sum[dst++] += w * pixels[src++];
      }
    }
  }

  /** The blended image (normalised in place: call once). */
  result(): FloatImage {
    const { channels, width, height } = this;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const w = this.columnWeight[x] * this.rowWeight[y] || 1;
        const i = (y * width + x) * channels;
        for (let c = 0; c < channels; c++) this.sum[i + c] /= w;
      }
    }
    return { width, height, channels, data: this.sum };
  }
}

/**
 * Runs `run` on each grid-aligned tile of `photo` (padded by reflection to the grid), `lanes` tiles at a
 * time, and blends the tile-sized results into an image of the photo's size; `onTile` reports progress and
 * may throw to cancel.
 */
export async function mapTiles(
  photo: FloatImage,
  tiles: TileOptions,
  run: (pixels: FloatImage, tile: Tile) => Promise<Float32Array>,
  onTile: (done: number, total: number) => Promise<void>,
  lanes = 1,
): Promise<FloatImage> {
  const cell = tiles.cell ?? GRID_CELL;
  const width = roundUpToGrid(photo.width, cell);
  const height = roundUpToGrid(photo.height, cell);
  const { channels } = photo;
  const blender = new TileBlender(photo.width, photo.height, channels, tiles.overlap / 2, width, height);
  const plan = planTiles(width, height, tiles.tileSize, tiles.overlap, cell);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < plan.length) {
      const tile = plan[next++]!;
      blender.add(tile, await run(crop(photo, tile.x, tile.y, tile.width, tile.height), tile));
      await onTile(++done, plan.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, plan.length) }, lane));
  return blender.result();
}
