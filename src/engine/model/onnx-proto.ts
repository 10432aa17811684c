// A minimal writer of ONNX models (the protobuf messages ModelProto, GraphProto, NodeProto, TensorProto, ...),
// enough for model/maxim-onnx.ts. Field numbers are those of onnx.proto (ONNX IR version 8). Messages are
// written as lists of chunks so the weights (tens of MB) are copied once, at the end.

/** ONNX element types (TensorProto.DataType). */
export const OnnxType = { float: 1, bool: 9, int32: 6, int64: 7 } as const;
export type OnnxTypeName = keyof typeof OnnxType;

/** A tensor stored in the model (an initializer). */
export interface OnnxTensor {
  name: string;
  type: OnnxTypeName;
  dims: number[];
  /** Raw little-endian bytes of the elements, in row-major order. */
  data: Uint8Array;
}

export type OnnxAttribute = number | number[] | string | { floatValue: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Record<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  type: OnnxTypeName;
  dims: number[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

class ProtoWriter {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (!this.scratch.length) return;
    this.push(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    // int64 fields: negative numbers take ten bytes (two's complement), as protobuf writes them.
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      this.scratch.push(v ? byte | 0x80 : byte);
    } while (v);
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.scratch.push(...bytes);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(value.length);
    this.flush();
    this.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  packedInts(field: number, values: number[]): void {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    inner.flush();
    this.nested(field, inner);
  }

  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    inner.flush();
    this.nested(field, inner);
  }

  private nested(field: number, inner: ProtoWriter): void {
    this.tag(field, WIRE_BYTES);
    this.varint(inner.length);
    this.flush();
    for (const chunk of inner.chunks) this.push(chunk);
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

function writeTensor(w: ProtoWriter, tensor: OnnxTensor): void {
  w.packedInts(1, tensor.dims);
  w.int(2, OnnxType[tensor.type]);
  w.string(8, tensor.name);
  w.bytes(9, tensor.data);
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function writeAttribute(w: ProtoWriter, name: string, value: OnnxAttribute): void {
  w.string(1, name);
  if (typeof value === 'number') {
    w.int(20, ATTR_INT);
    w.int(3, value);
  } else if (typeof value === 'string') {
    w.int(20, ATTR_STRING);
    w.string(4, value);
  } else if (Array.isArray(value)) {
    w.int(20, ATTR_INTS);
    w.packedInts(8, value);
  } else {
    w.int(20, ATTR_FLOAT);
    w.float(2, value.floatValue);
  }
}

function writeValueInfo(w: ProtoWriter, info: OnnxValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, OnnxType[info.type]);
      tensor.message(2, (shape) => {
        for (const d of info.dims) shape.message(1, (dim) => dim.int(1, d));
      });
    }),
  );
}

/** The serialized ModelProto of `graph` with the default ONNX domain at `opset`. */
export function encodeOnnxModel(graph: OnnxGraph, opset: number, producer: string): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8); // IR version 8 (ONNX 1.10+); onnxruntime reads 3 to 10+
  w.string(2, producer);
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, opset);
  });
  w.message(7, (g) => {
    for (const node of graph.nodes) {
      g.message(1, (n) => {
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        if (node.name) n.string(3, node.name);
        n.string(4, node.op);
        for (const [name, value] of Object.entries(node.attributes ?? {})) {
          n.message(5, (a) => writeAttribute(a, name, value));
        }
      });
    }
    g.string(2, graph.name);
    for (const tensor of graph.initializers) g.message(5, (t) => writeTensor(t, tensor));
    for (const input of graph.inputs) g.message(11, (v) => writeValueInfo(v, input));
    for (const output of graph.outputs) g.message(12, (v) => writeValueInfo(v, output));
  });
  return w.finish();
}

/** A protobuf message's fields in order: varints as bigint, length-delimited fields as views (no copy). */
function* protoFields(bytes: Uint8Array): Generator<[field: number, value: bigint | Uint8Array | number]> {
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at < bytes.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === WIRE_VARINT) yield [field, varint()];
    else if (wire === WIRE_BYTES) {
      const length = Number(varint());
      yield [field, bytes.subarray(at, at + length)];
      at += length;
    } else if (wire === WIRE_FIXED32) {
      yield [field, view.getFloat32(at, true)];
      at += 4;
    } else if (wire === 1) {
      yield [field, view.getFloat64(at, true)];
      at += 8;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const text = (value: unknown): string => new TextDecoder().decode(value as Uint8Array);
const TYPE_NAMES = Object.fromEntries(Object.entries(OnnxType).map(([k, v]) => [v, k])) as Record<
  number,
  OnnxTypeName
>;

/** The int64s of a repeated field's one occurrence: a single varint, or packed varints. */
function int64s(value: bigint | Uint8Array | number): number[] {
  if (typeof value === 'bigint') return [Number(BigInt.asIntN(64, value))];
  if (typeof value === 'number') return [value];
  const out: number[] = [];
  let v = 0n;
  let shift = 0n;
  for (const byte of value) {
    v |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (!(byte & 0x80)) {
      out.push(Number(BigInt.asIntN(64, v)));
      v = 0n;
      shift = 0n;
    }
  }
  return out;
}

function readAttribute(bytes: Uint8Array): [string, OnnxAttribute] {
  let name = '';
  let type = 0;
  let f = 0;
  let i = 0;
  let s = '';
  const ints: number[] = [];
  for (const [field, value] of protoFields(bytes)) {
    if (field === 1) name = text(value);
    else if (field === 2) f = value as number;
    else if (field === 3) i = Number(BigInt.asIntN(64, value as bigint));
    else if (field === 4) s = text(value);
    else if (field === 8) ints.push(...int64s(value));
    else if (field === 20) type = Number(value);
  }
  const values: Record<number, OnnxAttribute> = {
    [ATTR_FLOAT]: { floatValue: f },
    [ATTR_INT]: i,
    [ATTR_STRING]: s,
    [ATTR_INTS]: ints,
  };
  if (!(type in values)) throw new Error(`attribute ${name}: type ${type} unsupported`);
  return [name, values[type]!];
}

function readTensor(bytes: Uint8Array): OnnxTensor {
  const tensor: OnnxTensor = { name: '', type: 'float', dims: [], data: new Uint8Array(0) };
  for (const [field, value] of protoFields(bytes)) {
    if (field === 1) tensor.dims.push(...int64s(value));
    else if (field === 2) tensor.type = TYPE_NAMES[Number(value)] ?? tensor.type;
    else if (field === 8) tensor.name = text(value);
    else if (field === 9) tensor.data = value as Uint8Array;
  }
  return tensor;
}

function readValueInfo(bytes: Uint8Array): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', type: 'float', dims: [] };
  for (const [field, value] of protoFields(bytes)) {
    if (field === 1) info.name = text(value);
    if (field !== 2) continue;
    for (const [f1, tensor] of protoFields(value as Uint8Array)) {
      if (f1 !== 1) continue;
      for (const [f2, part] of protoFields(tensor as Uint8Array)) {
        if (f2 === 1) info.type = TYPE_NAMES[Number(part)] ?? info.type;
        if (f2 !== 2) continue;
        for (const [f3, dim] of protoFields(part as Uint8Array)) {
          if (f3 !== 1) continue;
          for (const [f4, size] of protoFields(dim as Uint8Array)) if (f4 === 1) info.dims.push(Number(size));
        }
      }
    }
  }
  return info;
}

/**
 * The graph of a serialized ModelProto, as far as encodeOnnxModel writes one (initializers keep their raw
 * bytes as views into `bytes`): for reading a model back, e.g. to count its arithmetic (onnx-flops.ts).
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxGraph {
  const graph: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [] };
  for (const [field, value] of protoFields(bytes)) {
    if (field !== 7) continue;
    for (const [g, part] of protoFields(value as Uint8Array)) {
      const body = part as Uint8Array;
      if (g === 2) graph.name = text(body);
      else if (g === 5) graph.initializers.push(readTensor(body));
      else if (g === 11) graph.inputs.push(readValueInfo(body));
      else if (g === 12) graph.outputs.push(readValueInfo(body));
      else if (g === 1) {
        const node: OnnxNode = { op: '', inputs: [], outputs: [], attributes: {} };
        for (const [n, item] of protoFields(body)) {
          if (n === 1) node.inputs.push(text(item));
          else if (n === 2) node.outputs.push(text(item));
          else if (n === 3) node.name = text(item);
          else if (n === 4) node.op = text(item);
          else if (n === 5) {
            const [name, attribute] = readAttribute(item as Uint8Array);
            node.attributes![name] = attribute;
          }
        }
        graph.nodes.push(node);
      }
    }
  }
  return graph;
}
