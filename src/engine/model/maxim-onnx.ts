// The learned mode's network (model/maxim.ts) as an ONNX model, for onnxruntime (model/maxim-runtime.ts),
// whose CPU kernels run it several times faster than tfjs's wasm backend (decision 0020, amendment).
//
// The TensorFlow graph came from jax2tf with symbolic sizes: a third of its nodes compute shapes, resize
// weights and gather indices from the input's size. For one input size those are constants: tfjs computes
// them once (cheap: no image work), and only the nodes that touch pixels (25 op types, all float) become
// ONNX nodes. The graph is NHWC; ONNX convolutions are NCHW, so each convolution gets a transpose on either
// side, most of which onnxruntime folds into its blocked convolutions' reorders. The einsums (Dense layers,
// the gating units' spatial mixing, the resizes) become matrix products that move no data where none must
// move: a shape pass (inferShapes) tells when a transpose only moves axes of size 1 (a reshape does it).
import * as tf from '@tensorflow/tfjs';
import type { MaximArtifacts } from './maxim';
import { encodeOnnxModel, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './onnx-proto';

/** The ONNX operator set the model is written for (20 for Gelu; onnxruntime 1.30 runs up to 23). */
const OPSET = 20;

/** The graph's input and the ONNX model's output (the network's result clipped to [0, 1]). */
export const ONNX_INPUT = 'xs_0';
export const ONNX_OUTPUT = 'restored';

interface TfAttr {
  s?: string;
  i?: string;
  b?: boolean;
  list?: { i?: string[] };
}

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

/** A value known when converting: a weight or a size-dependent constant. */
interface Constant {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

const refName = (input: string): string => input.replace(/^\^/, '').replace(/:0$/, '');

/** The graph's nodes, each after its inputs; control inputs (`^name`) only order TensorFlow's execution. */
function topologicalOrder(nodes: TfNode[]): TfNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const done = new Set<string>();
  const order: TfNode[] = [];
  for (const root of nodes) {
    if (done.has(root.name)) continue;
    done.add(root.name);
    const stack: Array<[TfNode, number]> = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const inputs = top[0].input ?? [];
      if (top[1] < inputs.length) {
        const next = refName(inputs[top[1]++]!);
        if (!done.has(next)) {
          done.add(next);
          stack.push([byName.get(next)!, 0]);
        }
      } else {
        stack.pop();
        order.push(top[0]);
      }
    }
  }
  return order;
}

function weightConstants(artifacts: MaximArtifacts): Map<string, Constant> {
  const out = new Map<string, Constant>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const size = spec.shape.reduce((n, d) => n * d, 1);
    if (spec.quantization || (spec.dtype !== 'float32' && spec.dtype !== 'int32')) {
      throw new Error(
        `weight ${spec.name}: ${spec.dtype} ${spec.quantization ? '(quantized) ' : ''}unsupported`,
      );
    }
    const bytes = artifacts.weightData.slice(offset, offset + size * 4);
    const values = spec.dtype === 'float32' ? new Float32Array(bytes) : new Int32Array(bytes);
    out.set(spec.name, { dtype: spec.dtype, shape: spec.shape, values });
    offset += size * 4;
  }
  return out;
}

/** `values` (row-major, `shape`) with its axes permuted: out axis i is in axis perm[i]. */
function transposeValues(values: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((n, d) => n * d, 1));
  const out = new Float32Array(values.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += index[i]! * strides[perm[i]!]!;
    out[o] = values[src]!;
    for (let i = perm.length - 1; i >= 0 && ++index[i]! === outShape[i]; i--) index[i] = 0;
  }
  return out;
}

const attrString = (node: TfNode, key: string): string =>
  Buffer.from(node.attr?.[key]?.s ?? '', 'base64').toString();
const attrInt = (node: TfNode, key: string): number => Number(node.attr?.[key]?.i ?? 0);
const attrInts = (node: TfNode, key: string): number[] => (node.attr?.[key]?.list?.i ?? []).map(Number);

const ELEMENTWISE: Record<string, string> = {
  AddV2: 'Add',
  Sub: 'Sub',
  Mul: 'Mul',
  RealDiv: 'Div',
  Maximum: 'Max',
  GreaterEqual: 'GreaterOrEqual',
  SelectV2: 'Where',
  Reciprocal: 'Reciprocal',
  Neg: 'Neg',
  Exp: 'Exp',
  Tanh: 'Tanh',
  Identity: 'Identity',
};

/**
 * The network as a serialized ONNX model for inputs of `width` x `height` (batch 1, RGB in [0, 1]), with
 * `model` (the same graph loaded in tfjs) computing the size-dependent constants.
 */
export function maximToOnnx(
  artifacts: MaximArtifacts,
  model: tf.GraphModel,
  width: number,
  height: number,
): Uint8Array {
  const nodes = (artifacts.json.modelTopology as { node: TfNode[] }).node;
  const order = topologicalOrder(nodes);
  const constants = weightConstants(artifacts);
  const byName = new Map(nodes.map((n) => [n.name, n]));

  // Nodes that depend on the pixels, not only on weights and the input's shape.
  const dynamic = new Set<string>();
  for (const node of order) {
    const inputs = (node.input ?? []).filter((i) => !i.startsWith('^')).map(refName);
    if (node.op === 'Placeholder' || (node.op !== 'Shape' && inputs.some((i) => dynamic.has(i)))) {
      dynamic.add(node.name);
    }
  }
  const folded = new Set<string>();
  for (const node of order) {
    if (!dynamic.has(node.name)) continue;
    for (const input of node.input ?? []) {
      const name = refName(input);
      if (!input.startsWith('^') && !dynamic.has(name) && byName.get(name)!.op !== 'Const') folded.add(name);
    }
  }
  foldConstants(model, [...folded], width, height, constants);

  const onnxNodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  let counter = 0;
  const fresh = (base: string): string => `${base}/onnx_${counter++}`;
  const emit = (
    op: string,
    inputs: string[],
    attributes?: Record<string, OnnxAttribute>,
    output?: string,
  ) => {
    const out = output ?? fresh(inputs[0] ?? op);
    onnxNodes.push({ op, inputs, outputs: [out], name: out, attributes });
    return out;
  };
  const initializer = (tensor: OnnxTensor): string => {
    if (!initializers.has(tensor.name)) initializers.set(tensor.name, tensor);
    return tensor.name;
  };
  const constant = (name: string): Constant => {
    const value = constants.get(name);
    if (!value) throw new Error(`the converter expected ${name} to be a constant`);
    return value;
  };
  const floatTensor = (name: string, dims: number[], values: Float32Array): string =>
    initializer({
      name,
      type: 'float',
      dims,
      data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
  const int64Tensor = (values: number[]): string => {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return initializer({
      name: fresh('int64'),
      type: 'int64',
      dims: [values.length],
      data: new Uint8Array(data.buffer),
    });
  };
  /** The ONNX value of a TensorFlow input: the node's output, or an initializer of its constant. */
  const value = (input: string): string => {
    const name = refName(input);
    if (dynamic.has(name)) return name;
    const c = constant(name);
    const bytes = new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength);
    return initializer({
      name,
      type: c.dtype === 'float32' ? 'float' : c.dtype === 'int32' ? 'int32' : 'bool',
      dims: c.shape,
      data: bytes,
    });
  };
  const ints = (input: string): number[] => Array.from(constant(refName(input)).values);
  const shapes = inferShapes(order, dynamic, constants, width, height);
  const shapeOf = (input: string): number[] => shapes.get(refName(input)) ?? constant(refName(input)).shape;

  // The transposes emitted so far, by output: a transpose of a transpose becomes one (or none).
  const transposes = new Map<string, { input: string; perm: number[]; shape: number[] }>();
  /** `x` (of `shape`) with its axes permuted (out axis i is axis perm[i]), moving data only if it must. */
  const transpose = (x: string, shape: number[], perm: number[], output?: string): string => {
    const inner = transposes.get(x);
    if (inner) [x, shape, perm] = [inner.input, inner.shape, perm.map((p) => inner.perm[p]!)];
    if (perm.every((p, i) => p === i)) return emit('Identity', [x], undefined, output);
    // When only axes of size 1 move, the elements keep their order: a reshape (free) does it.
    const moved = perm.filter((p) => shape[p] !== 1);
    if (moved.every((p, i) => i === 0 || p > moved[i - 1]!)) {
      return emit('Reshape', [x, int64Tensor(perm.map((p) => shape[p]!))], undefined, output);
    }
    const y = emit('Transpose', [x], { perm }, output);
    transposes.set(y, { input: x, perm, shape });
    return y;
  };

  const fusions = findFusions(byName, dynamic, constants);
  for (const node of order) {
    if (!dynamic.has(node.name)) continue;
    const inputs = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const out = node.name;
    const op = node.op;
    const fused = fusions.get(out);
    if (op === 'Placeholder') continue;
    if (fused?.kind === 'layerNorm') {
      const [x, gamma, beta] = fused.inputs as [string, string, string];
      const flat = (name: string): string =>
        floatTensor(`${name}/flat`, [constant(name).values.length], constant(name).values as Float32Array);
      emit(
        'LayerNormalization',
        [x, flat(gamma), flat(beta)],
        { axis: -1, epsilon: { floatValue: fused.value } },
        out,
      );
    } else if (fused?.kind === 'gelu') {
      emit('Gelu', [fused.inputs[0]!], { approximate: 'tanh' }, out);
    } else if (fused?.kind === 'leakyRelu') {
      emit('LeakyRelu', [fused.inputs[0]!], { alpha: { floatValue: fused.value } }, out);
    } else if (ELEMENTWISE[op]) {
      emit(ELEMENTWISE[op], inputs.map(value), undefined, out);
    } else if (op === 'Square') {
      const x = value(inputs[0]!);
      emit('Mul', [x, x], undefined, out);
    } else if (op === 'Rsqrt') {
      emit('Reciprocal', [emit('Sqrt', [value(inputs[0]!)])], undefined, out);
    } else if (op === 'Sum') {
      emit(
        'ReduceSum',
        [value(inputs[0]!), int64Tensor(ints(inputs[1]!))],
        { keepdims: node.attr?.keep_dims?.b ? 1 : 0 },
        out,
      );
    } else if (op === 'Reshape' || op === 'BroadcastTo') {
      emit(
        op === 'Reshape' ? 'Reshape' : 'Expand',
        [value(inputs[0]!), int64Tensor(ints(inputs[1]!))],
        undefined,
        out,
      );
    } else if (op === 'Transpose') {
      transpose(value(inputs[0]!), shapeOf(inputs[0]!), ints(inputs[1]!), out);
    } else if (op === 'ConcatV2') {
      const axis = ints(inputs[inputs.length - 1]!)[0]!;
      emit('Concat', inputs.slice(0, -1).map(value), { axis }, out);
    } else if (op === 'GatherV2') {
      if (attrInt(node, 'batch_dims')) throw new Error(`${node.name}: batch_dims unsupported`);
      emit('Gather', [value(inputs[0]!), value(inputs[1]!)], { axis: ints(inputs[2]!)[0]! }, out);
    } else if (op === 'StridedSlice') {
      stridedSlice(node, inputs, out);
    } else if (op === 'Conv2D') {
      conv(node, inputs, out);
    } else if (op === 'Conv2DBackpropInput') {
      convTranspose(node, inputs, out);
    } else if (op === 'Einsum') {
      einsum(node, inputs, out);
    } else {
      throw new Error(`the ONNX converter has no mapping for ${op} (${node.name})`);
    }
  }

  function stridedSlice(node: TfNode, inputs: string[], out: string): void {
    const [begin, end, strides] = [ints(inputs[1]!), ints(inputs[2]!), ints(inputs[3]!)];
    if (attrInt(node, 'ellipsis_mask') || attrInt(node, 'new_axis_mask')) {
      throw new Error(`${node.name}: ellipsis and new-axis masks unsupported`);
    }
    const beginMask = attrInt(node, 'begin_mask');
    const endMask = attrInt(node, 'end_mask');
    const shrink = attrInt(node, 'shrink_axis_mask');
    const axes = begin.map((_, i) => i);
    // Masked bounds run to the end in the step's direction (int64 limits, as ONNX Slice clamps them).
    const far = (step: number, atEnd: boolean): number => (step > 0 === atEnd ? 2 ** 62 : -(2 ** 62));
    const starts = axes.map((i) => (beginMask & (1 << i) ? far(strides[i]!, false) : begin[i]!));
    const ends = axes.map((i) =>
      shrink & (1 << i) ? begin[i]! + 1 || 2 ** 62 : endMask & (1 << i) ? far(strides[i]!, true) : end[i]!,
    );
    const squeezed = axes.filter((i) => shrink & (1 << i));
    const sliced = emit(
      'Slice',
      [value(inputs[0]!), int64Tensor(starts), int64Tensor(ends), int64Tensor(axes), int64Tensor(strides)],
      undefined,
      squeezed.length ? undefined : out,
    );
    if (squeezed.length) emit('Squeeze', [sliced, int64Tensor(squeezed)], undefined, out);
  }

  function spatial(node: TfNode, key: string): number[] {
    if (attrString(node, 'data_format') !== 'NHWC') throw new Error(`${node.name}: only NHWC is supported`);
    const v = attrInts(node, key);
    return v.length ? [v[1]!, v[2]!] : [1, 1];
  }

  function conv(node: TfNode, inputs: string[], out: string): void {
    const filter = constant(refName(inputs[1]!)); // HWIO
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    const weights = floatTensor(
      `${refName(inputs[1]!)}/oihw`,
      [cout, cin, kh, kw],
      transposeValues(filter.values as Float32Array, filter.shape, [3, 2, 0, 1]),
    );
    const padding = attrString(node, 'padding');
    if (padding !== 'SAME' && padding !== 'VALID')
      throw new Error(`${node.name}: ${padding} padding unsupported`);
    const nchw = transpose(value(inputs[0]!), shapeOf(inputs[0]!), [0, 3, 1, 2]);
    const y = emit('Conv', [nchw, weights], {
      strides: spatial(node, 'strides'),
      dilations: spatial(node, 'dilations'),
      auto_pad: padding === 'SAME' ? 'SAME_UPPER' : 'VALID',
    });
    emit('Transpose', [y], { perm: [0, 2, 3, 1] }, out);
  }

  function convTranspose(node: TfNode, inputs: string[], out: string): void {
    const filter = constant(refName(inputs[1]!)); // [h, w, out, in]
    const [kh, kw, cout, cin] = filter.shape as [number, number, number, number];
    const strides = spatial(node, 'strides');
    // The graph's up-convolutions are 2x2, stride 2, VALID: no padding question arises.
    if (attrString(node, 'padding') !== 'VALID' || strides[0] !== kh || strides[1] !== kw) {
      throw new Error(`${node.name}: only VALID transposed convolutions with stride = kernel are supported`);
    }
    const weights = floatTensor(
      `${refName(inputs[1]!)}/iohw`,
      [cin, cout, kh, kw],
      transposeValues(filter.values as Float32Array, filter.shape, [3, 2, 0, 1]),
    );
    const nchw = transpose(value(inputs[2]!), shapeOf(inputs[2]!), [0, 3, 1, 2]);
    const y = emit('ConvTranspose', [nchw, weights], { strides, kernel_shape: [kh, kw] });
    emit('Transpose', [y], { perm: [0, 2, 3, 1] }, out);
  }

  /**
   * A two-operand einsum whose constant operand is a matrix contracted over one index: one MatMul, without
   * moving the other operand's axes. With the contracted axis last, the matrix multiplies from the right;
   * otherwise from the left, the axes before it as a batch and those after it as columns (the resizes
   * contract height or width of NHWC images; the gating units swap a spatial axis last, which is undone
   * here). A transpose to the output's order follows only where data must move.
   */
  function einsum(node: TfNode, inputs: string[], out: string): void {
    const equation = attrString(node, 'equation');
    const [lhs, output] = equation.split('->') as [string, string];
    const terms = lhs.split(',');
    const w = inputs.findIndex((i) => !dynamic.has(refName(i)));
    if (terms.length !== 2 || w < 0 || terms[w]!.length !== 2) {
      throw new Error(`${node.name}: einsum ${equation} is not a matrix product with a constant`);
    }
    let xTerm = [...terms[1 - w]!];
    const wTerm = [...terms[w]!];
    const k = wTerm.find((i) => xTerm.includes(i) && !output.includes(i));
    const m = wTerm.find((i) => i !== k);
    if (!k || !m || xTerm.includes(m)) throw new Error(`${node.name}: einsum ${equation} unsupported`);
    let x = value(inputs[1 - w]!);
    let shape = shapeOf(inputs[1 - w]!);
    const swapped = transposes.get(x);
    if (swapped) {
      // Contract the transpose's input instead: its axis i is the einsum's axis perm⁻¹[i].
      const letters: string[] = [];
      swapped.perm.forEach((p, i) => (letters[p] = xTerm[i]!));
      [xTerm, x, shape] = [letters, swapped.input, swapped.shape];
    }
    const matrix = constant(refName(inputs[w]!));
    const [kSize, mSize] = [matrix.shape[wTerm.indexOf(k)]!, matrix.shape[wTerm.indexOf(m)]!];
    const weights = (first: string): string => {
      const values = matrix.values as Float32Array;
      return floatTensor(
        `${refName(inputs[w]!)}/${first === k ? k + m : m + k}`,
        first === k ? [kSize, mSize] : [mSize, kSize],
        wTerm[0] === first ? values : transposeValues(values, matrix.shape, [1, 0]),
      );
    };
    const p = xTerm.indexOf(k);
    const yShape = shape.map((d, i) => (i === p ? mSize : d));
    let y: string;
    if (p === shape.length - 1) {
      y = emit('MatMul', [x, weights(k)]);
    } else {
      const size = (dims: number[]): number => dims.reduce((n, d) => n * d, 1);
      const x3 = emit('Reshape', [
        x,
        int64Tensor([size(shape.slice(0, p)), kSize, size(shape.slice(p + 1))]),
      ]);
      y = emit('Reshape', [emit('MatMul', [weights(m), x3]), int64Tensor(yShape)]);
    }
    const indices = xTerm.map((i) => (i === k ? m : i));
    transpose(
      y,
      yShape,
      [...output].map((i) => indices.indexOf(i)),
      out,
    );
  }

  const last = order.find((n) => n.op === 'Identity' && dynamic.has(n.name));
  if (!last) throw new Error('the graph has no Identity output');
  const bound = (v: number): string => floatTensor(`clip_${v}`, [], Float32Array.of(v));
  // maximRestore clips the result likewise.
  emit('Clip', [last.name, bound(0), bound(1)], undefined, ONNX_OUTPUT);

  // Drop what the fused nodes left unused (onnxruntime would compute it).
  const needed = new Set([ONNX_OUTPUT]);
  const kept: OnnxNode[] = [];
  for (const node of onnxNodes.reverse()) {
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const input of node.inputs) needed.add(input);
  }
  return encodeOnnxModel(
    {
      name: 'maxim-3s-deblurring',
      nodes: kept.reverse(),
      initializers: [...initializers.values()].filter((t) => needed.has(t.name)),
      inputs: [{ name: ONNX_INPUT, type: 'float', dims: [1, height, width, 3] }],
      outputs: [{ name: ONNX_OUTPUT, type: 'float', dims: [1, height, width, 3] }],
    },
    OPSET,
    'blurspace maxim-onnx',
  );
}

/** NumPy-style broadcasting of `shapes`. */
function broadcast(shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)));
}

/**
 * The output shape of every pixel-dependent node for an input of `width` x `height`: the einsums and
 * transposes need them to choose between a reshape and a transpose.
 */
function inferShapes(
  order: TfNode[],
  dynamic: Set<string>,
  constants: Map<string, Constant>,
  width: number,
  height: number,
): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const shapeOf = (input: string): number[] => {
    const name = refName(input);
    const shape = shapes.get(name) ?? constants.get(name)?.shape;
    if (!shape) throw new Error(`no shape for ${name}`);
    return shape;
  };
  const ints = (input: string): number[] => Array.from(constants.get(refName(input))!.values);
  for (const node of order) {
    if (!dynamic.has(node.name)) continue;
    const inputs = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const x = node.op === 'Placeholder' ? [1, height, width, 3] : shapeOf(inputs[0]!);
    let shape: number[];
    const axis = (a: number): number => (a < 0 ? a + x.length : a);
    switch (node.op) {
      case 'Placeholder':
        shape = x;
        break;
      case 'Sum': {
        const axes = ints(inputs[1]!).map(axis);
        const keep = node.attr?.keep_dims?.b;
        shape = x.flatMap((d, i) => (!axes.includes(i) ? [d] : keep ? [1] : []));
        break;
      }
      case 'Reshape': {
        const target = ints(inputs[1]!);
        const known = target.reduce((n, d) => (d === -1 ? n : n * d), 1);
        const size = x.reduce((n, d) => n * d, 1);
        shape = target.map((d) => (d === -1 ? size / known : d));
        break;
      }
      case 'BroadcastTo':
        shape = ints(inputs[1]!);
        break;
      case 'Transpose':
        shape = ints(inputs[1]!).map((p) => x[p]!);
        break;
      case 'ConcatV2': {
        const parts = inputs.slice(0, -1).map(shapeOf);
        const a = axis(ints(inputs[inputs.length - 1]!)[0]!);
        shape = x.map((d, i) => (i === a ? parts.reduce((n, p) => n + p[i]!, 0) : d));
        break;
      }
      case 'GatherV2': {
        const a = axis(ints(inputs[2]!)[0]!);
        shape = [...x.slice(0, a), ...shapeOf(inputs[1]!), ...x.slice(a + 1)];
        break;
      }
      case 'StridedSlice': {
        const [begin, end, strides] = [ints(inputs[1]!), ints(inputs[2]!), ints(inputs[3]!)];
        const [beginMask, endMask, shrink] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((k) =>
          attrInt(node, k),
        ) as [number, number, number];
        shape = x.flatMap((d, i) => {
          if (i >= begin.length) return [d];
          if (shrink & (1 << i)) return [];
          const step = strides[i]!;
          const clamp = (v: number): number =>
            step > 0
              ? Math.min(Math.max(v < 0 ? v + d : v, 0), d)
              : Math.min(Math.max(v < 0 ? v + d : v, -1), d - 1);
          const start = beginMask & (1 << i) ? (step > 0 ? 0 : d - 1) : clamp(begin[i]!);
          const stop = endMask & (1 << i) ? (step > 0 ? d : -1) : clamp(end[i]!);
          return [Math.max(0, Math.ceil((stop - start) / step))];
        });
        break;
      }
      case 'Conv2D': {
        const filter = shapeOf(inputs[1]!);
        const strides = attrInts(node, 'strides');
        const dilations = attrInts(node, 'dilations');
        const same = attrString(node, 'padding') === 'SAME';
        const side = (i: number): number => {
          const reach = (filter[i - 1]! - 1) * (dilations[i] ?? 1);
          return Math.ceil((same ? x[i]! : x[i]! - reach) / (strides[i] ?? 1));
        };
        shape = [x[0]!, side(1), side(2), filter[3]!];
        break;
      }
      case 'Conv2DBackpropInput':
        shape = ints(inputs[0]!);
        break;
      case 'Einsum': {
        const [lhs, output] = attrString(node, 'equation').split('->') as [string, string];
        const sizes = new Map<string, number>();
        lhs
          .split(',')
          .forEach((term, t) => [...term].forEach((l, i) => sizes.set(l, shapeOf(inputs[t]!)[i]!)));
        shape = [...output].map((l) => sizes.get(l)!);
        break;
      }
      default:
        shape = broadcast(inputs.map(shapeOf));
    }
    shapes.set(node.name, shape);
  }
  return shapes;
}

/** Runs the graph's size-only part in tfjs for an input of `width` x `height` and stores `names` in `into`. */
function foldConstants(
  model: tf.GraphModel,
  names: string[],
  width: number,
  height: number,
  into: Map<string, Constant>,
): void {
  const input = tf.zeros([1, height, width, 3]);
  const results = model.execute({ [ONNX_INPUT]: input }, names) as tf.Tensor[];
  input.dispose();
  names.forEach((name, i) => {
    const t = results[i]!;
    const dtype = t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool' ? t.dtype : null;
    if (!dtype) throw new Error(`${name}: ${t.dtype} constants unsupported`);
    const data = t.dataSync();
    const values =
      dtype === 'float32'
        ? Float32Array.from(data)
        : dtype === 'int32'
          ? Int32Array.from(data)
          : Uint8Array.from(data);
    into.set(name, { dtype, shape: t.shape, values });
    t.dispose();
  });
}

/** Subgraphs that one ONNX operator computes faster: the output node's name, the operator and its inputs. */
interface Fusion {
  kind: 'layerNorm' | 'gelu' | 'leakyRelu';
  /** ONNX values (dynamic) or TensorFlow constant names (gamma, beta). */
  inputs: string[];
  /** LayerNorm's epsilon or LeakyRelu's slope. */
  value: number;
}

/**
 * jax2tf's expansions of LayerNorm (mean and E[x²] − mean², clipped at 0), tanh-GELU and leaky ReLU, found by
 * their structure; every constant is checked, so a look-alike is left as it is.
 */
function findFusions(
  byName: Map<string, TfNode>,
  dynamic: Set<string>,
  constants: Map<string, Constant>,
): Map<string, Fusion> {
  const args = (n: TfNode | undefined): string[] =>
    (n?.input ?? []).filter((i) => !i.startsWith('^')).map(refName);
  const node = (name: string | undefined, op: string): TfNode | undefined => {
    const n = name === undefined ? undefined : byName.get(name);
    return n?.op === op ? n : undefined;
  };
  const scalar = (name: string | undefined): number | undefined => {
    const c = name === undefined || dynamic.has(name) ? undefined : constants.get(name);
    return c && c.values.length === 1 && c.dtype === 'float32' ? c.values[0] : undefined;
  };
  /** A binary node's dynamic operand and its constant one, in either order. */
  const split = (n: TfNode | undefined): [string, string] | undefined => {
    const [a, b] = args(n);
    if (a === undefined || b === undefined) return undefined;
    if (dynamic.has(a) && !dynamic.has(b)) return [a, b];
    if (dynamic.has(b) && !dynamic.has(a)) return [b, a];
    return undefined;
  };
  const near = (v: number | undefined, want: number): boolean =>
    v !== undefined && Math.abs(v - want) < 1e-6 * Math.max(1, Math.abs(want));
  /** x when `name` is Mul(Sum(x over its last axis), 1/C), x of rank `rank`. */
  const meanOf = (name: string | undefined, channels: number, rank: number): string | undefined => {
    const [sum, recip] = split(node(name, 'Mul')) ?? [];
    const s = node(sum, 'Sum');
    const axes = constants.get(args(s)[1] ?? '')?.values;
    if (!s || s.attr?.keep_dims?.b || !near(scalar(recip), 1 / channels)) return undefined;
    if (axes?.length !== 1 || (axes[0] !== rank - 1 && axes[0] !== -1)) return undefined;
    return args(s)[0];
  };
  /** The length of the last axis of a constant broadcast along it only (shape [1, ..., 1, C]). */
  const lastAxisLength = (name: string): number | undefined => {
    const shape = constants.get(name)?.shape;
    return shape?.slice(0, -1).every((d) => d === 1) ? shape[shape.length - 1] : undefined;
  };
  const fusions = new Map<string, Fusion>();

  for (const out of byName.values()) {
    if (!dynamic.has(out.name)) continue;
    // LayerNorm: Add(Mul(Sub(x, mean), Mul(Rsqrt(Add(var, eps)), gamma)), beta)
    if (out.op === 'AddV2') {
      const [scaled, beta] = split(out) ?? [];
      const [p, q] = args(node(scaled, 'Mul'));
      for (const [centred, factor] of [
        [p, q],
        [q, p],
      ] as const) {
        const [rsqrt, gamma] = split(node(factor, 'Mul')) ?? [];
        const sub = node(centred, 'Sub');
        const r = node(rsqrt, 'Rsqrt');
        if (!sub || !r || !gamma || !beta) continue;
        const channels = lastAxisLength(gamma);
        if (channels === undefined || lastAxisLength(beta) !== channels) continue;
        const [x, meanShaped] = args(sub);
        // The mean, reshaped to x's rank with the reduced axis kept as 1.
        const [mean, meanShape] = args(node(meanShaped, 'Reshape'));
        const rank = constants.get(meanShape ?? '')?.values.length ?? 0;
        if (!x || meanOf(mean, channels, rank) !== x) continue;
        const [varShaped, eps] = split(node(args(r)[0], 'AddV2')) ?? [];
        const [diff, zero] = split(node(args(node(varShaped, 'Reshape'))[0], 'Maximum')) ?? [];
        const [meanSquare, squaredMean] = args(node(diff, 'Sub'));
        const squared = node(meanOf(meanSquare, channels, rank), 'Square');
        if (!near(scalar(zero), 0) || scalar(eps) === undefined || args(squared)[0] !== x) continue;
        if (args(node(squaredMean, 'Square'))[0] !== mean) continue;
        fusions.set(out.name, { kind: 'layerNorm', inputs: [x, gamma, beta], value: scalar(eps)! });
      }
    }
    // GELU (tanh): Mul(Mul(x, 0.5), Add(Tanh(Mul(Add(x, Mul(Mul(x, 0.044715), Square(x))), √(2/π))), 1))
    if (out.op === 'Mul') {
      const [a, b] = args(out);
      for (const [half, onePlus] of [
        [a, b],
        [b, a],
      ] as const) {
        const [x, c1] = split(node(half, 'Mul')) ?? [];
        const [tanh, one] = split(node(onePlus, 'AddV2')) ?? [];
        const [inner, c3] = split(node(args(node(tanh, 'Tanh'))[0], 'Mul')) ?? [];
        const [u, v] = args(node(inner, 'AddV2'));
        const cubic = u === x ? v : u;
        const [m, s] = args(node(cubic, 'Mul'));
        const scaled = node(m, 'Mul') ? m : s;
        const [sx, c2] = split(node(scaled, 'Mul')) ?? [];
        const square = node(scaled === m ? s : m, 'Square');
        if (!x || ![u, v].includes(x) || sx !== x || args(square)[0] !== x) continue;
        if (!near(scalar(c1), 0.5) || !near(scalar(one), 1) || !near(scalar(c2), 0.044715)) continue;
        if (!near(scalar(c3), Math.sqrt(2 / Math.PI))) continue;
        fusions.set(out.name, { kind: 'gelu', inputs: [x], value: 0 });
      }
    }
    // Leaky ReLU: Select(x >= 0, x, x * alpha)
    if (out.op === 'SelectV2') {
      const [cond, x, neg] = args(out);
      const [cx, zero] = split(node(cond, 'GreaterEqual')) ?? [];
      const [nx, alpha] = split(node(neg, 'Mul')) ?? [];
      if (x && cx === x && nx === x && near(scalar(zero), 0) && scalar(alpha) !== undefined) {
        fusions.set(out.name, { kind: 'leakyRelu', inputs: [x], value: scalar(alpha)! });
      }
    }
  }
  return fusions;
}
