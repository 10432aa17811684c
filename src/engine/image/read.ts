import { readFile } from 'node:fs/promises';
import type { Metadata } from 'sharp';
import { extensionOf, RAW_EXTENSIONS } from '../../common/formats';
import { PhotoError, type Photo } from './photo';
import { sharp } from './sharp';

export interface ReadOptions {
  /** Decompression-bomb guard: refuse images with more pixels than this. */
  maxPixels?: number;
}

export interface Preview {
  jpeg: Buffer;
  width: number;
  height: number;
  fullWidth: number;
  fullHeight: number;
  /** The source's format as sharp names it (jpeg, png, tiff, webp, heif, gif). */
  format: string;
}

export const DEFAULT_MAX_PIXELS = 300_000_000;

const EIGHT_BIT_DEPTHS = new Set(['uchar', 'char']);
const NEW_SUBFILE_TYPE = 0xfe;
const DNG_VERSION = 0xc612;

interface Source {
  buffer: Buffer;
  meta: Metadata;
  /** How to name the input in messages. */
  what: string;
  limit: number;
}

/** Decode a photo to float sRGB with its metadata kept for writing back (see Photo). */
export async function readPhoto(input: string | Buffer, opts: ReadOptions = {}): Promise<Photo> {
  const { buffer, meta, what, limit } = await openSource(input, opts.maxPixels);
  const sixteen = !EIGHT_BIT_DEPTHS.has(meta.depth ?? 'uchar');
  const grayscale = meta.space === 'b-w' || meta.space === 'grey16';
  let pipeline = sharp(buffer, { limitInputPixels: limit }).autoOrient();
  if (sixteen) {
    pipeline = pipeline.toColourspace('rgb16');
    // For tagged 16-bit input sharp's working space is Display P3, not sRGB: finish the conversion.
    if (meta.hasProfile && !grayscale) pipeline = pipeline.withIccProfile('srgb', { attach: false });
  } else {
    pipeline = pipeline.toColourspace('srgb');
  }
  const { data, info } = await pipeline
    .raw(sixteen ? { depth: 'ushort' } : {})
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => {
      throw decodeError(err, what);
    });

  const pixels = info.width * info.height;
  const values = sixteen ? ushortView(data) : data;
  const scale = 1 / (sixteen ? 65535 : 255);
  const rgb = new Float32Array(pixels * 3);
  const alpha = info.channels === 4 ? new Float32Array(pixels) : undefined;
  for (let p = 0, s = 0, d = 0; p < pixels; p++) {
    rgb[d++] = values[s++] * scale;
    rgb[d++] = values[s++] * scale;
    rgb[d++] = values[s++] * scale;
    if (alpha) alpha[p] = values[s++] * scale;
  }
  return {
    width: info.width,
    height: info.height,
    channels: 3,
    data: rgb,
    ...(alpha && { alpha }),
    sourceBitDepth: sixteen ? 16 : 8,
    sourceFormat: meta.format === 'heif' ? 'avif' : meta.format,
    metadata: {
      exif: meta.exif,
      icc: meta.icc,
      xmp: meta.xmp,
      iptc: meta.iptc,
      space: meta.space ?? 'srgb',
      grayscale,
      orientation: meta.orientation ?? 1,
      pages: meta.pages ?? 1,
      density: meta.density,
    },
  };
}

/** A small sRGB JPEG for the UI, orientation applied; JPEG and WebP are shrunk while decoding. */
export async function makePreview(input: string | Buffer, maxSide: number): Promise<Preview> {
  if (!Number.isInteger(maxSide) || maxSide < 1) throw new RangeError(`maxSide must be a positive integer`);
  const { buffer, meta, what, limit } = await openSource(input, undefined);
  const { data, info } = await sharp(buffer, { limitInputPixels: limit })
    .autoOrient()
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .withIccProfile('srgb')
    .jpeg({ quality: 85 })
    .toBuffer({ resolveWithObject: true })
    .catch((err: unknown) => {
      throw decodeError(err, what);
    });
  return {
    jpeg: data,
    width: info.width,
    height: info.height,
    fullWidth: meta.autoOrient.width,
    fullHeight: meta.autoOrient.height,
    format: meta.format ?? 'unknown',
  };
}

async function openSource(input: string | Buffer, maxPixels = DEFAULT_MAX_PIXELS): Promise<Source> {
  const what = typeof input === 'string' ? `'${input}'` : 'The image data';
  if (typeof input === 'string' && RAW_EXTENSIONS.has(extensionOf(input))) {
    throw unsupportedRaw(what);
  }
  const buffer = typeof input === 'string' ? await readInputFile(input) : input;
  if (buffer.length === 0) {
    throw new PhotoError('empty', `${what} is empty (0 bytes): the copy or download probably failed.`);
  }
  const foreign = foreignFormat(buffer);
  if (foreign === 'RAW') throw unsupportedRaw(what);
  if (foreign) {
    throw new PhotoError(
      'unsupported',
      `${what} is a ${foreign} file, which Blurspace cannot open. Convert it to JPEG, PNG or TIFF first.`,
    );
  }
  const meta = await sharp(buffer)
    .metadata()
    .catch((err: unknown) => {
      throw decodeError(err, what);
    });
  if (meta.format === 'heif' && meta.compression !== 'av1') {
    throw new PhotoError(
      'unsupported',
      `${what} is a HEIC (HEVC) image, which this build cannot decode. Export it as JPEG or TIFF first.`,
    );
  }
  if (!['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif'].includes(meta.format)) {
    throw new PhotoError(
      'unsupported',
      `${what} is a ${meta.format.toUpperCase()} file, not a photo format Blurspace opens ` +
        '(JPEG, PNG, TIFF, WebP, AVIF, GIF). Convert it to one of those first.',
    );
  }
  if (meta.width * meta.height > maxPixels) throw tooLarge(what, meta.width, meta.height, maxPixels);
  return { buffer, meta, what, limit: maxPixels };
}

async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PhotoError('not-found', `'${path}' does not exist. Check the path and file name.`, {
        cause: err,
      });
    }
    if (code === 'EISDIR') {
      throw new PhotoError('not-an-image', `'${path}' is a folder, not an image file.`, { cause: err });
    }
    throw new PhotoError('not-found', `'${path}' cannot be read (${code}). Check its permissions.`, {
      cause: err,
    });
  }
}

/** Image formats sharp cannot decode here, told apart from garbage so the message can say what to do. */
function foreignFormat(b: Buffer): string | undefined {
  const ascii = (from: number, to: number): string => b.toString('latin1', from, to);
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(0, 4) === '8BPS') return 'Photoshop (PSD)';
  if (ascii(4, 8) === 'jP  ' || b.subarray(0, 4).equals(Buffer.from([0xff, 0x4f, 0xff, 0x51]))) {
    return 'JPEG 2000';
  }
  if (ascii(0, 2) === '\xff\x0a' || ascii(4, 8) === 'JXL ') return 'JPEG XL';
  if (ascii(4, 12) === 'ftypcrx ' || ascii(0, 15) === 'FUJIFILMCCD-RAW') return 'RAW';
  if (['IIRO', 'IIRS', 'MMOR', 'IIU\0'].includes(ascii(0, 4))) return 'RAW';
  if (ascii(0, 4) === 'II*\0' && ascii(8, 10) === 'CR') return 'RAW';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') {
    // DNG and most TIFF-based RAW files put a small preview or the undeveloped sensor data first.
    const tags = ifd0Tags(b);
    if (tags.has(DNG_VERSION) || ((tags.get(NEW_SUBFILE_TYPE) ?? 0) & 1) === 1) return 'RAW';
  }
  return undefined;
}

/** IFD0 tags of a TIFF file with their first value (SHORT or LONG only; enough for the checks above). */
function ifd0Tags(b: Buffer): Map<number, number> {
  const tags = new Map<number, number>();
  const le = b[0] === 0x49;
  const u16 = (at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (b.length < 8) return tags;
  const ifd = u32(4);
  if (ifd + 2 > b.length) return tags;
  for (let i = 0, count = u16(ifd); i < count && ifd + 14 + i * 12 <= b.length; i++) {
    const entry = ifd + 2 + i * 12;
    const type = u16(entry + 2);
    tags.set(u16(entry), type === 3 ? u16(entry + 8) : u32(entry + 8));
  }
  return tags;
}

function unsupportedRaw(what: string): PhotoError {
  return new PhotoError(
    'unsupported',
    `${what} is a camera RAW file, which Blurspace cannot develop. ` +
      'Export it from your RAW converter as a 16-bit TIFF (or PNG) and open that.',
  );
}

function tooLarge(what: string, width: number, height: number, limit: number): PhotoError {
  const mp = (n: number): string => `${(n / 1e6).toFixed(1)} MP`;
  return new PhotoError(
    'too-large',
    `${what} is ${width}x${height} (${mp(width * height)}), above the ${mp(limit)} limit ` +
      'that protects against decompression bombs. Downscale it first, or raise maxPixels if it is genuine.',
  );
}

function decodeError(err: unknown, what: string): PhotoError {
  const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (/pixel limit/i.test(detail)) {
    return new PhotoError('too-large', `${what} exceeds the pixel limit (${detail}). Downscale it first.`, {
      cause: err,
    });
  }
  if (/unsupported image format/i.test(detail)) {
    return new PhotoError(
      'not-an-image',
      `${what} is not an image file (its content matches no known image format). Check that you picked the right file.`,
      { cause: err },
    );
  }
  return new PhotoError(
    'corrupt',
    `${what} is damaged or truncated and cannot be decoded (${detail}). Copy or export the original again.`,
    { cause: err },
  );
}

function ushortView(data: Buffer): Uint16Array {
  const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}
