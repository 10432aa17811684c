import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { contiguousStrides, DTYPE_SIZES, isDtype, isFloatDtype, numel, toFloat32, type Dtype } from './dtype';
import { CheckpointError, corrupt, truncated } from './errors';
import { readCheckpointBytes, withFileName } from './io';
import type { NamedTensor } from './types';

export interface SafetensorsContents {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

const METADATA_KEY = '__metadata__';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw corrupt('its __metadata__ is not a map of strings');
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, dataLength: number): HeaderEntry {
  if (!isRecord(value)) throw corrupt(`the header entry for ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDtype(dtype)) {
    throw new CheckpointError(
      'unsupported',
      `Tensor ${name} has the unknown element type ${JSON.stringify(dtype)}; this file was not made for Blurspace.`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw corrupt(`tensor ${name} has an invalid shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    throw corrupt(`tensor ${name} has invalid data_offsets`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw truncated(`tensor ${name} needs ${end} bytes of data but the file holds only ${dataLength}`);
  }
  const expected = numel(shape) * DTYPE_SIZES[dtype];
  if (end - begin !== expected) {
    throw corrupt(
      `tensor ${name} of shape [${shape.join(', ')}] should take ${expected} bytes, not ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/**
 * Parses a safetensors buffer. Float tensors (F32, F16, BF16, F64) are returned as float32;
 * integer and boolean tensors are validated but left out, since no network weight uses them.
 */
export function parseSafetensors(buffer: Buffer): SafetensorsContents {
  if (buffer.length < 8) throw truncated(`only ${buffer.length} bytes, too short for a safetensors header`);
  const headerLength = buffer.readBigUInt64LE(0);
  if (headerLength > BigInt(buffer.length - 8)) {
    throw truncated(`its header claims ${headerLength} bytes but the file holds only ${buffer.length - 8}`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(buffer.toString('utf8', 8, dataStart));
  } catch (error) {
    throw corrupt('its header is not valid JSON', { cause: error });
  }
  if (!isRecord(header)) throw corrupt('its header is not a JSON object');

  const data = buffer.subarray(dataStart);
  const entries = Object.entries(header)
    .filter(([name]) => name !== METADATA_KEY)
    .map(([name, value]) => parseEntry(name, value, data.length));
  const byStart = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byStart.length; i++) {
    if (byStart[i].begin < byStart[i - 1].end) {
      throw corrupt(`tensors ${byStart[i - 1].name} and ${byStart[i].name} overlap`);
    }
  }

  const tensors = new Map<string, NamedTensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    if (!isFloatDtype(dtype)) continue;
    const view = { dtype, shape, strides: contiguousStrides(shape), offset: 0, littleEndian: true };
    tensors.set(name, { shape, data: toFloat32(data.subarray(begin, end), view, name) });
  }
  return { tensors, metadata: parseMetadata(header[METADATA_KEY]) };
}

export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  const buffer = await readCheckpointBytes(path);
  return withFileName(path, () => parseSafetensors(buffer));
}

function encodeHeader(tensors: Map<string, NamedTensor>, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { [METADATA_KEY]: metadata };
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    if (name === METADATA_KEY || name === '') throw new Error(`Invalid tensor name ${JSON.stringify(name)}`);
    if (!shape.every(isIndex) || numel(shape) !== data.length) {
      throw new Error(`Tensor ${name}: shape [${shape.join(', ')}] does not match its ${data.length} values`);
    }
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new Error(`Metadata ${key} must be a string`);
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad with spaces so the tensor data starts 8-byte aligned, as the reference implementation does.
  const padded = Buffer.alloc(json.length + (-json.length & 7), ' ');
  json.copy(padded);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  return Buffer.concat([prefix, padded]);
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += (await file.write(bytes, written, bytes.byteLength - written)).bytesWritten;
  }
}

/**
 * Writes float32 tensors as a safetensors file. Atomic: the data goes to a temporary file in the
 * same folder, is flushed to disk, then renamed over `path`, so a crash never leaves a partial file.
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const header = encodeHeader(tensors, metadata);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const file = await open(temp, 'wx');
  try {
    try {
      await writeAll(file, header);
      for (const { data } of tensors.values()) {
        await writeAll(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
