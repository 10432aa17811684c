// Learned mode's network on onnxruntime: the ONNX writer's messages as onnxruntime reads them, and the converted
// network against the TensorFlow.js graph on the same tile. Skipped where onnxruntime-node (an optional
// dependency) or the network's package is not installed. Speed: decision 0020's amendment.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/core/backend';
import { findMaximModel, loadMaxim, MAXIM_MISSING, maximRestore } from '../../src/engine/model/maxim';
import { loadMaximRunner, loadOnnxRuntime, maximTileFlops } from '../../src/engine/model/maxim-runtime';
import { onnxFlops } from '../../src/engine/model/onnx-flops';
import { decodeOnnxModel, encodeOnnxModel, type OnnxGraph } from '../../src/engine/model/onnx-proto';
import { MOTION_BLURRED, readFloatImage } from '../helpers/test-images';

const ort = loadOnnxRuntime();
const ORT = typeof ort === 'string' ? null : ort;
const MODEL = findMaximModel();
/** GFLOP of one 64x64 tile of the network, counted on its ONNX graph (340.6 at 256x256; decision 0020). */
const GFLOP_64 = 19.97;

function psnr(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10(a.length / sum);
}

/** `run` with BLURSPACE_LEARNED_RUNTIME set to `value` (restored after). */
async function withRuntime<T>(value: string, run: () => Promise<T>): Promise<T> {
  const before = process.env.BLURSPACE_LEARNED_RUNTIME;
  process.env.BLURSPACE_LEARNED_RUNTIME = value;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env.BLURSPACE_LEARNED_RUNTIME;
    else process.env.BLURSPACE_LEARNED_RUNTIME = before;
  }
}

describe('ONNX FLOP count', () => {
  const floats = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).buffer);
  // x [1,4,8,8] -> Conv 6x4x3x3 (pads 1) + bias -> NHWC -> [64,6] -> MatMul [6,5] -> Gelu -> LayerNorm
  const graph: OnnxGraph = {
    name: 'count',
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['c'], attributes: { pads: [1, 1, 1, 1] } },
      { op: 'Add', inputs: ['c', 'b'], outputs: ['a'] },
      { op: 'Transpose', inputs: ['a'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'm'], outputs: ['p'] },
      { op: 'Gelu', inputs: ['p'], outputs: ['g'], attributes: { approximate: 'tanh' } },
      {
        op: 'LayerNormalization',
        inputs: ['g', 'gamma', 'beta'],
        outputs: ['y'],
        attributes: { axis: -1, epsilon: { floatValue: 0.25 } },
      },
    ],
    initializers: [
      { name: 'w', type: 'float', dims: [6, 4, 3, 3], data: floats(216) },
      { name: 'b', type: 'float', dims: [1, 6, 1, 1], data: floats(6) },
      { name: 'shape', type: 'int64', dims: [2], data: new Uint8Array(BigInt64Array.of(-1n, 6n).buffer) },
      { name: 'm', type: 'float', dims: [6, 5], data: floats(30) },
      { name: 'gamma', type: 'float', dims: [5], data: floats(5) },
      { name: 'beta', type: 'float', dims: [5], data: floats(5) },
    ],
    inputs: [{ name: 'x', type: 'float', dims: [1, 4, 8, 8] }],
    outputs: [{ name: 'y', type: 'float', dims: [64, 5] }],
  };

  it('reads back what the writer encodes', () => {
    const decoded = decodeOnnxModel(encodeOnnxModel(graph, 20, 'test'));
    expect(decoded.nodes).toEqual(graph.nodes.map((n) => ({ ...n, attributes: n.attributes ?? {} })));
    expect(decoded.inputs).toEqual(graph.inputs);
    expect(decoded.outputs).toEqual(graph.outputs);
    expect(decoded.initializers.map(({ name, type, dims }) => ({ name, type, dims }))).toEqual(
      graph.initializers.map(({ name, type, dims }) => ({ name, type, dims })),
    );
    expect(Array.from(decoded.initializers[2]!.data)).toEqual(Array.from(graph.initializers[2]!.data));
  });

  it('counts 2 FLOPs a multiply-add in convolutions and products, elementwise ops by their outputs', () => {
    const flops = onnxFlops(encodeOnnxModel(graph, 20, 'test'));
    const conv = 2 * 6 * 8 * 8 * 4 * 9;
    const matmul = 2 * 64 * 6 * 5;
    expect(flops.byOp.Conv).toEqual({ nodes: 1, flops: conv });
    expect(flops.byOp.Add!.flops).toBe(6 * 64);
    expect(flops.byOp.Transpose!.flops).toBe(0);
    expect(flops.dense).toBe(conv + matmul);
    expect(flops.total).toBe(conv + 6 * 64 + matmul + 8 * 320 + 8 * 320);
  });
});

describe.skipIf(!ORT)('onnxruntime', () => {
  it('runs a model as the ONNX writer encodes it (ints, floats, strings, int64 and float tensors)', async () => {
    const gain = Float32Array.of(1, -2, 0.5);
    const bytes = encodeOnnxModel(
      {
        name: 'probe',
        nodes: [
          { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 1, 3] } },
          { op: 'Mul', inputs: ['t', 'gain'], outputs: ['m'] },
          { op: 'LeakyRelu', inputs: ['m'], outputs: ['l'], attributes: { alpha: { floatValue: 0.25 } } },
          { op: 'Gelu', inputs: ['l'], outputs: ['g'], attributes: { approximate: 'tanh' } },
          { op: 'Reshape', inputs: ['g', 'shape'], outputs: ['y'] },
        ],
        initializers: [
          { name: 'gain', type: 'float', dims: [3], data: new Uint8Array(gain.buffer) },
          { name: 'shape', type: 'int64', dims: [2], data: new Uint8Array(BigInt64Array.of(-1n, 3n).buffer) },
        ],
        inputs: [{ name: 'x', type: 'float', dims: [1, 2, 2, 3] }],
        outputs: [{ name: 'y', type: 'float', dims: [4, 3] }],
      },
      20,
      'test',
    );
    const session = await ORT!.InferenceSession.create(bytes, {});
    const x = Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 3);
    const { y } = await session.run({ x: new ORT!.Tensor('float32', x, [1, 2, 2, 3]) });
    const gelu = (v: number): number =>
      0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const expected: number[] = [];
    for (const [h, w] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ] as const) {
      for (let c = 0; c < 3; c++) {
        const m = x[(h * 2 + w) * 3 + c]! * gain[c]!;
        expected.push(gelu(m >= 0 ? m : 0.25 * m));
      }
    }
    const got = Array.from(y!.data as Float32Array);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
  });

  it('says which runtime it uses and refuses an unknown one', async () => {
    const missing = '/nonexistent/model.json';
    await expect(withRuntime('gpu', () => loadMaximRunner(missing))).rejects.toThrow(
      /not one of auto, onnx, tfjs/,
    );
    // tfjs loads the graph at once; onnxruntime converts it when a tile of a new size comes.
    await expect(withRuntime('tfjs', () => loadMaximRunner(missing))).rejects.toThrow(MAXIM_MISSING);
    expect((await withRuntime('auto', () => loadMaximRunner(missing))).runtime).toBe('onnxruntime');
  });

  describe.skipIf(!MODEL)('with the installed network', () => {
    let cache: string;
    beforeAll(async () => {
      await initBackend('wasm');
      cache = await mkdtemp(path.join(os.tmpdir(), 'blurspace-onnx-'));
      process.env.BLURSPACE_CACHE_DIR = cache;
    });
    afterAll(async () => {
      delete process.env.BLURSPACE_CACHE_DIR;
      await rm(cache, { recursive: true, force: true });
    });

    // 64x64 runs every op of the graph (its smallest input); 256-pixel tiles measured 125 dB apart.
    it('restores a tile as the TensorFlow.js graph does, and caches the converted model', async () => {
      const blurry = await readFloatImage(MOTION_BLURRED, { width: 64, height: 64, fit: 'cover' });
      const onnx = await withRuntime('onnx', () => loadMaximRunner(MODEL!));
      expect(onnx.runtime).toBe('onnxruntime');
      const ours = await onnx.restore(blurry.data.slice(), 64, 64);
      const reference = await maximRestore(await loadMaxim(MODEL!), blurry.data, 64, 64);
      expect(ours.length).toBe(reference.length);
      let max = 0;
      for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i]! - reference[i]!));
      expect(max).toBeLessThan(1e-4);
      expect(psnr(ours, reference)).toBeGreaterThan(80);
      // The network changed the tile (this is not a copy of the input).
      expect(psnr(reference, blurry.data)).toBeLessThan(50);
      expect(await readdir(cache)).toEqual([expect.stringMatching(/^maxim-[0-9a-f]{16}-64x64\.onnx$/)]);
      await expect(onnx.restore(blurry.data.slice(), 60, 64)).rejects.toThrow(/multiples of 64/);
      // Its arithmetic, counted on the cached model: almost all of it in convolutions and products.
      const flops = await maximTileFlops(MODEL!, 64, 64);
      expect(flops.total / 1e9).toBeCloseTo(GFLOP_64, 1);
      expect(flops.dense / flops.total).toBeGreaterThan(0.95);
    }, 300_000);
  });
});
