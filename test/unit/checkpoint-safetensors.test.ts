import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { parseSafetensors, readSafetensors, writeSafetensors } from '../../src/engine/checkpoint/safetensors';
import type { NamedTensor } from '../../src/engine/checkpoint/types';
import { expectMatchesFixture, fixture } from './checkpoint-fixtures';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blurspace-safetensors-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tensor(shape: number[], values?: number[]): NamedTensor {
  const count = shape.reduce((n, d) => n * d, 1);
  return {
    shape,
    data: Float32Array.from(values ?? Array.from({ length: count }, (_, i) => Math.sin(i) * 1e3)),
  };
}

/** Builds a safetensors file from a raw header object and data bytes. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

function parseError(buffer: Buffer): CheckpointError {
  try {
    parseSafetensors(buffer);
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('writeSafetensors / readSafetensors', () => {
  it('round-trips names, order, shapes, exact values and metadata', async () => {
    const tensors = new Map<string, NamedTensor>([
      ['g.conv1.weight', tensor([8, 3, 3, 3])],
      ['g.conv1.bias', tensor([8], [0, -0, 1e-45, -3.4028234663852886e38, Infinity, -Infinity, 0.1, NaN])],
      ['scalar', tensor([], [42])],
      ['empty', tensor([0, 4], [])],
      ['odd', tensor([3])],
      ['名前.ünïcode', tensor([1, 2])],
    ]);
    const metadata = { format: 'x', note: 'héllo "quoted"' };
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, tensors, metadata);

    const read = await readSafetensors(path);
    expect(read.metadata).toEqual(metadata);
    expect([...read.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, { shape, data }] of tensors) {
      expect(read.tensors.get(name)!.shape).toEqual(shape);
      expect(Array.from(read.tensors.get(name)!.data)).toEqual(Array.from(data));
    }
    const bytes = readFileSync(path);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('writes tensors that are views into a larger buffer', async () => {
    const backing = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const path = join(dir, 'view.safetensors');
    await writeSafetensors(path, new Map([['v', { shape: [2], data: backing.subarray(3, 5) }]]));
    expect(Array.from((await readSafetensors(path)).tensors.get('v')!.data)).toEqual([4, 5]);
  });

  it('replaces an existing file atomically and leaves it untouched when the write is rejected', async () => {
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, new Map([['a', tensor([2])]]));
    await writeSafetensors(path, new Map([['b', tensor([3])]]));
    expect([...(await readSafetensors(path)).tensors.keys()]).toEqual(['b']);

    const before = readFileSync(path);
    await expect(
      writeSafetensors(path, new Map([['bad', { shape: [4], data: new Float32Array(3) }]])),
    ).rejects.toThrow('Tensor bad: shape [4] does not match its 3 values');
    await expect(writeSafetensors(path, new Map([['__metadata__', tensor([1])]]))).rejects.toThrow(
      'Invalid tensor name',
    );
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('reads F16, BF16 and F64 written by another implementation as float32', async () => {
    const read = await readSafetensors(fixture('foreign.safetensors'));
    expect(read.metadata).toEqual({ source: 'fixture' });
    expectMatchesFixture(read.tensors, 'foreign');
  });
});

describe('parseSafetensors validation', () => {
  const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

  it('accepts a minimal valid file and skips integer tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      i: { dtype: 'I64', shape: [1], data_offsets: [8, 16] },
    };
    const { tensors } = parseSafetensors(
      build(header, new Uint8Array([...f32([1, 2]), ...new Uint8Array(8)])),
    );
    expect([...tensors.keys()]).toEqual(['a']);
    expect(Array.from(tensors.get('a')!.data)).toEqual([1, 2]);
  });

  it('reports a header length beyond the file as truncated', () => {
    const buffer = build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32([1]));
    buffer.writeBigUInt64LE(10_000n);
    const error = parseError(buffer);
    expect(error.reason).toBe('truncated');
    expect(error.message).toMatch(/^The file is incomplete \(its header claims 10000 bytes/);
  });

  it('reports data offsets past the end of the file as truncated', () => {
    const error = parseError(build({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32([1, 2])));
    expect(error.reason).toBe('truncated');
    expect(error.message).toContain('tensor a needs 16 bytes of data but the file holds only 8');
  });

  it('rejects overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    const error = parseError(build(header, f32([1, 2, 3])));
    expect(error.reason).toBe('corrupt');
    expect(error.message).toContain('tensors a and b overlap');
  });

  it('rejects an unknown dtype', () => {
    const error = parseError(build({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, f32([1])));
    expect(error.reason).toBe('unsupported');
    expect(error.message).toContain('Tensor a has the unknown element type "F8_E4M3"');
  });

  it('rejects byte counts that do not match the shape', () => {
    const error = parseError(build({ a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 4] } }, f32([1])));
    expect(error.message).toContain('tensor a of shape [2, 2] should take 8 bytes, not 4');
  });

  it('rejects malformed headers, shapes, offsets and metadata', () => {
    const json = Buffer.from('{"a": {');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    expect(parseError(Buffer.concat([prefix, json])).message).toContain('its header is not valid JSON');
    expect(parseError(build([1, 2])).message).toContain('its header is not a JSON object');
    expect(parseError(build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } })).message).toContain(
      'tensor a has an invalid shape',
    );
    expect(parseError(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } })).message).toContain(
      'tensor a has invalid data_offsets',
    );
    expect(parseError(build({ __metadata__: { n: 1 } })).message).toContain(
      'its __metadata__ is not a map of strings',
    );
    expect(parseError(Buffer.from([1, 2, 3])).reason).toBe('truncated');
  });
});
