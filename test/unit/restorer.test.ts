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
    const model = Restorer.create({ widths: [8, 8, 16, 16] }, 3);
    tf.tidy(() => {
      const y = tf.randomUniform([1, 48, 40, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
      const out = model.restore(y);
      expect(out.shape).toEqual([1, 48, 40, 3]);
      expect(tf.max(tf.abs(tf.sub(out, y))).dataSync()[0]).toBe(0);
    });
    model.dispose();
  });

  it('refuses sides that are not multiples of 8, and non-RGB images', () => {
    const model = Restorer.create({ widths: [4, 4, 4, 4] }, 1);
    expect(() => model.restore(tf.zeros([1, 44, 40, 3]))).toThrow(/44x40x3.*multiples of 8/);
    expect(() => model.restore(tf.zeros([1, 40, 40, 1]))).toThrow(/RGB/);
    model.dispose();
  });

  it('round-trips its state_dict exactly and names what does not fit', () => {
    const model = Restorer.create({ widths: [4, 8, 8, 12] }, 7);
    const copy = Restorer.fromStateDict(model.stateDict());
    expect(copy.config.widths).toEqual([4, 8, 8, 12]);
    tf.tidy(() => {
      const y = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
      expect(tf.max(tf.abs(tf.sub(model.restore(y), copy.restore(y)))).dataSync()[0]).toBe(0);
    });
    const other = Restorer.create({ widths: [4, 8, 8, 16] }, 7);
    expect(() => model.loadStateDict(other.stateDict())).toThrow(/shape mismatch for "down3.weight"/);
    const missing = model.stateDict();
    missing.delete('tail.bias');
    expect(() => Restorer.fromStateDict(missing)).toThrow(/missing key "tail.bias"/);
    for (const m of [model, copy, other]) m.dispose();
  });

  it('widened (every width doubled), starts as the narrower restorer it was started from', () => {
    const narrow = Restorer.create({ widths: [4, 8, 8, 12] }, 5);
    // A nonzero output layer, so that the comparison below means something.
    const weights = narrow.stateDict();
    const out = weights.get('out.weight')!;
    weights.set('out.weight', { shape: out.shape, data: out.data.map((_, i) => Math.sin(i) * 0.05) });
    narrow.loadStateDict(weights);
    const wide = Restorer.create({ widths: [8, 16, 16, 24] }, 6);
    // New channels start fresh; the old ones ignore them (PyTorch's pixel-shuffle order keeps theirs in place).
    wide.loadStateDict(warmStartWeights(wide.stateDict(), narrow.stateDict()));
    tf.tidy(() => {
      const y = tf.randomUniform([1, 32, 24, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const expected = narrow.restore(y);
      expect(tf.max(tf.abs(tf.sub(expected, y))).dataSync()[0]).toBeGreaterThan(1e-3);
      expect(tf.max(tf.abs(tf.sub(wide.restore(y), expected))).dataSync()[0]).toBeLessThan(1e-5);
    });
    for (const m of [narrow, wide]) m.dispose();
  });
});
