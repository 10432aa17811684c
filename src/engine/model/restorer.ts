// A learned blind restorer R(y) ~ x (not in the paper): a small U-Net that maps a blurry photo straight to
// a sharp estimate, trained on the same synthetic pairs as F and G. Three stride-2 levels give it a
// receptive field of ~100 px for blurs up to 60 px; upsampling is a 1x1 conv and a pixel shuffle (cheap on
// the wasm backend); the output is y plus a residual. Fast mode can run it after its deconvolution, to gain
// what one kernel estimate and a deconvolution cannot (docs/decisions/0009-learned-restorer-optional.md).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { conv2d, pixelShuffle } from './layers';
import { convSpec, Parameters, withStateDict, type ParamSpec, type StateTensor } from './parameters';

const width = z.number().int().positive();

/** The restorer's architecture; strict, so that a misspelled key in a config or a checkpoint is refused. */
export const RestorerConfig = z.strictObject({
  /** Feature widths at full, 1/2, 1/4 and 1/8 resolution. */
  widths: z.tuple([width, width, width, width]),
});
export type RestorerConfig = z.infer<typeof RestorerConfig>;

export const RESTORER_DEFAULTS: RestorerConfig = { widths: [16, 32, 64, 96] };

/** The three stride-2 levels: sides must be multiples of this. */
export const RESTORER_CELL = 8;

function paramSpecs({ widths }: RestorerConfig): ParamSpec[] {
  const [a, b, c, d] = widths;
  // A residual block [conv, relu, conv]; its branch starts small (as in F and G).
  const block = (name: string, width: number): ParamSpec[] => [
    ...convSpec(`${name}.conv1`, width, width, 3, true),
    ...convSpec(`${name}.conv2`, width, width, 3, true, 0.1),
  ];
  return [
    ...convSpec('head', a, 3, 3, true),
    ...convSpec('down1', b, a, 3, true),
    ...block('enc1', b),
    ...convSpec('down2', c, b, 3, true),
    ...block('enc2', c),
    ...convSpec('down3', d, c, 3, true),
    ...block('mid0', d),
    ...block('mid1', d),
    ...convSpec('up3', 4 * c, d, 1, true),
    ...block('dec2', c),
    ...convSpec('up2', 4 * b, c, 1, true),
    ...block('dec1', b),
    ...convSpec('up1', 4 * a, b, 1, true),
    ...convSpec('tail', a, a, 3, true),
    // Zero at the start: a fresh restorer returns y as it is.
    ...convSpec('out', 3, a, 3, true, 0),
  ];
}

export class Restorer {
  readonly config: RestorerConfig;
  private readonly params: Parameters;

  private constructor(config: RestorerConfig, seed: number) {
    const checked = RestorerConfig.safeParse(config);
    if (!checked.success) throw new Error(`Restorer: ${z.prettifyError(checked.error)}`);
    this.config = checked.data;
    this.params = new Parameters(paramSpecs(this.config), seed);
  }

  /** Deterministic initialisation: kaiming-normal (fan in), residual branches scaled by 0.1, output zero. */
  static create(config: RestorerConfig, seed: number): Restorer {
    return new Restorer(config, seed);
  }

  /** Builds a restorer from a state_dict in PyTorch layout; without `config` its widths are read from the shapes. */
  static fromStateDict(tensors: Map<string, StateTensor>, config?: RestorerConfig): Restorer {
    const out = (key: string): number => {
      const shape = tensors.get(`${key}.weight`)?.shape;
      if (!shape) throw new Error(`Not a restorer state_dict: key "${key}.weight" is missing`);
      return shape[0]!;
    };
    const inferred = (): RestorerConfig => ({
      widths: [out('head'), out('down1'), out('down2'), out('down3')],
    });
    return withStateDict(new Restorer(config ?? inferred(), 0), tensors);
  }

  loadStateDict(tensors: Map<string, StateTensor>): void {
    this.params.load(tensors, `the restorer with widths ${this.config.widths.join(', ')}`);
  }

  stateDict(): Map<string, StateTensor> {
    return this.params.stateDict();
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.params.named();
  }

  dispose(): void {
    this.params.dispose();
  }

  /** The sharp estimate of y ([n, h, w, 3], sRGB in [0, 1], sides multiples of RESTORER_CELL); not clipped. */
  restore(y: tf.Tensor4D): tf.Tensor4D {
    const [, h, w, channels] = y.shape;
    if (h % RESTORER_CELL || w % RESTORER_CELL || channels !== 3) {
      throw new Error(
        `Restorer: the image is ${h}x${w}x${channels}; it takes RGB with sides that are multiples of ${RESTORER_CELL}`,
      );
    }
    return tf.tidy(() => {
      const conv = (x: tf.Tensor4D, key: string, stride = 1): tf.Tensor4D => {
        const weight = this.params.weight(key);
        return conv2d(x, weight, this.params.bias(key), stride, (weight.shape[0] - 1) >> 1);
      };
      const block = (x: tf.Tensor4D, name: string): tf.Tensor4D =>
        tf.add(x, conv(tf.relu(conv(x, `${name}.conv1`)), `${name}.conv2`));
      const up = (x: tf.Tensor4D, key: string, skip: tf.Tensor4D): tf.Tensor4D =>
        tf.add(skip, pixelShuffle(conv(x, key), 2));
      const full = tf.relu(conv(y, 'head'));
      const half = block(tf.relu(conv(full, 'down1', 2)), 'enc1');
      const quarter = block(tf.relu(conv(half, 'down2', 2)), 'enc2');
      const eighth = block(block(tf.relu(conv(quarter, 'down3', 2)), 'mid0'), 'mid1');
      const quarterOut = block(up(eighth, 'up3', quarter), 'dec2');
      const halfOut = block(up(quarterOut, 'up2', half), 'dec1');
      const fullOut = tf.relu(conv(up(halfOut, 'up1', full), 'tail'));
      return tf.add(y, conv(fullOut, 'out'));
    });
  }
}
