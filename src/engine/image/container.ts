// Byte-level metadata helpers. sharp can only write EXIF from key/value strings, so writePhoto lets sharp
// lay out a placeholder EXIF block and then swaps in the original bytes here.
import { crc32 } from 'node:zlib';

const EXIF_PREFIX = Buffer.from('Exif\0\0', 'latin1');
const ORIENTATION_TAG = 0x0112;
const SHORT = 3;

/** The TIFF structure inside an EXIF blob, without the 'Exif\0\0' prefix JPEG and WebP put before it. */
export function exifBody(exif: Buffer): Buffer {
  return exif.subarray(0, 6).equals(EXIF_PREFIX) ? exif.subarray(6) : exif;
}

/** A copy of a TIFF-structured EXIF body with IFD0's Orientation set to 1 (unchanged if malformed). */
export function resetExifOrientation(body: Buffer): Buffer {
  const out = Buffer.from(body);
  if (out.length < 8) return out;
  const order = out.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return out;
  const le = order === 'II';
  const u16 = (at: number): number => (le ? out.readUInt16LE(at) : out.readUInt16BE(at));
  const ifd0 = le ? out.readUInt32LE(4) : out.readUInt32BE(4);
  if (ifd0 + 2 > out.length) return out;
  const count = u16(ifd0);
  for (let i = 0; i < count; i++) {
    const entry = ifd0 + 2 + i * 12;
    if (entry + 12 > out.length) break;
    if (u16(entry) === ORIENTATION_TAG && u16(entry + 2) === SHORT) {
      if (le) out.writeUInt16LE(1, entry + 8);
      else out.writeUInt16BE(1, entry + 8);
    }
  }
  return out;
}

export function resetXmpOrientation(xmp: string): string {
  return xmp
    .replace(/(tiff:Orientation\s*=\s*["'])\d(["'])/g, '$11$2')
    .replace(/(<tiff:Orientation>)\s*\d\s*(<\/tiff:Orientation>)/g, '$11$2');
}

/** The data colour space in an ICC profile's header: 'RGB', 'GRAY', 'CMYK', ... */
export function iccColourSpace(icc: Buffer): string {
  return icc.length >= 20 ? icc.toString('latin1', 16, 20).trim() : '';
}

/** Largest EXIF body that fits in one JPEG APP1 segment. */
export const JPEG_MAX_EXIF = 0xffff - 2 - EXIF_PREFIX.length;

/** Replace the payload of the EXIF block sharp wrote into an encoded JPEG, PNG or WebP file. */
export function replaceExif(file: Buffer, format: 'jpeg' | 'png' | 'webp', body: Buffer): Buffer {
  if (format === 'jpeg') return replaceJpegExif(file, body);
  if (format === 'png') return replacePngExif(file, body);
  return replaceWebpExif(file, body);
}

function replaceJpegExif(file: Buffer, body: Buffer): Buffer {
  let at = 2;
  while (at + 4 <= file.length && file[at] === 0xff) {
    const marker = file[at + 1];
    const length = file.readUInt16BE(at + 2);
    if (marker === 0xda) break;
    if (marker === 0xe1 && file.subarray(at + 4, at + 10).equals(EXIF_PREFIX)) {
      const header = Buffer.alloc(4);
      header.writeUInt16BE(0xffe1, 0);
      header.writeUInt16BE(2 + EXIF_PREFIX.length + body.length, 2);
      return Buffer.concat([file.subarray(0, at), header, EXIF_PREFIX, body, file.subarray(at + 2 + length)]);
    }
    at += 2 + length;
  }
  throw new Error('no EXIF segment in the encoded JPEG');
}

function replacePngExif(file: Buffer, body: Buffer): Buffer {
  let at = 8;
  while (at + 12 <= file.length) {
    const length = file.readUInt32BE(at);
    const type = file.toString('latin1', at + 4, at + 8);
    if (type === 'eXIf') {
      const head = Buffer.alloc(8);
      head.writeUInt32BE(body.length, 0);
      head.write('eXIf', 4, 'latin1');
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body, crc32(head.subarray(4))), 0);
      return Buffer.concat([file.subarray(0, at), head, body, crc, file.subarray(at + 12 + length)]);
    }
    if (type === 'IDAT') break;
    at += 12 + length;
  }
  throw new Error('no eXIf chunk in the encoded PNG');
}

function replaceWebpExif(file: Buffer, body: Buffer): Buffer {
  let at = 12;
  while (at + 8 <= file.length) {
    const size = file.readUInt32LE(at + 4);
    const padded = size + (size & 1);
    if (file.toString('latin1', at, at + 4) === 'EXIF') {
      // The WebP container spec wants the bare TIFF structure; libvips adds 'Exif\0\0' and exiftool warns.
      const head = Buffer.alloc(8);
      head.write('EXIF', 0, 'latin1');
      head.writeUInt32LE(body.length, 4);
      const pad = Buffer.alloc(body.length & 1);
      const out = Buffer.concat([file.subarray(0, at), head, body, pad, file.subarray(at + 8 + padded)]);
      out.writeUInt32LE(out.length - 8, 4);
      return out;
    }
    at += 8 + padded;
  }
  throw new Error('no EXIF chunk in the encoded WebP');
}
