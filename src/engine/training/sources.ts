import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Rng } from '../core/rng';

export type Split = 'train' | 'val';

export interface GoproFrame {
  /** Frame number from the file name (1-based). */
  number: number;
  path: string;
}

export interface SourceList {
  /** Absolute paths, sorted. */
  photos: string[];
  /** Consecutive frames of the GoPro sequence, sorted by number. */
  frames: GoproFrame[];
}

/** The data README's split: these photo packages and GoPro frames from 250 on are for validation only. */
export const VALIDATION_PACKAGES: readonly string[] = ['enlightenment-data', 'palapeli-data'];
export const GOPRO_SEQUENCE = 'gopro_frames/GOPR0477_11_00';
export const FIRST_VALIDATION_FRAME = 250;

interface ManifestEntry {
  file: string;
  package: string;
}

const listCache = new Map<string, Promise<SourceList>>();

export function listSources(dataRoot: string, split: Split): Promise<SourceList> {
  const key = `${dataRoot}\n${split}`;
  let list = listCache.get(key);
  if (!list) {
    list = scanSources(dataRoot, split);
    list.catch(() => listCache.delete(key));
    listCache.set(key, list);
  }
  return list;
}

async function scanSources(dataRoot: string, split: Split): Promise<SourceList> {
  const manifest = JSON.parse(
    await readFile(join(dataRoot, 'photos', 'manifest.json'), 'utf8'),
  ) as ManifestEntry[];
  const photos = manifest
    .filter((e) => VALIDATION_PACKAGES.includes(e.package) === (split === 'val'))
    .map((e) => join(dataRoot, e.file))
    .sort();
  const dir = join(dataRoot, GOPRO_SEQUENCE);
  const frames = (await readdir(dir))
    .map((name) => ({ name, number: /^(\d+)\.(jpg|png)$/i.exec(name)?.[1] }))
    .filter((f): f is { name: string; number: string } => f.number !== undefined)
    .map((f) => ({ number: Number(f.number), path: join(dir, f.name) }))
    .filter((f) => f.number >= FIRST_VALIDATION_FRAME === (split === 'val'))
    .sort((a, b) => a.number - b.number);
  return { photos, frames };
}

/** A decoded source image: 8-bit sRGB, interleaved RGB, with a texture map for choosing crops. */
export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
  texture: TextureMap;
}

/** Summed-area table of gradient energy over CELL x CELL blocks. */
interface TextureMap {
  cols: number;
  rows: number;
  sat: Float64Array;
}

const CELL = 8;

function textureMap(data: Uint8Array, width: number, height: number): TextureMap {
  const cols = Math.floor(width / CELL);
  const rows = Math.floor(height / CELL);
  const cells = new Float64Array(cols * rows);
  const luma = new Float32Array(width * height);
  for (let p = 0; p < luma.length; p++) luma[p] = data[3 * p] + 2 * data[3 * p + 1] + data[3 * p + 2];
  for (let y = 0; y < rows * CELL; y++) {
    const row = y * width;
    const below = y + 1 < height ? width : 0;
    const cellRow = Math.floor(y / CELL) * cols;
    for (let x = 0; x < cols * CELL; x++) {
      const v = luma[row + x];
      const gx = (x + 1 < width ? luma[row + x + 1] : v) - v;
      const gy = luma[row + x + below] - v;
      cells[cellRow + Math.floor(x / CELL)] += gx * gx + gy * gy;
    }
  }
  const sat = new Float64Array((cols + 1) * (rows + 1));
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) {
      acc += cells[r * cols + c];
      sat[(r + 1) * (cols + 1) + c + 1] = sat[r * (cols + 1) + c + 1] + acc;
    }
  }
  return { cols, rows, sat };
}

/** Mean gradient energy over a rectangle in source pixels (rounded to cells). */
export function textureEnergy(t: TextureMap, x: number, y: number, w: number, h: number): number {
  const c0 = Math.min(t.cols, Math.max(0, Math.round(x / CELL)));
  const r0 = Math.min(t.rows, Math.max(0, Math.round(y / CELL)));
  const c1 = Math.min(t.cols, Math.max(c0 + 1, Math.round((x + w) / CELL)));
  const r1 = Math.min(t.rows, Math.max(r0 + 1, Math.round((y + h) / CELL)));
  if (c1 <= c0 || r1 <= r0) return 0;
  const s = t.sat;
  const W = t.cols + 1;
  return (s[r1 * W + c1] - s[r0 * W + c1] - s[r1 * W + c0] + s[r0 * W + c0]) / ((c1 - c0) * (r1 - r0));
}

async function decode(path: string): Promise<Raster> {
  const { data, info } = await sharp(path)
    .autoOrient()
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3)
    throw new Error(`${path}: expected 3 channels after decoding, got ${info.channels}`);
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return {
    data: pixels,
    width: info.width,
    height: info.height,
    texture: textureMap(pixels, info.width, info.height),
  };
}

/** Decoded sources, least recently used dropped first once the budget is exceeded. */
const cache = new Map<string, { raster: Promise<Raster>; bytes: number }>();
let cacheLimit = 1.5 * 2 ** 30;
let cacheBytes = 0;

/** Memory budget for decoded sources (default 1.5 GiB: all training photos and frames take about 1.1 GiB). */
export function setSourceCacheLimit(bytes: number): void {
  cacheLimit = bytes;
  evict();
}

export function clearSourceCache(): void {
  cache.clear();
  cacheBytes = 0;
}

function evict(): void {
  for (const [key, entry] of cache) {
    if (cacheBytes <= cacheLimit || cache.size <= 1) break;
    cache.delete(key);
    cacheBytes -= entry.bytes;
  }
}

export function loadRaster(path: string): Promise<Raster> {
  const hit = cache.get(path);
  if (hit) {
    cache.delete(path);
    cache.set(path, hit);
    return hit.raster;
  }
  const entry = { raster: decode(path), bytes: 0 };
  cache.set(path, entry);
  entry.raster.then(
    (r) => {
      if (cache.get(path) !== entry) return;
      entry.bytes = r.data.length + r.texture.sat.byteLength;
      cacheBytes += entry.bytes;
      evict();
    },
    () => cache.delete(path),
  );
  return entry.raster;
}

/**
 * Top-left corner of a size x size crop of an image of width x height (at some scale; `energyAt` measures a
 * candidate in those coordinates): the most textured of `candidates` uniform draws.
 */
export function chooseCrop(
  rng: Rng,
  width: number,
  height: number,
  size: number,
  candidates: number,
  energyAt: (x: number, y: number) => number,
): { x: number; y: number } {
  let best = { x: 0, y: 0 };
  let bestEnergy = -1;
  for (let i = 0; i < candidates; i++) {
    const x = rng.int(0, Math.max(0, width - size));
    const y = rng.int(0, Math.max(0, height - size));
    const e = energyAt(x, y);
    if (e > bestEnergy) {
      bestEnergy = e;
      best = { x, y };
    }
  }
  return best;
}

/** A region of a raster, resampled by `scale` (<= 1 shrinks, with sharp's Lanczos filter). */
export interface Patch {
  data: Uint8Array;
  width: number;
  height: number;
  /** Position of the patch's top-left in scaled image coordinates. */
  left: number;
  top: number;
}

/**
 * The region [x0, x1) x [y0, y1) of the raster scaled by `scale`, given in scaled coordinates and clipped to
 * the image. Rounding makes the patch start up to a pixel off: `left`/`top` say where it really starts.
 */
export async function extractPatch(
  r: Raster,
  scale: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
): Promise<Patch> {
  const sl = Math.max(0, Math.floor(x0 / scale));
  const st = Math.max(0, Math.floor(y0 / scale));
  const sr = Math.min(r.width, Math.ceil(x1 / scale));
  const sb = Math.min(r.height, Math.ceil(y1 / scale));
  const sw = sr - sl;
  const sh = sb - st;
  if (scale === 1) {
    const data = new Uint8Array(sw * sh * 3);
    for (let y = 0; y < sh; y++) {
      const from = ((st + y) * r.width + sl) * 3;
      data.set(r.data.subarray(from, from + sw * 3), y * sw * 3);
    }
    return { data, width: sw, height: sh, left: sl, top: st };
  }
  const width = Math.max(1, Math.round(sw * scale));
  const height = Math.max(1, Math.round(sh * scale));
  const buf = await sharp(r.data, { raw: { width: r.width, height: r.height, channels: 3 } })
    .extract({ left: sl, top: st, width: sw, height: sh })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return {
    data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length),
    width,
    height,
    left: Math.round(sl * scale),
    top: Math.round(st * scale),
  };
}
