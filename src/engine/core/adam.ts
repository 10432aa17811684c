// Adam with its moments held in plain variables, so the whole optimizer state can be saved with the
// weights and a resumed run continues exactly where it stopped.
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_ADAM: AdamOptions = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export class Adam {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far (for bias correction). */
  steps = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly options: AdamOptions = DEFAULT_ADAM,
  ) {
    for (const [name, variable] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(variable), false));
      this.v.set(name, tf.variable(tf.zerosLike(variable), false));
    }
  }

  /** One update; `scaleOf` multiplies the learning rate per parameter name (default 1). */
  apply(grads: Map<string, tf.Tensor>, learningRate: number, scaleOf?: (name: string) => number): void {
    this.steps++;
    const { beta1, beta2, epsilon } = this.options;
    const correction1 = 1 - beta1 ** this.steps;
    const correction2 = 1 - beta2 ** this.steps;
    tf.tidy(() => {
      for (const [name, grad] of grads) {
        const param = this.params.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(grad, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(grad), 1 - beta2)));
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), epsilon));
        param.assign(tf.sub(param, tf.mul(update, learningRate * (scaleOf?.(name) ?? 1))));
      }
    });
  }

  dispose(): void {
    for (const variable of [...this.m.values(), ...this.v.values()]) variable.dispose();
  }
}
