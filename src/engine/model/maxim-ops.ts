// Ops for the deblurring network's graph (model/maxim.ts) on the wasm and cpu backends. It uses Einsum, which
// the wasm backend lacks: its einsums all have two operands and contract indices that both share and the
// output drops, with no batch index kept from both, so each is a transpose, a matMul and a transpose back.
// Tanh and StridedSlice have faster equivalents on wasm.
import * as tf from '@tensorflow/tfjs';

/** Two-operand einsum as matMul, for equations like `abcg,gf->abcf` (no index shared by both and kept). */
export function einsumByMatMul(equation: string, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [inputs, output] = equation.replace(/\s/g, '').split('->') as [string, string | undefined];
  const [left, right] = inputs.split(',') as [string, string | undefined];
  if (output === undefined || right === undefined || left.length !== a.rank || right.length !== b.rank) {
    throw new Error(`Einsum "${equation}": only two operands with an explicit output are supported.`);
  }
  const contracted = [...left].filter((i) => right.includes(i) && !output.includes(i));
  const freeLeft = [...left].filter((i) => !contracted.includes(i));
  const freeRight = [...right].filter((i) => !contracted.includes(i));
  if (freeLeft.some((i) => right.includes(i)) || [...output].some((i) => !`${left}${right}`.includes(i))) {
    throw new Error(`Einsum "${equation}" keeps an index of both operands: not supported.`);
  }
  return tf.tidy(() => {
    const size = (index: string): number =>
      left.includes(index) ? a.shape[left.indexOf(index)]! : b.shape[right.indexOf(index)]!;
    const product = (indices: string[]): number => indices.reduce((n, i) => n * size(i), 1);
    const lhs = tf.reshape(
      permuted(
        a,
        [...freeLeft, ...contracted].map((i) => left.indexOf(i)),
      ),
      [product(freeLeft), product(contracted)],
    );
    const rhs = tf.reshape(
      permuted(
        b,
        [...contracted, ...freeRight].map((i) => right.indexOf(i)),
      ),
      [product(contracted), product(freeRight)],
    );
    const order = [...freeLeft, ...freeRight];
    const result = tf.reshape(tf.matMul(lhs, rhs), order.map(size));
    return permuted(
      result,
      [...output].map((i) => order.indexOf(i)),
    );
  });
}

/** `x` transposed by `permutation`; no copy when it is the identity (most of the graph's einsums). */
function permuted(x: tf.Tensor, permutation: number[]): tf.Tensor {
  return permutation.every((p, i) => p === i) ? x : tf.transpose(x, permutation);
}

/**
 * tf.tanh on wasm is a scalar loop ~10x slower than its sigmoid (decision 0020); the network's GELUs call it
 * 240 times on large tensors. tanh(x) = 2 sigmoid(2x) - 1.
 */
export function tanhBySigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1));
}

/** StridedSlice's masks, as the graph's node carries them (TensorFlow's names). */
export interface StridedSliceMasks {
  begin_mask?: number;
  end_mask?: number;
  ellipsis_mask?: number;
  new_axis_mask?: number;
  shrink_axis_mask?: number;
}

/**
 * tf.stridedSlice, as tf.slice where it is a plain box (unit strides, no ellipsis, new or dropped axis):
 * on the network's channel splits wasm's slice is mostly faster (up to 2x; decision 0020).
 */
export function stridedSliceFast(
  x: tf.Tensor,
  begin: number[],
  end: number[],
  strides: number[],
  masks: StridedSliceMasks,
): tf.Tensor {
  const beginMask = masks.begin_mask ?? 0;
  const endMask = masks.end_mask ?? 0;
  const special = (masks.ellipsis_mask ?? 0) | (masks.new_axis_mask ?? 0) | (masks.shrink_axis_mask ?? 0);
  if (special || begin.length !== x.rank || strides.some((s) => s !== 1)) {
    return tf.stridedSlice(
      x,
      begin,
      end,
      strides,
      beginMask,
      endMask,
      masks.ellipsis_mask,
      masks.new_axis_mask,
      masks.shrink_axis_mask,
    );
  }
  const clamp = (i: number, size: number): number => Math.min(size, Math.max(0, i < 0 ? i + size : i));
  const start = x.shape.map((size, axis) => (beginMask & (1 << axis) ? 0 : clamp(begin[axis]!, size)));
  const stop = x.shape.map((size, axis) => (endMask & (1 << axis) ? size : clamp(end[axis]!, size)));
  return tf.slice(
    x,
    start,
    stop.map((e, axis) => Math.max(0, e - start[axis]!)),
  );
}

let registered = false;

/**
 * Makes the graph's Einsum nodes (which wasm lacks) run as einsumByMatMul, and its Tanh and StridedSlice
 * nodes as the faster equivalents above (once per thread). Only for the wasm and cpu backends: libtensorflow
 * has its own kernels. Must run before the graph is loaded, which is when the converter picks each node's
 * executor.
 */
export function registerGraphOps(): void {
  if (registered || tf.getBackend() === 'tensorflow') return;
  tf.registerOp('Einsum', (node) => {
    const [a, b] = node.inputs as [tf.Tensor, tf.Tensor];
    return einsumByMatMul(node.attrs.equation as string, a, b);
  });
  tf.registerOp('Tanh', (node) => tanhBySigmoid(node.inputs[0]!));
  tf.registerOp('StridedSlice', (node) => {
    const [x, begin, end, strides] = node.inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
    return stridedSliceFast(x, values(begin), values(end), values(strides), node.attrs as StridedSliceMasks);
  });
  registered = true;
}
