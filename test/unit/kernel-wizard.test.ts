import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KernelWizard,
  sampleKernel,
  vaeKlDivergence,
  type KernelWizardConfig,
  type StateTensor,
} from '../../src/engine/model/kernel-wizard';
import { conv2d, convTranspose2d, pixelShuffle } from '../../src/engine/model/layers';
import { loadModel } from '../../src/engine/model/model-store';
import { warmStartWeights } from '../../src/engine/training/trainer';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'parity');

interface FixtureIndex {
  config: KernelWizardConfig;
  gSize: [number, number];
  fSize: [number, number];
  entries: Array<{ name: string; dtype: string; shape: number[]; offset: number; bytes: number }>;
}

interface Fixture {
  index: FixtureIndex;
  state: Map<string, StateTensor>;
  arrays: Map<string, StateTensor>;
}

function loadFixture(): Fixture {
  const index = JSON.parse(
    readFileSync(path.join(FIXTURE, 'kernel-wizard-tiny.json'), 'utf8'),
  ) as FixtureIndex;
  // The fixture is the authors' network, which has neither the full-resolution skip nor detail gates.
  index.config = { ...index.config, fullResolutionSkip: false, detailGates: 0, codeModulation: false };
  const bin = readFileSync(path.join(FIXTURE, 'kernel-wizard-tiny.bin'));
  const state = new Map<string, StateTensor>();
  const arrays = new Map<string, StateTensor>();
  for (const e of index.entries) {
    if (e.dtype !== 'float32') throw new Error(`unexpected dtype ${e.dtype}`);
    const bytes = bin.buffer.slice(bin.byteOffset + e.offset, bin.byteOffset + e.offset + e.bytes);
    const tensor = { shape: e.shape, data: new Float32Array(bytes) };
    if (e.name.startsWith('state.')) state.set(e.name.slice('state.'.length), tensor);
    else arrays.set(e.name, tensor);
  }
  return { index, state, arrays };
}

/** The integer test image of scripts/make-parity-fixture.py, NHWC. */
function pattern(height: number, width: number, seed: number): tf.Tensor4D {
  const data = new Float32Array(height * width * 3);
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      for (let c = 0; c < 3; c++) {
        const u8 =
          (i * 5 + j * 3 + c * 50 + ((Math.floor(i / 8) + Math.floor(j / 8)) % 2) * 60 + seed * 37) % 256;
        data[(i * width + j) * 3 + c] = u8 / 255;
      }
    }
  }
  return tf.tensor4d(data, [1, height, width, 3]);
}

const nchwToNhwc = (t: StateTensor): tf.Tensor4D =>
  tf.tensor4d(t.data, t.shape as [number, number, number, number]).transpose([0, 2, 3, 1]);

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

function maxRelDiff(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

const TINY: KernelWizardConfig = {
  inputNc: 3,
  nf: 4,
  frontRBs: 1,
  backRBs: 1,
  kernelDim: 8,
  useVAE: false,
  extractorBlocks: 1,
  extractorNorm: 'none',
  extractorPadding: 'reflect',
  adapterNorm: 'none',
  reconNf: 8,
  fullResolutionSkip: false,
  detailGates: 0,
  codeModulation: false,
};

let fixture: Fixture;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  fixture = loadFixture();
});

describe('layers', () => {
  // Gradients on wasm (custom filter gradient) against the cpu backend's built-in ones.
  async function gradients(
    backend: string,
    f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor,
    xs: StateTensor,
    ws: StateTensor,
  ): Promise<Float32Array[]> {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor4d(xs.data, xs.shape as [number, number, number, number]);
      const w = tf.tensor4d(ws.data, ws.shape as [number, number, number, number]);
      // A non-uniform upstream gradient, so every output position matters.
      const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
        const y = f(a as tf.Tensor4D, b as tf.Tensor4D);
        return tf.sum(tf.mul(tf.square(y), tf.linspace(0.5, 1.5, y.size).reshape(y.shape)));
      };
      return tf
        .grads(loss)([x, w])
        .map((g) => g.dataSync() as Float32Array);
    });
  }

  function random(shape: number[], seed: number): StateTensor {
    return tf.tidy(() => ({
      shape,
      data: tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array,
    }));
  }

  const convCases: Array<{ name: string; k: number; stride: number; pad: number }> = [
    { name: '3x3 stride 1 pad 1', k: 3, stride: 1, pad: 1 },
    { name: '3x3 stride 2 pad 1', k: 3, stride: 2, pad: 1 },
    { name: '7x7 valid', k: 7, stride: 1, pad: 0 },
    { name: '4x4 stride 2 pad 1', k: 4, stride: 2, pad: 1 },
  ];
  for (const c of convCases) {
    it(`conv2d gradients match the cpu backend (${c.name})`, async () => {
      const xs = random([2, 12, 10, 3], 1);
      const ws = random([c.k, c.k, 3, 5], 2);
      const want = await gradients('cpu', (x, w) => tf.conv2d(x, w, c.stride, c.pad), xs, ws);
      const got = await gradients('wasm', (x, w) => conv2d(x, w, null, c.stride, c.pad), xs, ws);
      expect(maxRelDiff(got[0]!, want[0]!)).toBeLessThan(1e-3);
      expect(maxRelDiff(got[1]!, want[1]!)).toBeLessThan(1e-3);
    });
  }

  it('conv2d bias gradient is the sum of the upstream gradient', () => {
    const [gb] = tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 4) as tf.Tensor4D;
      return tf.grads((b: tf.Tensor) => tf.sum(conv2d(x, w, b as tf.Tensor1D, 1, 1)))([tf.zeros([4])]);
    });
    expect(Array.from(gb!.dataSync())).toEqual([72, 72, 72, 72]);
    gb!.dispose();
  });

  it('convTranspose2d (kernel 4, stride 2, pad 1) gradients match the cpu backend', async () => {
    const xs = random([2, 5, 4, 6], 5);
    const ws = random([4, 4, 3, 6], 6);
    const out: [number, number, number, number] = [2, 10, 8, 3];
    const want = await gradients('cpu', (x, w) => tf.conv2dTranspose(x, w, out, 2, 1), xs, ws);
    const got = await gradients('wasm', (x, w) => convTranspose2d(x, w, null, 2, 1), xs, ws);
    expect(maxRelDiff(got[0]!, want[0]!)).toBeLessThan(1e-3);
    expect(maxRelDiff(got[1]!, want[1]!)).toBeLessThan(1e-3);
  });

  it("pixelShuffle follows PyTorch's channel order and has a gradient", () => {
    const [n, h, w, c, r] = [2, 3, 4, 5, 2];
    const input = tf.range(0, n * h * w * c * r * r).reshape([n, h, w, c * r * r]) as tf.Tensor4D;
    const out = pixelShuffle(input, r);
    expect(out.shape).toEqual([n, h * r, w * r, c]);
    const inData = input.dataSync();
    const outData = out.dataSync();
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h * r; y++) {
        for (let x = 0; x < w * r; x++) {
          for (let ch = 0; ch < c; ch++) {
            const src =
              ((b * h + Math.floor(y / r)) * w + Math.floor(x / r)) * c * r * r +
              ch * r * r +
              (y % r) * r +
              (x % r);
            expect(outData[((b * h * r + y) * w * r + x) * c + ch]).toBe(inData[src]);
          }
        }
      }
    }
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.square(pixelShuffle(t as tf.Tensor4D, r))))(input);
    expect(maxAbsDiff(grad, tf.mul(input, 2))).toBe(0);
    tf.dispose([input, out, grad]);
  });
});

describe('KernelWizard', () => {
  function expectParity(model: KernelWizard): void {
    const { index, arrays } = fixture;
    tf.tidy(() => {
      const [gh, gw] = index.gSize;
      const g = model.extractKernel(pattern(gh, gw, 0), pattern(gh, gw, 1));
      const gWant = nchwToNhwc(arrays.get('output.G')!);
      expect(g.shape).toEqual(gWant.shape);
      expect(maxAbsDiff(g, gWant)).toBeLessThanOrEqual(1e-4);

      const [fh, fw] = index.fSize;
      const f = model.adaptiveBlur(pattern(fh, fw, 0), nchwToNhwc(arrays.get('input.code')!));
      const fWant = nchwToNhwc(arrays.get('output.F')!);
      expect(f.shape).toEqual(fWant.shape);
      expect(maxAbsDiff(f, fWant)).toBeLessThanOrEqual(1e-4);
    });
    model.dispose();
  }

  it('matches the PyTorch reference for G and F (max abs error <= 1e-4)', () => {
    const model = KernelWizard.create(fixture.index.config, 1);
    model.loadStateDict(fixture.state);
    expectParity(model);
  });

  it("loads the PyTorch .pth through the checkpoint loader and the engine's model store, with parity", async () => {
    const loaded = await loadModel(path.join(FIXTURE, 'kernel-wizard-tiny.pth'));
    expect(loaded.description).toMatch(/authors' PyTorch format; nf 4/);
    expect(loaded.model.config).toMatchObject({
      nf: 4,
      frontRBs: 1,
      kernelDim: fixture.index.config.kernelDim,
    });
    expectParity(loaded.model);
  });

  it('inferConfig recovers the fixture configuration from names and shapes', () => {
    const shapes = new Map([...fixture.state].map(([k, t]) => [k, t.shape]));
    expect(KernelWizard.inferConfig(shapes)).toEqual(fixture.index.config);
    const model = KernelWizard.fromStateDict(fixture.state);
    expect(model.config).toEqual(fixture.index.config);
    model.dispose();
  });

  it('stateDict round-trips exactly, in PyTorch layout and order', () => {
    const model = KernelWizard.create(fixture.index.config, 2);
    model.loadStateDict(fixture.state);
    const out = model.stateDict();
    expect([...out.keys()]).toEqual([...fixture.state.keys()]);
    for (const [key, t] of fixture.state) {
      expect(out.get(key)!.shape).toEqual(t.shape);
      expect(Buffer.from(out.get(key)!.data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true);
    }
    model.dispose();
  });

  it('create is deterministic for a seed', () => {
    const a = KernelWizard.create(TINY, 7);
    const b = KernelWizard.create(TINY, 7);
    const c = KernelWizard.create(TINY, 8);
    const key = 'adapter.model.submodule.down.1.weight';
    expect(Array.from(a.stateDict().get(key)!.data)).toEqual(Array.from(b.stateDict().get(key)!.data));
    expect(Array.from(a.stateDict().get(key)!.data)).not.toEqual(Array.from(c.stateDict().get(key)!.data));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('loadStateDict names missing keys, unexpected keys and shape mismatches', () => {
    const model = KernelWizard.create(fixture.index.config, 3);
    const missing = new Map(fixture.state);
    missing.delete('recon_trunk.1.conv2.bias');
    expect(() => model.loadStateDict(missing)).toThrow(/missing key "recon_trunk\.1\.conv2\.bias"/);
    const extra = new Map(fixture.state);
    extra.set('adapter.model.extra.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => model.loadStateDict(extra)).toThrow(/unexpected key "adapter\.model\.extra\.weight"/);
    const wrong = new Map(fixture.state);
    wrong.set('feature_extractor.0.weight', { shape: [5, 3, 3, 3], data: new Float32Array(135) });
    expect(() => model.loadStateDict(wrong)).toThrow(
      /shape mismatch for "feature_extractor\.0\.weight": expected \[4, 3, 3, 3\], got \[5, 3, 3, 3\].*architecture differs from the config/,
    );
    // Nothing was assigned by the failed loads.
    const before = model.stateDict().get('feature_extractor.0.weight')!.data;
    expect(before).not.toEqual(fixture.state.get('feature_extractor.0.weight')!.data);
    model.dispose();
  });

  it('inferConfig rejects a state_dict that is not a KernelWizard', () => {
    expect(() => KernelWizard.inferConfig(new Map([['conv.weight', [8, 3, 3, 3]]]))).toThrow(
      /Not a KernelWizard state_dict: key "feature_extractor\.0\.weight" is missing/,
    );
  });

  it('a VAE with instance norm and zero padding builds, infers and runs; KL and sampling work', () => {
    const config: KernelWizardConfig = {
      ...TINY,
      useVAE: true,
      extractorNorm: 'instance',
      adapterNorm: 'instance',
      extractorPadding: 'zero',
    };
    const model = KernelWizard.create(config, 4);
    const shapes = new Map([...model.stateDict()].map(([k, t]) => [k, t.shape]));
    expect(KernelWizard.inferConfig(shapes)).toEqual(config);
    tf.tidy(() => {
      const x = pattern(128, 128, 0);
      const post = model.extractKernelPosterior(x, pattern(128, 128, 1));
      expect(post.mean.shape).toEqual([1, 1, 1, 8]);
      expect(post.sigma!.shape).toEqual([1, 1, 1, 8]);
      const code = sampleKernel(post, tf.randomNormal([1, 1, 1, 8]) as tf.Tensor4D);
      expect(Number.isFinite(vaeKlDivergence(post).dataSync()[0])).toBe(true);
      expect(model.adaptiveBlur(x, code).shape).toEqual([1, 128, 128, 3]);
    });
    model.dispose();
  });

  it("the full-resolution skip (not in the paper): F's last convs take x too; inferred from the shapes; started from a plain model it is that model", () => {
    const config: KernelWizardConfig = { ...TINY, fullResolutionSkip: true };
    const model = KernelWizard.create(config, 5);
    const state = model.stateDict();
    expect(state.get('recon_trunk.7.weight')!.shape).toEqual([8, 8 + 3, 3, 3]);
    expect(KernelWizard.inferConfig(new Map([...state].map(([k, t]) => [k, t.shape])))).toEqual(config);
    const plain = KernelWizard.create(TINY, 6);
    const x = pattern(256, 256, 0);
    const y = pattern(256, 256, 1);
    const ownWeights = model.adaptiveBlur(x, model.extractKernel(x, y));
    // The skip's x inputs start at zero: exactly the plain network.
    model.loadStateDict(warmStartWeights(state, plain.stateDict()));
    const started = model.adaptiveBlur(x, model.extractKernel(x, y));
    const plainOut = plain.adaptiveBlur(x, plain.extractKernel(x, y));
    expect(maxAbsDiff(started, plainOut)).toBeLessThan(1e-6);
    expect(maxAbsDiff(ownWeights, plainOut)).toBeGreaterThan(1e-4);
    tf.dispose([x, y, ownWeights, started, plainOut]);
    [model, plain].forEach((m) => m.dispose());
  });

  it('detail gates (not in the paper): inferred from the shapes; a plain model seeds them and is unchanged until they open', () => {
    const config: KernelWizardConfig = { ...TINY, detailGates: 2 };
    const model = KernelWizard.create(config, 5);
    const state = model.stateDict();
    expect(state.get('detail_bank.weight')!.shape).toEqual([6, 3, 7, 7]);
    expect(state.get('detail_gates.weight')!.shape).toEqual([6, 8, 3, 3]);
    expect(KernelWizard.inferConfig(new Map([...state].map(([k, t]) => [k, t.shape])))).toEqual(config);
    const plain = KernelWizard.create(TINY, 6);
    const seeded = warmStartWeights(state, plain.stateDict());
    model.loadStateDict(seeded);
    const x = pattern(256, 256, 0);
    const y = pattern(256, 256, 1);
    const closed = model.adaptiveBlur(x, model.extractKernel(x, y));
    const plainOut = plain.adaptiveBlur(x, plain.extractKernel(x, y));
    expect(maxAbsDiff(closed, plainOut)).toBeLessThan(1e-6);
    const gates = seeded.get('detail_gates.weight')!;
    model.loadStateDict(
      new Map(seeded).set('detail_gates.weight', { shape: gates.shape, data: gates.data.map(() => 0.01) }),
    );
    const open = model.adaptiveBlur(x, model.extractKernel(x, y));
    expect(maxAbsDiff(open, plainOut)).toBeGreaterThan(1e-4);
    tf.dispose([x, y, closed, plainOut, open]);
    [model, plain].forEach((m) => m.dispose());
  });

  it('code modulation (not in the paper): inferred from the shapes; starts silent; then the code steers the skip path', () => {
    const config: KernelWizardConfig = { ...TINY, fullResolutionSkip: true, codeModulation: true };
    const model = KernelWizard.create(config, 5);
    const state = model.stateDict();
    expect(state.get('code_film.weight')!.shape).toEqual([16, 8, 1, 1]);
    expect(KernelWizard.inferConfig(new Map([...state].map(([k, t]) => [k, t.shape])))).toEqual(config);
    const plain = KernelWizard.create({ ...config, codeModulation: false }, 6);
    const seeded = warmStartWeights(state, plain.stateDict());
    model.loadStateDict(seeded);
    // Two images of two cells each, so the repeated cells are checked across the grid and the batch.
    const x = tf.concat([pattern(128, 256, 0), pattern(128, 256, 2)]) as tf.Tensor4D;
    const codeA = tf.randomUniform([2, 1, 2, 8], -1, 1, 'float32', 3) as tf.Tensor4D;
    const codeB = tf.randomUniform([2, 1, 2, 8], -1, 1, 'float32', 4) as tf.Tensor4D;
    expect(maxAbsDiff(model.adaptiveBlur(x, codeA), plain.adaptiveBlur(x, codeA))).toBeLessThan(1e-6);
    const film = seeded.get('code_film.weight')!;
    model.loadStateDict(
      new Map(seeded).set('code_film.weight', {
        shape: film.shape,
        data: film.data.map((_, i) => ((i % 7) - 3) / 10),
      }),
    );
    const steeredA = model.adaptiveBlur(x, codeA);
    expect(maxAbsDiff(steeredA, plain.adaptiveBlur(x, codeA))).toBeGreaterThan(1e-4);
    // Another code for the second image only: the first image stays exactly as it was.
    const codeC = tf.concat([
      codeA.slice([0, 0, 0, 0], [1, 1, 2, 8]),
      codeB.slice([1, 0, 0, 0], [1, 1, 2, 8]),
    ]) as tf.Tensor4D;
    const steeredC = model.adaptiveBlur(x, codeC);
    expect(
      maxAbsDiff(
        steeredC.slice([0, 0, 0, 0], [1, -1, -1, -1]),
        steeredA.slice([0, 0, 0, 0], [1, -1, -1, -1]),
      ),
    ).toBe(0);
    expect(maxAbsDiff(steeredC, steeredA)).toBeGreaterThan(1e-4);
    tf.dispose([x, codeA, codeB, codeC, steeredA, steeredC]);
    [model, plain].forEach((m) => m.dispose());
  });

  it('rejects images that are not multiples of 128, and reflect-padded G below 256', () => {
    const model = KernelWizard.create(TINY, 5);
    tf.tidy(() => {
      expect(() => model.adaptiveBlur(tf.zeros([1, 130, 128, 3]), tf.zeros([1, 1, 1, 8]))).toThrow(
        /multiples of 128/,
      );
      expect(() => model.adaptiveBlur(tf.zeros([1, 128, 256, 3]), tf.zeros([1, 1, 1, 8]))).toThrow(
        /kernel code must be \[1, 1, 2, 8\]/,
      );
      expect(() => model.extractKernel(tf.zeros([1, 128, 256, 3]), tf.zeros([1, 128, 256, 3]))).toThrow(
        /at least 256x256/,
      );
    });
    model.dispose();
  });

  it('leaks no tensors in forward passes or in forward + backward', () => {
    const model = KernelWizard.create(TINY, 6);
    const x = pattern(256, 256, 0);
    const y = pattern(256, 256, 1);
    const before = tf.memory().numTensors;
    const k = model.extractKernel(x, y);
    const f = model.adaptiveBlur(x, k);
    tf.dispose([k, f]);
    const post = model.extractKernelPosterior(x, y);
    tf.dispose([post.mean]);
    expect(tf.memory().numTensors).toBe(before);

    const { value, grads } = tf.variableGrads(() => {
      const code = model.extractKernel(x, y);
      return tf.mean(tf.abs(tf.sub(model.adaptiveBlur(x, code), y))) as tf.Scalar;
    }, model.trainableVariables());
    expect(Object.keys(grads)).toHaveLength(model.trainableVariables().length);
    const total = tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.abs(g)))).dataSync()[0]!);
    expect(Number.isFinite(total) && total > 0).toBe(true);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });
});
