// The weights of a network, described by PyTorch-style specs (name, shape in PyTorch layout, initial spread)
// and held as tfjs variables in TensorFlow layout: seeded initialisation, checked state_dict loading, and
// export back to PyTorch layout. Shared by F/G (kernel-wizard.ts) and the learned restorer (restorer.ts).
import * as tf from '@tensorflow/tfjs';
import { seededNormal } from './layers';

/** One tensor in PyTorch layout: conv weights [out, in, kh, kw], transposed-conv weights [in, out, kh, kw]. */
export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

export type ParamKind = 'conv' | 'convT' | 'bias';

export interface ParamSpec {
  key: string;
  /** PyTorch shape. */
  shape: number[];
  kind: ParamKind;
  /** Standard deviation of the initial values (0: zeros). */
  std: number;
}

/** A k x k convolution's weight (kaiming-normal, fan in, times `scale`) and optional zero bias. */
export function convSpec(
  key: string,
  out: number,
  inp: number,
  k: number,
  bias: boolean,
  scale = 1,
): ParamSpec[] {
  const specs: ParamSpec[] = [
    {
      key: `${key}.weight`,
      shape: [out, inp, k, k],
      kind: 'conv',
      std: scale * Math.sqrt(2 / (inp * k * k)),
    },
  ];
  if (bias) specs.push({ key: `${key}.bias`, shape: [out], kind: 'bias', std: 0 });
  return specs;
}

/** A kernel-4, stride-2 transposed convolution: each output pixel sees 2 x 2 taps per input channel. */
export function convTSpec(key: string, inp: number, out: number, bias: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [
    { key: `${key}.weight`, shape: [inp, out, 4, 4], kind: 'convT', std: Math.sqrt(2 / (inp * 4)) },
  ];
  if (bias) specs.push({ key: `${key}.bias`, shape: [out], kind: 'bias', std: 0 });
  return specs;
}

// PyTorch [out, in, kh, kw] and ConvTranspose [in, out, kh, kw] both map to tf [kh, kw, in|out, out|in] this way.
const TORCH_TO_TF = [2, 3, 1, 0];
const TF_TO_TORCH = [3, 2, 0, 1];

function tfShape(spec: ParamSpec): number[] {
  return spec.kind === 'bias' ? spec.shape : TORCH_TO_TF.map((axis) => spec.shape[axis]!);
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

export const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export class Parameters {
  private readonly variables = new Map<string, tf.Variable>();

  /** Deterministic initialisation: normal values with each spec's spread, zero biases. */
  constructor(
    readonly specs: readonly ParamSpec[],
    seed: number,
  ) {
    const normal = seededNormal(seed);
    for (const spec of specs) {
      const shape = tfShape(spec);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (spec.std > 0) for (let i = 0; i < data.length; i++) data[i] = normal() * spec.std;
      this.variables.set(spec.key, tf.variable(tf.tensor(data, shape), true));
    }
  }

  weight(key: string): tf.Tensor4D {
    return this.variables.get(`${key}.weight`)! as tf.Variable<tf.Rank.R4>;
  }

  bias(key: string): tf.Tensor1D | null {
    return (this.variables.get(`${key}.bias`) as tf.Variable<tf.Rank.R1> | undefined) ?? null;
  }

  /**
   * Loads a state_dict in PyTorch layout; checks everything before changing any weight. `architecture`
   * names the network for the error message.
   */
  load(tensors: Map<string, StateTensor>, architecture: string): void {
    const problems: string[] = [];
    const expected = new Set(this.specs.map((s) => s.key));
    for (const spec of this.specs) {
      const t = tensors.get(spec.key);
      if (!t) {
        problems.push(`missing key "${spec.key}"`);
      } else if (!sameShape(t.shape, spec.shape)) {
        problems.push(
          `shape mismatch for "${spec.key}": expected ${shapeText(spec.shape)}, got ${shapeText(t.shape)}`,
        );
      } else if (t.data.length !== spec.shape.reduce((a, b) => a * b, 1)) {
        problems.push(
          `"${spec.key}" holds ${t.data.length} values, not the ${shapeText(t.shape)} it declares`,
        );
      }
    }
    for (const key of tensors.keys()) if (!expected.has(key)) problems.push(`unexpected key "${key}"`);
    if (problems.length > 0) {
      const shown = problems.slice(0, 12).join('; ');
      const more = problems.length > 12 ? ` (and ${problems.length - 12} more)` : '';
      throw new Error(`${shown}${more}. The checkpoint's architecture differs from ${architecture}.`);
    }
    for (const spec of this.specs) {
      const t = tensors.get(spec.key)!;
      tf.tidy(() => {
        const value = tf.tensor(t.data, t.shape);
        this.variables.get(spec.key)!.assign(spec.kind === 'bias' ? value : value.transpose(TORCH_TO_TF));
      });
    }
  }

  /** All parameters in PyTorch layout and spec order; load(stateDict()) is exact. */
  stateDict(): Map<string, StateTensor> {
    const out = new Map<string, StateTensor>();
    for (const spec of this.specs) {
      const v = this.variables.get(spec.key)!;
      const t = spec.kind === 'bias' ? v.clone() : v.transpose(TF_TO_TORCH);
      out.set(spec.key, { shape: [...spec.shape], data: Float32Array.from(t.dataSync()) });
      t.dispose();
    }
    return out;
  }

  /** The weights keyed by their state_dict names (in TensorFlow layout), e.g. for an optimizer's state. */
  named(): Map<string, tf.Variable> {
    return new Map(this.variables);
  }

  /** Number of scalar parameters. */
  count(): number {
    return this.specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

/** Loads `tensors` into a freshly built model, which is disposed of if they do not fit. */
export function withStateDict<
  M extends { loadStateDict(t: Map<string, StateTensor>): void; dispose(): void },
>(model: M, tensors: Map<string, StateTensor>): M {
  try {
    model.loadStateDict(tensors);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
