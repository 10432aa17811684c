// The learned restorer's network: sizes it takes, its start near the identity, exact state_dict round trips.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Restorer } from '../../src/engine/model/restorer';
import { warmStartWeights } from '../../src/engine/training/trainer';

describe('Restorer', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
  });

  it('starts as the identity and keeps the image size', () => {
    const model = Restorer.create({ widths: [8, 8, 16, 16], withPhoto: false }, 3);
    tf.tidy(() => {
      const y = tf.randomUniform([1, 48, 40, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const out = model.restore(y);
      expect(out.shape).toEqual([1, 48, 40, 3]);
      expect(tf.max(tf.abs(tf.sub(out, y))).dataSync()[0]).toBe(0);
    });
    model.dispose();
  });

  it('refuses sides that are not multiples of 8, and non-RGB images', () => {
    const model = Restorer.create({ widths: [4, 4, 4, 4], withPhoto: false }, 1);
    expect(() => model.restore(tf.zeros([1, 44, 40, 3]))).toThrow(/44x40x3.*multiples of 8/);
    expect(() => model.restore(tf.zeros([1, 40, 40, 1]))).toThrow(/RGB/);
    model.dispose();
  });

  it('round-trips its state_dict exactly and names what does not fit', () => {
    const model = Restorer.create({ widths: [4, 8, 8, 12], withPhoto: false }, 7);
    const copy = Restorer.fromStateDict(model.stateDict());
    expect(copy.config.widths).toEqual([4, 8, 8, 12]);
    tf.tidy(() => {
      const y = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      expect(tf.max(tf.abs(tf.sub(model.restore(y), copy.restore(y)))).dataSync()[0]).toBe(0);
    });
    const other = Restorer.create({ widths: [4, 8, 8, 16], withPhoto: false }, 7);
    expect(() => model.loadStateDict(other.stateDict())).toThrow(/shape mismatch for "down3.weight"/);
    const missing = model.stateDict();
    missing.delete('tail.bias');
    expect(() => Restorer.fromStateDict(missing)).toThrow(/missing key "tail.bias"/);
    for (const m of [model, copy, other]) m.dispose();
  });

  it('with the photo: reads it beside the image, starts from a restorer without it as that restorer', () => {
    const plain = Restorer.create({ widths: [4, 8, 8, 12], withPhoto: false }, 5);
    // Give the plain restorer a nonzero output layer, so that the comparison below means something.
    const changed = plain.stateDict();
    const out = changed.get('out.weight')!;
    changed.set('out.weight', { shape: out.shape, data: out.data.map((_, i) => Math.sin(i) * 0.05) });
    plain.loadStateDict(changed);
    const guided = Restorer.create({ widths: [4, 8, 8, 12], withPhoto: true }, 5);
    expect(guided.stateDict().get('head.weight')!.shape).toEqual([4, 6, 3, 3]);
    guided.loadStateDict(warmStartWeights(guided.stateDict(), plain.stateDict()));
    const copy = Restorer.fromStateDict(guided.stateDict());
    expect(copy.config.withPhoto).toBe(true);
    tf.tidy(() => {
      const y = tf.randomUniform([1, 32, 24, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const photo = tf.randomUniform([1, 32, 24, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const expected = plain.restore(y);
      expect(tf.max(tf.abs(tf.sub(expected, y))).dataSync()[0]).toBeGreaterThan(1e-3);
      // The photo's inputs start at zero weight: the same output as the restorer it started from.
      expect(tf.max(tf.abs(tf.sub(copy.restore(y, photo), expected))).dataSync()[0]).toBeLessThan(1e-6);
      expect(() => copy.restore(y)).toThrow(/also takes the blurry photo/);
      expect(() => copy.restore(y, tf.zeros([1, 32, 32, 3]))).toThrow(/32x24x3 like the image/);
      expect(() => plain.restore(y, photo)).toThrow(/takes the image alone/);
    });
    for (const m of [plain, guided, copy]) m.dispose();
  });
});
