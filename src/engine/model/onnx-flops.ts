// The arithmetic of an ONNX model for its declared input sizes: every node's output shape is worked out in
// graph order, and each node is costed. Convolutions and matrix products count 2 FLOPs a multiply-add; an
// elementwise op 1 FLOP an output element (a transcendental too); LayerNormalization and tanh-GELU count the
// operations of their expansions (8 an element each); a reduction 1 an input element; moving data (Transpose,
// Reshape, Slice, Concat, Gather, ...) costs none. For the learned mode's network (model/maxim-onnx.ts):
// seconds per megapixel against the machine's dense peak (decision 0020, amendment "speed bound").
import { decodeOnnxModel, type OnnxAttribute, type OnnxGraph, type OnnxNode } from './onnx-proto';

export interface OnnxFlops {
  /** All FLOPs of one run. */
  total: number;
  /** Of which in Conv, ConvTranspose, MatMul and Gemm (dense products). */
  dense: number;
  /** FLOPs and node count by operator. */
  byOp: Record<string, { nodes: number; flops: number }>;
}

const size = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);

/** NumPy-style broadcasting of `shapes`. */
function broadcast(shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)));
}

/** FLOPs per output element of the elementwise operators (data movement is absent: 0). */
const PER_ELEMENT: Record<string, number> = {
  Add: 1,
  Sub: 1,
  Mul: 1,
  Div: 1,
  Max: 1,
  Min: 1,
  Pow: 1,
  Where: 1,
  GreaterOrEqual: 1,
  Greater: 1,
  Less: 1,
  Equal: 1,
  Reciprocal: 1,
  Neg: 1,
  Exp: 1,
  Tanh: 1,
  Sqrt: 1,
  Sigmoid: 1,
  Relu: 1,
  LeakyRelu: 1,
  Clip: 1,
  Erf: 1,
  // x³ (2), · 0.044715, + x, · √(2/π), tanh, + 1, · x/2 (2 with the halving)
  Gelu: 8,
  // mean (1), x − mean, its square, their mean (1), · 1/σ, · γ, + β (σ per row: negligible)
  LayerNormalization: 8,
};

const MOVES_DATA = new Set([
  'Transpose',
  'Reshape',
  'Identity',
  'Slice',
  'Squeeze',
  'Unsqueeze',
  'Concat',
  'Gather',
  'Expand',
  'Flatten',
  'Cast',
]);

/** The FLOPs of one run of a serialized ONNX model (or its decoded graph), for its declared input shapes. */
export function onnxFlops(model: Uint8Array | OnnxGraph): OnnxFlops {
  const graph = model instanceof Uint8Array ? decodeOnnxModel(model) : model;
  const shapes = new Map<string, number[]>();
  const ints = new Map<string, number[]>();
  for (const input of graph.inputs) shapes.set(input.name, input.dims);
  for (const t of graph.initializers) {
    shapes.set(t.name, t.dims);
    if (t.type === 'int64' && t.data.length <= 8 * 64) {
      const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      ints.set(
        t.name,
        Array.from({ length: t.data.length / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true))),
      );
    }
  }
  const result: OnnxFlops = { total: 0, dense: 0, byOp: {} };
  for (const node of graph.nodes) {
    const inShapes = node.inputs.map((name) => {
      const shape = shapes.get(name);
      if (!shape && name) throw new Error(`${node.op} ${node.name ?? ''}: no shape for its input ${name}`);
      return shape ?? [];
    });
    const [shape, flops] = costNode(node, inShapes, (i) => {
      const values = ints.get(node.inputs[i] ?? '');
      if (!values) throw new Error(`${node.op} ${node.name ?? ''}: input ${i} is not a constant`);
      return values;
    });
    shapes.set(node.outputs[0]!, shape);
    const entry = (result.byOp[node.op] ??= { nodes: 0, flops: 0 });
    entry.nodes++;
    entry.flops += flops;
    result.total += flops;
    if (['Conv', 'ConvTranspose', 'MatMul', 'Gemm'].includes(node.op)) result.dense += flops;
  }
  return result;
}

/** A node's output shape and FLOPs. */
function costNode(
  node: OnnxNode,
  inputs: number[][],
  constant: (input: number) => number[],
): [number[], number] {
  const attr = (key: string): OnnxAttribute | undefined => node.attributes?.[key];
  const x = inputs[0]!;
  const axis = (a: number, rank = x.length): number => (a < 0 ? a + rank : a);
  switch (node.op) {
    case 'Conv':
    case 'ConvTranspose': {
      const w = inputs[1]!; // Conv: [out, in/group, kh, kw]; ConvTranspose: [in, out/group, kh, kw]
      const group = (attr('group') as number | undefined) ?? 1;
      const kernel = w.slice(2);
      const strides = (attr('strides') as number[] | undefined) ?? kernel.map(() => 1);
      const dilations = (attr('dilations') as number[] | undefined) ?? kernel.map(() => 1);
      const pads = (attr('pads') as number[] | undefined) ?? kernel.flatMap(() => [0, 0]);
      const autoPad = (attr('auto_pad') as string | undefined) ?? 'NOTSET';
      let out: number[];
      if (node.op === 'Conv') {
        out = kernel.map((k, i) => {
          const n = x[i + 2]!;
          if (autoPad.startsWith('SAME')) return Math.ceil(n / strides[i]!);
          const reach = (k - 1) * dilations[i]! + 1;
          const padded = n + (autoPad === 'VALID' ? 0 : pads[i]! + pads[i + kernel.length]!);
          return Math.floor((padded - reach) / strides[i]!) + 1;
        });
        const shape = [x[0]!, w[0]!, ...out];
        const macs = size(shape) * w[1]! * size(kernel);
        return [shape, 2 * macs + (inputs[2] ? size(shape) : 0)];
      }
      if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
        throw new Error(`ConvTranspose: ${autoPad} unsupported`);
      out = kernel.map(
        (k, i) =>
          strides[i]! * (x[i + 2]! - 1) + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + kernel.length]!,
      );
      const shape = [x[0]!, w[1]! * group, ...out];
      // Each input element meets every weight of its group's output channels.
      const macs = size(x) * w[1]! * size(kernel);
      return [shape, 2 * macs + (inputs[2] ? size(shape) : 0)];
    }
    case 'MatMul': {
      const [a, b] = [
        x.length === 1 ? [1, ...x] : x,
        inputs[1]!.length === 1 ? [...inputs[1]!, 1] : inputs[1]!,
      ];
      const [m, k] = a.slice(-2) as [number, number];
      const n = b[b.length - 1]!;
      if (b[b.length - 2] !== k) throw new Error(`MatMul: ${a} times ${b}`);
      const batch = broadcast([a.slice(0, -2), b.slice(0, -2)]);
      const shape = [...batch, ...(x.length === 1 ? [] : [m]), ...(inputs[1]!.length === 1 ? [] : [n])];
      return [shape, 2 * size(batch) * m * k * n];
    }
    case 'Gemm': {
      const transA = attr('transA') ? 1 : 0;
      const transB = attr('transB') ? 1 : 0;
      const [m, k] = transA ? [x[1]!, x[0]!] : [x[0]!, x[1]!];
      const n = transB ? inputs[1]![0]! : inputs[1]![1]!;
      return [[m, n], 2 * m * k * n + (inputs[2] ? m * n : 0)];
    }
    case 'Transpose': {
      const perm = (attr('perm') as number[] | undefined) ?? x.map((_, i) => x.length - 1 - i);
      return [perm.map((p) => x[p]!), 0];
    }
    case 'Reshape': {
      const target = constant(1).map((d, i) => (d === 0 ? x[i]! : d));
      const known = target.reduce((n, d) => (d === -1 ? n : n * d), 1);
      return [target.map((d) => (d === -1 ? size(x) / known : d)), 0];
    }
    case 'Expand':
      return [broadcast([x, constant(1)]), 0];
    case 'Squeeze': {
      const axes = (inputs[1] ? constant(1) : x.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => axis(a));
      return [x.filter((_, i) => !axes.includes(i)), 0];
    }
    case 'Unsqueeze': {
      const shape = [...x];
      const rank = x.length + constant(1).length;
      for (const a of constant(1)
        .map((v) => axis(v, rank))
        .sort((p, q) => p - q))
        shape.splice(a, 0, 1);
      return [shape, 0];
    }
    case 'Concat': {
      const a = axis(attr('axis') as number);
      return [x.map((d, i) => (i === a ? inputs.reduce((n, s) => n + s[i]!, 0) : d)), 0];
    }
    case 'Gather': {
      const a = axis((attr('axis') as number | undefined) ?? 0);
      return [[...x.slice(0, a), ...inputs[1]!, ...x.slice(a + 1)], 0];
    }
    case 'Slice': {
      const [starts, ends] = [constant(1), constant(2)];
      const axes = inputs[3] ? constant(3).map((a) => axis(a)) : starts.map((_, i) => i);
      const steps = inputs[4] ? constant(4) : starts.map(() => 1);
      const shape = [...x];
      axes.forEach((a, i) => {
        const d = x[a]!;
        const step = steps[i]!;
        const clamp = (v: number, low: number, high: number): number =>
          Math.min(Math.max(v < 0 ? v + d : v, low), high);
        const start = step > 0 ? clamp(starts[i]!, 0, d) : clamp(starts[i]!, -1, d - 1);
        const end = step > 0 ? clamp(ends[i]!, 0, d) : clamp(ends[i]!, -1, d - 1);
        shape[a] = Math.max(0, Math.ceil((end - start) / step));
      });
      return [shape, 0];
    }
    case 'ReduceSum':
    case 'ReduceMean': {
      const keep = (attr('keepdims') as number | undefined) ?? 1;
      const axes = (inputs[1] ? constant(1) : x.map((_, i) => i)).map((a) => axis(a));
      const shape = x.flatMap((d, i) => (!axes.includes(i) ? [d] : keep ? [1] : []));
      return [shape, size(x)];
    }
    default: {
      const perElement = PER_ELEMENT[node.op];
      if (MOVES_DATA.has(node.op)) return [x, 0];
      if (perElement === undefined) throw new Error(`no FLOP count for ONNX ${node.op}`);
      // Unary ops and LayerNormalization keep their input's shape; the others broadcast (Clip's bounds too).
      const shape =
        node.op === 'LayerNormalization' ? x : broadcast(inputs.filter((s) => s.length || x.length === 0));
      return [shape, perElement * size(shape)];
    }
  }
}
