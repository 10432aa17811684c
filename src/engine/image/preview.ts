// Full-resolution regions of a photo for the viewer's tiles and loupe. Decoding a 24 MP JPEG takes far
// longer than cutting a tile from memory, so the last few decoded photos are kept as raw 8-bit sRGB.
import { stat } from 'node:fs/promises';
import { DEFAULT_MAX_PIXELS } from './';
import { sharp } from './sharp';

export interface RegionRequest {
  path: string;
  x: number;
  y: number;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
}

interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** About 72 MB each for 24 MP; enough for an original and two versions being compared. */
const CACHE_ENTRIES = 3;
// Pending decodes are cached too, so the dozen tile requests of one view share a single decode.
const cache = new Map<string, Promise<Decoded>>();

async function decoded(path: string): Promise<Decoded> {
  const { mtimeMs, size } = await stat(path);
  const key = `${path}\0${mtimeMs}\0${size}`;
  let entry = cache.get(key);
  if (entry) {
    cache.delete(key); // re-insert: most recently used last
  } else {
    entry = sharp(path, { limitInputPixels: DEFAULT_MAX_PIXELS })
      .autoOrient()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
      .then(({ data, info }) => ({
        data,
        width: info.width,
        height: info.height,
        channels: info.channels === 4 ? 4 : 3,
      }));
    entry.catch(() => cache.delete(key));
  }
  cache.set(key, entry);
  while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  return entry;
}

/** A region in photo pixels (orientation applied), clamped to the photo, scaled to the requested size. */
export async function renderRegion(request: RegionRequest): Promise<Buffer> {
  let photo: Decoded;
  try {
    photo = await decoded(request.path);
  } catch (error) {
    throw new Error(
      `Cannot show '${request.path}' at full resolution: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  const left = Math.min(request.x, photo.width - 1);
  const top = Math.min(request.y, photo.height - 1);
  const width = Math.max(1, Math.min(request.width, photo.width - left));
  const height = Math.max(1, Math.min(request.height, photo.height - top));
  const raw = { width: photo.width, height: photo.height, channels: photo.channels };
  return sharp(photo.data, { raw })
    .extract({ left, top, width, height })
    .resize(request.outWidth, request.outHeight, { fit: 'fill' })
    .removeAlpha()
    .jpeg({ quality: 90 })
    .toBuffer();
}
