import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  exifBody,
  iccColourSpace,
  JPEG_MAX_EXIF,
  replaceExif,
  resetExifOrientation,
  resetXmpOrientation,
} from './container';
import type { OutputFormat } from '../../common/formats';
import { PhotoError, type Photo } from './photo';
import { sharp } from './sharp';

export interface WriteOptions {
  format: OutputFormat;
  /** 16 only for PNG and TIFF; default 16 for those when the source was 16-bit, else 8. */
  bitDepth?: 8 | 16;
  /** JPEG/WebP quality 1-100 (default 92 / 90). */
  quality?: number;
  /** EXIF (orientation reset to 1), XMP, IPTC (JPEG only) and the original ICC profile. Default true. */
  keepMetadata?: boolean;
  /** Write one grey channel; default: when the source was grayscale. */
  grayscale?: boolean;
  tiffCompression?: 'lzw' | 'deflate';
}

/**
 * Encode a photo and write it atomically (temp file in the same folder, then rename).
 * Pixels are converted from sRGB back to the source's RGB profile when it had one.
 */
export async function writePhoto(path: string, photo: Photo, opts: WriteOptions): Promise<void> {
  const { format } = opts;
  const bitDepth =
    opts.bitDepth ?? (photo.sourceBitDepth === 16 && format !== 'jpeg' && format !== 'webp' ? 16 : 8);
  if (bitDepth === 16 && (format === 'jpeg' || format === 'webp')) {
    throw new RangeError(`${format} cannot hold 16 bits per channel: use png or tiff`);
  }
  const pixels = photo.width * photo.height;
  if (photo.data.length !== pixels * 3 || (photo.alpha && photo.alpha.length !== pixels)) {
    throw new RangeError(`photo buffers do not match ${photo.width}x${photo.height}`);
  }
  const keep = opts.keepMetadata ?? true;
  const meta = photo.metadata;
  const gray = opts.grayscale ?? meta.grayscale;
  const alpha = format === 'jpeg' ? undefined : photo.alpha;
  const channels = alpha ? 4 : 3;
  const raw = interleave(photo.data, alpha, channels, bitDepth);

  let pipeline = sharp(raw, { raw: { width: photo.width, height: photo.height, channels } });
  const icc = keep && !gray && meta.icc && iccColourSpace(meta.icc) === 'RGB' ? meta.icc : undefined;
  let iccDir: string | undefined;
  try {
    if (icc) {
      iccDir = await mkdtemp(join(tmpdir(), 'blurspace-icc-'));
      await writeFile(join(iccDir, 'source.icc'), icc);
      // sharp assumes untagged 16-bit pixels are Display P3; a float pipeline makes it read them as sRGB.
      if (bitDepth === 16) pipeline = pipeline.pipelineColourspace('scrgb');
      pipeline = pipeline.withIccProfile(join(iccDir, 'source.icc'));
    }
    pipeline = pipeline.toColourspace(
      gray ? (bitDepth === 16 ? 'grey16' : 'b-w') : bitDepth === 16 ? 'rgb16' : 'srgb',
    );

    const exif =
      keep && meta.exif && format !== 'tiff' ? resetExifOrientation(exifBody(meta.exif)) : undefined;
    const withExif = exif && (format !== 'jpeg' || exif.length <= JPEG_MAX_EXIF) ? exif : undefined;
    // sharp only writes EXIF from strings: let it place a stand-in block, then swap in the original bytes.
    if (withExif) pipeline = pipeline.withExif({ IFD0: { Software: 'Blurspace' } });
    if (keep && meta.xmp) pipeline = pipeline.withXmp(resetXmpOrientation(meta.xmp.toString('utf8')));
    if (keep && meta.density) pipeline = pipeline.withDensity(meta.density);

    let encoded: Buffer = await encode(pipeline, opts, format).toBuffer();
    if (withExif && format !== 'tiff') encoded = replaceExif(encoded, format, withExif);
    if (keep && meta.iptc && format === 'jpeg') encoded = insertJpegIptc(encoded, meta.iptc);
    await writeAtomically(path, encoded);
  } finally {
    if (iccDir) await rm(iccDir, { recursive: true, force: true });
  }
}

function encode(
  pipeline: ReturnType<typeof sharp>,
  opts: WriteOptions,
  format: OutputFormat,
): ReturnType<typeof sharp> {
  switch (format) {
    case 'jpeg': {
      const quality = opts.quality ?? 92;
      // Full-resolution chroma: deblurred detail is what the user is paying for.
      return pipeline.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' });
    }
    case 'png':
      return pipeline.png({ compressionLevel: 6 });
    case 'webp':
      return pipeline.webp({ quality: opts.quality ?? 90 });
    case 'tiff':
      // Never the default JPEG compression: it silently writes 8 bits.
      return pipeline.tiff({ compression: opts.tiffCompression ?? 'lzw', predictor: 'horizontal' });
  }
}

function interleave(
  rgb: Float32Array,
  alpha: Float32Array | undefined,
  channels: number,
  bitDepth: 8 | 16,
): Uint8Array | Uint16Array {
  const pixels = rgb.length / 3;
  const max = bitDepth === 16 ? 65535 : 255;
  const out = bitDepth === 16 ? new Uint16Array(pixels * channels) : new Uint8Array(pixels * channels);
  // Typed-array assignment truncates, so add 0.5 after clamping; NaN ends up 0.
  const q = (v: number): number => (v > 0 ? (v < 1 ? v * max + 0.5 : max) : 0);
  for (let p = 0, s = 0, d = 0; p < pixels; p++) {
    out[d++] = q(rgb[s++]);
    out[d++] = q(rgb[s++]);
    out[d++] = q(rgb[s++]);
    if (alpha) out[d++] = q(alpha[p]);
  }
  return out;
}

/** Put the source's IPTC (APP13 'Photoshop 3.0' payload as libvips keeps it) after the APP0/APP1 segments. */
function insertJpegIptc(jpeg: Buffer, iptc: Buffer): Buffer {
  if (iptc.length + 2 > 0xffff) return jpeg;
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff && (jpeg[at + 1] === 0xe0 || jpeg[at + 1] === 0xe1)) {
    at += 2 + jpeg.readUInt16BE(at + 2);
  }
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xffed, 0);
  head.writeUInt16BE(iptc.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, at), head, iptc, jpeg.subarray(at)]);
}

async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'wx');
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PhotoError(
      'write-failed',
      `Cannot write '${path}' (${code}). Check that the folder exists, is writable and has free space.`,
      { cause: err },
    );
  }
}
