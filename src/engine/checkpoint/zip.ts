import { crc32, inflateRawSync } from 'node:zlib';
import { CheckpointError, corrupt, truncated } from './errors';

interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
export const ZIP_LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;

/** Bounds-checked little-endian reads: a read past the end means the archive is cut short. */
function u16(buffer: Buffer, offset: number): number {
  if (offset + 2 > buffer.length) throw truncated('the zip directory is cut short');
  return buffer.readUInt16LE(offset);
}

function u32(buffer: Buffer, offset: number): number {
  if (offset + 4 > buffer.length) throw truncated('the zip directory is cut short');
  return buffer.readUInt32LE(offset);
}

function u64(buffer: Buffer, offset: number): number {
  if (offset + 8 > buffer.length) throw truncated('the zip directory is cut short');
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('a zip size or offset is impossibly large');
  return Number(value);
}

function findEndOfCentralDirectory(buffer: Buffer): number {
  const stop = Math.max(0, buffer.length - EOCD_SIZE - MAX_COMMENT);
  for (let i = buffer.length - EOCD_SIZE; i >= stop; i--) {
    if (buffer.readUInt32LE(i) === EOCD_SIGNATURE) return i;
  }
  throw truncated('the zip directory at the end of the file is missing');
}

/** A read-only view of a zip archive held in memory (stored and deflated entries, zip64). */
export class ZipArchive {
  private readonly entries = new Map<string, ZipEntry>();

  constructor(private readonly buffer: Buffer) {
    const eocd = findEndOfCentralDirectory(buffer);
    let count = u16(buffer, eocd + 10);
    let directorySize = u32(buffer, eocd + 12);
    let directoryOffset = u32(buffer, eocd + 16);
    if (count === 0xffff || directorySize === U32_MAX || directoryOffset === U32_MAX) {
      const locator = eocd - 20;
      if (locator < 0 || u32(buffer, locator) !== ZIP64_LOCATOR_SIGNATURE) {
        throw corrupt('the zip64 directory locator is missing');
      }
      const record = u64(buffer, locator + 8);
      if (u32(buffer, record) !== ZIP64_EOCD_SIGNATURE)
        throw corrupt('the zip64 directory record is missing');
      count = u64(buffer, record + 32);
      directorySize = u64(buffer, record + 40);
      directoryOffset = u64(buffer, record + 48);
    }
    if (directoryOffset + directorySize > buffer.length) throw truncated('the zip directory is cut short');

    let position = directoryOffset;
    for (let i = 0; i < count; i++) {
      if (u32(buffer, position) !== CENTRAL_SIGNATURE) throw corrupt('the zip directory is malformed');
      const nameLength = u16(buffer, position + 28);
      const extraLength = u16(buffer, position + 30);
      const commentLength = u16(buffer, position + 32);
      const nameStart = position + 46;
      const extraStart = nameStart + nameLength;
      if (extraStart + extraLength > buffer.length) throw truncated('the zip directory is cut short');
      const entry: ZipEntry = {
        name: buffer.toString('utf8', nameStart, extraStart),
        flags: u16(buffer, position + 8),
        method: u16(buffer, position + 10),
        crc: u32(buffer, position + 16),
        compressedSize: u32(buffer, position + 20),
        size: u32(buffer, position + 24),
        localHeaderOffset: u32(buffer, position + 42),
      };
      this.applyZip64Extra(entry, extraStart, extraLength);
      this.entries.set(entry.name, entry);
      position = extraStart + extraLength + commentLength;
    }
  }

  /** Fields that overflow 32 bits are 0xffffffff in the header and stored, in order, in extra field 0x0001. */
  private applyZip64Extra(entry: ZipEntry, start: number, length: number): void {
    const end = start + length;
    for (let block = start; block + 4 <= end;) {
      const id = u16(this.buffer, block);
      const size = u16(this.buffer, block + 2);
      if (id === 0x0001) {
        let field = block + 4;
        for (const key of ['size', 'compressedSize', 'localHeaderOffset'] as const) {
          if (entry[key] !== U32_MAX) continue;
          if (field + 8 > block + 4 + size) throw corrupt(`the zip64 sizes of ${entry.name} are incomplete`);
          entry[key] = u64(this.buffer, field);
          field += 8;
        }
      }
      block += 4 + size;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Returns an entry's bytes (a view into the archive for stored entries) after checking its CRC. */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw corrupt(`the archive has no ${name}`);
    if (entry.flags & 1) throw new CheckpointError('unsupported', 'The file is an encrypted zip archive.');
    const local = entry.localHeaderOffset;
    if (local + 30 > this.buffer.length) throw truncated(`${name} is cut short`);
    if (u32(this.buffer, local) !== ZIP_LOCAL_SIGNATURE)
      throw corrupt(`the zip header of ${name} is malformed`);
    const start = local + 30 + u16(this.buffer, local + 26) + u16(this.buffer, local + 28);
    const end = start + entry.compressedSize;
    if (end > this.buffer.length) throw truncated(`${name} is cut short`);
    const raw = this.buffer.subarray(start, end);

    let data: Buffer;
    if (entry.method === 0) {
      data = raw;
    } else if (entry.method === 8) {
      try {
        data = inflateRawSync(raw);
      } catch (error) {
        throw corrupt(`${name} cannot be decompressed`, { cause: error });
      }
    } else {
      throw new CheckpointError('unsupported', `The zip archive uses compression method ${entry.method}.`);
    }
    if (data.length !== entry.size) throw corrupt(`${name} has the wrong size`);
    if (crc32(data) >>> 0 !== entry.crc) throw corrupt(`checksum mismatch in ${name}`);
    return data;
  }
}
