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
