// The learned mode's network (the npm package's MAXIM graph): the ops registered for wasm match tfjs's own on
// random tensors, the real network runs on a small tile, and tiles blend into what one pass gives. Quality
// and speed come from `npm run bench:deblur`; cancelling mid-tile is in engine-host.test.ts.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/core/backend';
import {
  deblurLearned,
  learnedTileCount,
  LearnedNetwork,
  typicalSecondsPerTile,
} from '../../src/engine/deblur/learned-mode';
import { Engine } from '../../src/engine/engine';
import { findMaximModel, loadMaxim, MAXIM_MISSING, maximRestore } from '../../src/engine/model/maxim';
import { onnxRuntimeInstalled } from '../../src/engine/model/maxim-runtime';
import { einsumByMatMul, stridedSliceFast, tanhBySigmoid } from '../../src/engine/model/maxim-ops';
import { MOTION_BLURRED, readFloatImage } from '../helpers/test-images';

/** `run` on the cpu backend (which has tfjs's own Einsum), its result as plain numbers. */
async function onCpu(run: () => tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend('cpu');
  try {
    const result = run();
    const data = (await result.data()) as Float32Array;
    result.dispose();
    return { shape: result.shape, data };
  } finally {
    await tf.setBackend('wasm');
  }
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function psnr(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10(a.length / sum);
}

const MODEL = findMaximModel();

describe('learned mode', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('computes the graph’s three einsum equations as tf.einsum does', async () => {
    const shapes: Array<[string, number[], number[]]> = [
      ['abcg,gf->abcf', [1, 6, 5, 8], [8, 7]],
      ['abgd,gf->abdf', [1, 4, 9, 3], [9, 6]],
      ['gb,cgef->bcef', [10, 5], [1, 10, 4, 3]],
    ];
    for (const [equation, shapeA, shapeB] of shapes) {
      const a = tf.randomNormal(shapeA, 0, 1, 'float32', 1);
      const b = tf.randomNormal(shapeB, 0, 1, 'float32', 2);
      const [dataA, dataB] = [await a.data(), await b.data()];
      const ours = einsumByMatMul(equation, a, b);
      const reference = await onCpu(() =>
        tf.einsum(equation, tf.tensor(dataA, shapeA), tf.tensor(dataB, shapeB)),
      );
      expect(ours.shape, equation).toEqual(reference.shape);
      expect(maxDifference(await ours.data(), reference.data), equation).toBeLessThan(1e-4);
      tf.dispose([a, b, ours]);
    }
    expect(() => einsumByMatMul('ab,ab->ab', tf.ones([2, 2]), tf.ones([2, 2]))).toThrow(/not supported/);
  });

  it('computes tanh and strided slices as tfjs does', async () => {
    const x = tf.randomNormal([1, 8, 8, 6], 0, 3, 'float32', 3);
    expect(maxDifference(await tanhBySigmoid(x).data(), await tf.tanh(x).data())).toBeLessThan(1e-6);
    const cases: Array<[number[], number[], number[], object]> = [
      [[0, 0, 0, 0], [1, 8, 8, 3], [1, 1, 1, 1], {}],
      [[0, 0, 0, 3], [0, 0, 0, 0], [1, 1, 1, 1], { begin_mask: 7, end_mask: 15 }],
      [[0, -5, 2, -2], [1, -1, 100, 6], [1, 1, 1, 1], {}],
      [[0, 0, 0, 0], [1, 8, 8, 6], [1, 2, 1, 3], {}],
      [[0, 1], [1, 2], [1, 1], { shrink_axis_mask: 2 }],
    ];
    for (const [begin, end, strides, masks] of cases) {
      const m = masks as Record<string, number>;
      const reference = tf.stridedSlice(
        x,
        begin,
        end,
        strides,
        m.begin_mask,
        m.end_mask,
        m.ellipsis_mask,
        m.new_axis_mask,
        m.shrink_axis_mask,
      );
      const ours = stridedSliceFast(x, begin, end, strides, masks);
      expect(ours.shape).toEqual(reference.shape);
      expect(maxDifference(await ours.data(), await reference.data())).toBe(0);
    }
  });

  it('says clearly when the network is not installed', async () => {
    const engine = await Engine.create({
      backend: 'wasm',
      checkpointPath: null,
      defaultCheckpointPath: '/nonexistent.safetensors',
      learnedModel: null,
    });
    expect(engine.learnedEstimate(1000, 1000)).toMatchObject({ available: false, note: MAXIM_MISSING });
    // The app offers the network's options (guided estimate, kernels from one photo) only when it is there.
    expect(engine.info().learnedNetwork).toEqual({ available: false, note: MAXIM_MISSING });
    expect(() => engine.learnedNetwork()).toThrow(MAXIM_MISSING);
    await expect(loadMaxim('/nonexistent/model.json')).rejects.toThrow(MAXIM_MISSING);
  });

  it('plans tiles of 256 with 64 of overlap and estimates a time before it starts', async () => {
    expect(learnedTileCount(256, 256)).toBe(1);
    expect(learnedTileCount(6000, 4000)).toBe(31 * 21);
    if (!MODEL) return;
    const engine = await Engine.create({
      backend: 'wasm',
      checkpointPath: null,
      defaultCheckpointPath: '/nonexistent.safetensors',
    });
    expect(engine.info().learnedNetwork.available).toBe(true);
    const estimate = engine.learnedEstimate(1000, 1000);
    expect(estimate).toMatchObject({ available: true, tiles: 25, measured: false });
    expect(estimate.seconds).toBe(25 * typicalSecondsPerTile());
    // After a learned job, the speed it measured.
    engine.learnedNetwork().measured(100, 20);
    expect(engine.learnedEstimate(1000, 1000)).toMatchObject({ measured: true, seconds: 25 * 5 });
  });

  it('takes the typical time a tile from the runtime the tiles will run on, as set when asked', () => {
    const before = process.env.BLURSPACE_LEARNED_RUNTIME;
    try {
      process.env.BLURSPACE_LEARNED_RUNTIME = 'tfjs';
      const wasm = typicalSecondsPerTile();
      process.env.BLURSPACE_LEARNED_RUNTIME = 'auto';
      if (onnxRuntimeInstalled()) expect(typicalSecondsPerTile()).toBeLessThan(wasm);
      else expect(typicalSecondsPerTile()).toBe(wasm);
    } finally {
      if (before === undefined) delete process.env.BLURSPACE_LEARNED_RUNTIME;
      else process.env.BLURSPACE_LEARNED_RUNTIME = before;
    }
  });

  describe.skipIf(!MODEL)('with the installed network', () => {
    let network: LearnedNetwork;
    beforeAll(async () => {
      network = new LearnedNetwork(MODEL!);
      await network.load();
    });

    it('sharpens a small blurred tile', async () => {
      const blurry = await readFloatImage(MOTION_BLURRED, { width: 64, height: 64, fit: 'cover' });
      const restored = await maximRestore(await network.load(), blurry.data, 64, 64);
      expect(restored.length).toBe(64 * 64 * 3);
      expect(Math.min(...restored)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...restored)).toBeLessThanOrEqual(1);
      // It changes the photo, but keeps it: well below a new picture, well above a copy.
      const change = psnr(restored, blurry.data);
      expect(change).toBeGreaterThan(18);
      expect(change).toBeLessThan(50);
    });

    // Two tiles of 128 overlapping by 64 against one pass: the smallest case with a seam to blend.
    it('blends tiles into what one pass over the image gives', async () => {
      const blurry = await readFloatImage(MOTION_BLURRED, { width: 192, height: 128, fit: 'cover' });
      const signal = new AbortController().signal;
      const ctx = { signal, progress: () => undefined };
      const tiles: number[] = [];
      const tiled = await deblurLearned(network, blurry, 1, ctx, (done) => tiles.push(done), {
        tileSize: 128,
        overlap: 64,
        cell: 64,
      });
      expect(tiles).toEqual([1, 2]);
      const whole = await deblurLearned(network, blurry, 1, ctx, () => undefined);
      // 41.8 dB apart when measured, while each is ~26 dB from the input (decision 0020).
      expect(psnr(tiled.data, whole.data)).toBeGreaterThan(35);
      expect(psnr(whole.data, blurry.data)).toBeLessThan(32);
    });
  });
});
