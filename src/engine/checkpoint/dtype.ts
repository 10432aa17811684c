import { corrupt } from './errors';

/** Element types, named as in safetensors. */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export type FloatDtype = 'F64' | 'F32' | 'F16' | 'BF16';

export const DTYPE_SIZES: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_SIZES, value);
}

export function isFloatDtype(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = step;
    step *= shape[d];
  }
  return strides;
}

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const bf16Scratch = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Scratch.buffer);

function bfloat16ToFloat(bits: number): number {
  bf16Bits[0] = bits << 16;
  return bf16Scratch[0];
}

/** 4 GiB of float32: far beyond any layer of the networks Blurspace runs. */
const MAX_ELEMENTS = 2 ** 30;

type Reader = (view: DataView, byteOffset: number, littleEndian: boolean) => number;

const READERS: Record<FloatDtype, Reader> = {
  F64: (v, o, le) => v.getFloat64(o, le),
  F32: (v, o, le) => v.getFloat32(o, le),
  F16: (v, o, le) => halfToFloat(v.getUint16(o, le)),
  BF16: (v, o, le) => bfloat16ToFloat(v.getUint16(o, le)),
};

export interface StridedView {
  dtype: FloatDtype;
  shape: readonly number[];
  strides: readonly number[];
  /** In elements, like PyTorch's storage_offset. */
  offset: number;
  littleEndian: boolean;
}

/**
 * Converts a (possibly strided) view of `bytes` into a contiguous float32 array.
 * Contiguous, aligned little-endian float32 data is returned as a view on `bytes` without copying;
 * this assumes a little-endian host (x86-64, arm64), which every platform Blurspace ships on is.
 */
export function toFloat32(bytes: Uint8Array, view: StridedView, name: string): Float32Array {
  const { dtype, shape, strides, offset, littleEndian } = view;
  const size = DTYPE_SIZES[dtype];
  const count = numel(shape);
  if (count === 0) return new Float32Array(0);
  if (count > MAX_ELEMENTS) throw corrupt(`tensor ${name} is impossibly large`);
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * strides[d];
  if (offset < 0 || strides.some((s) => s < 0) || (last + 1) * size > bytes.byteLength) {
    throw corrupt(`tensor ${name} points outside its stored data`);
  }

  const expected = contiguousStrides(shape);
  const contiguous = shape.every((dim, d) => dim === 1 || strides[d] === expected[d]);
  if (contiguous && dtype === 'F32' && littleEndian) {
    const start = bytes.byteOffset + offset * 4;
    if (start % 4 === 0) return new Float32Array(bytes.buffer, start, count);
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(offset * 4, (offset + count) * 4));
    return out;
  }

  const read = READERS[dtype];
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  let source = offset;
  for (let i = 0; i < count; i++) {
    out[i] = read(data, source * size, littleEndian);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++;
      source += strides[d];
      if (index[d] < shape[d]) break;
      source -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}
