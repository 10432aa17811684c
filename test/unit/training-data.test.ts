import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearToSrgb, srgbToLinear } from '../../src/engine/core/colour';
import { goproWindow } from '../../src/engine/training/gopro';
import {
  correlate,
  listSources,
  loadKernels,
  makeBatch,
  makePair,
  pickKind,
  Rng,
  transformKernel,
  writeContactSheet,
  type Kernel,
  type PairKind,
  type PairOptions,
  type TrainingPair,
} from '../../src/engine/training/index';
import { kernelCentre } from '../../src/engine/training/kernels';
import { HAS_SHARED_DATA, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';
import { makeDataRoot, TEST_FRAMES, TEST_KERNELS_ROOT } from '../helpers/test-images';

/** A small data folder in the shared data's layout, made from the test photos. */
let DATA: string;
beforeAll(async () => {
  DATA = await makeDataRoot(await mkdtemp(join(tmpdir(), 'training-data-root-')));
});
afterAll(() => rm(DATA, { recursive: true, force: true }));

const KINDS: PairKind[] = ['gopro', 'shake', 'kernel'];
const NO_CAPTURE = { noise: false, jpeg: false };

function base(over: Partial<PairOptions> = {}): PairOptions {
  return { seed: 11, index: 0, size: 64, split: 'train', dataRoot: DATA, ...over };
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Mean squared horizontal + vertical difference of the green channel. */
function gradientEnergy(p: Float32Array, w: number, h: number): number {
  let e = 0;
  for (let y = 0; y < h - 1; y++) {
    for (let x = 0; x < w - 1; x++) {
      const i = (y * w + x) * 3 + 1;
      e += (p[i + 3] - p[i]) ** 2 + (p[i + w * 3] - p[i]) ** 2;
    }
  }
  return e / ((w - 1) * (h - 1));
}

function expectValid(p: TrainingPair): void {
  expect(p.sharp.length).toBe(p.width * p.height * 3);
  expect(p.blurry.length).toBe(p.width * p.height * 3);
  for (const a of [p.sharp, p.blurry]) {
    let ok = true;
    for (const v of a) if (!(v >= 0 && v <= 1)) ok = false;
    expect(ok, `${p.info.kind} #${p.info.index}: values outside [0, 1] or NaN`).toBe(true);
  }
}

describe('seeded generator', () => {
  it('replays from its seed and differs between seeds', () => {
    const draw = (...seed: number[]) => {
      const r = new Rng(...seed);
      return Array.from({ length: 16 }, () => r.next());
    };
    expect(draw(1, 2, 3)).toEqual(draw(1, 2, 3));
    expect(draw(1, 2, 3)).not.toEqual(draw(1, 3, 3));
    expect(draw(2 ** 40, 1)).not.toEqual(draw(0, 1));
    const r = new Rng(5);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const g = r.normal();
      sum += g;
      sq += g * g;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });
});

describe('kernel orientation: blurry = correlate(sharp, k), as MATLAB imfilter', () => {
  /** A point light at (py, px) must come out as the kernel rotated by 180 degrees around its centre tap. */
  function checkImpulse(k: Kernel): void {
    const w = k.width + 20;
    const h = k.height + 20;
    const px = 10 + kernelCentre(k).x;
    const py = 10 + kernelCentre(k).y;
    const img = new Float32Array(w * h * 3);
    img[(py * w + px) * 3 + 1] = 1;
    const out = correlate(img, w, h, 3, k);
    const c = kernelCentre(k);
    // out(py + a, px + b) = k(cy - a, cx - b): the patch starting at (py + cy - (kh - 1), px + cx - (kw - 1)).
    const y0 = py + c.y - (k.height - 1);
    const x0 = px + c.x - (k.width - 1);
    let err = 0;
    let total = 0;
    for (let r = 0; r < k.height; r++) {
      for (let s = 0; s < k.width; s++) {
        const rotated = k.data[(k.height - 1 - r) * k.width + (k.width - 1 - s)];
        err = Math.max(err, Math.abs(out[((y0 + r) * w + x0 + s) * 3 + 1] - rotated));
      }
    }
    for (let i = 1; i < out.length; i += 3) total += out[i];
    expect(err, k.id).toBeLessThan(1e-7);
    expect(total).toBeCloseTo(1, 5);
  }

  it('holds for a hand-made asymmetric kernel, odd and even sized', () => {
    // 3x3: weight 0.7 right of the centre, 0.3 below it. Correlation reads src(y, x + 1), so a point
    // light at (5, 5) must land at (5, 4) with 0.7 and at (4, 5) with 0.3.
    const k: Kernel = {
      id: 'l',
      width: 3,
      height: 3,
      data: Float32Array.from([0, 0, 0, 0, 0, 0.7, 0, 0.3, 0]),
    };
    const img = new Float32Array(11 * 11 * 3);
    img[(5 * 11 + 5) * 3] = 1;
    const out = correlate(img, 11, 11, 3, k);
    expect(out[(5 * 11 + 4) * 3]).toBeCloseTo(0.7, 6);
    expect(out[(4 * 11 + 5) * 3]).toBeCloseTo(0.3, 6);
    expect(out[(5 * 11 + 6) * 3]).toBe(0);
    checkImpulse(k);
    const even: Kernel = {
      id: 'even',
      width: 4,
      height: 2,
      data: Float32Array.from([0.1, 0, 0.2, 0, 0, 0.3, 0, 0.4]),
    };
    checkImpulse(even);
    checkImpulse(transformKernel(even, 5));
  });

  it('holds for the test kernels (the motion ones are not symmetric)', async () => {
    const kernels = await loadKernels(TEST_KERNELS_ROOT);
    expect(kernels).toHaveLength(6);
    for (const k of kernels) checkImpulse(k);
    const large = kernels.find((k) => k.id === 'motion_large')!;
    const rot = transformKernel(large, 3);
    let diff = 0;
    for (let i = 0; i < rot.data.length; i++) diff += Math.abs(rot.data[i] - large.data[i]);
    expect(diff).toBeGreaterThan(0.5);
  });

  it('transforms kernels by the 8 symmetries of the square', () => {
    const k: Kernel = { id: 'k', width: 3, height: 2, data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    expect(Array.from(transformKernel(k, 0).data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(transformKernel(k, 1).data)).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(transformKernel(k, 3).data)).toEqual([6, 5, 4, 3, 2, 1]);
    const t = transformKernel(k, 4);
    expect([t.width, t.height, ...t.data]).toEqual([2, 3, 1, 4, 2, 5, 3, 6]);
  });
});

/** first, first + 1, ..., last. */
const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('train/validation split', () => {
  it('keeps validation photos out of the training list', async () => {
    const train = await listSources(DATA, 'train');
    const val = await listSources(DATA, 'val');
    expect(val.photos).toHaveLength(2);
    expect(train.photos).toHaveLength(3);
    expect(val.photos.every((p) => /photos\/(enlightenment-data|palapeli-data)\//.test(p))).toBe(true);
    expect(train.photos.some((p) => /enlightenment-data|palapeli-data/.test(p))).toBe(false);
  });

  it('keeps GoPro frames from 250 on out of the training list', async () => {
    const train = await listSources(DATA, 'train');
    const val = await listSources(DATA, 'val');
    expect(val.frames.map((f) => f.number)).toEqual(range(...TEST_FRAMES.val));
    expect(train.frames.map((f) => f.number)).toEqual(range(...TEST_FRAMES.train));
  });

  it.skipIf(!HAS_SHARED_DATA)(
    `splits the shared data 46 / 19 photos and frames 1-249 / 250-299 ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`,
    async () => {
      const train = await listSources(SHARED_DATA, 'train');
      const val = await listSources(SHARED_DATA, 'val');
      expect([train.photos.length, val.photos.length]).toEqual([46, 19]);
      expect(train.photos.filter((p) => val.photos.includes(p))).toEqual([]);
      expect(val.frames.map((f) => f.number)).toEqual(range(250, 299));
      expect(train.frames.map((f) => f.number)).toEqual(range(1, 249));
    },
  );

  it('never lets a GoPro window straddle frame 250', async () => {
    for (const split of ['train', 'val'] as const) {
      const { frames } = await listSources(DATA, split);
      for (let i = 0; i < 2000; i++) {
        const w = goproWindow(new Rng(3, i), frames).map((f) => f.number);
        expect([7, 9, 11, 13]).toContain(w.length);
        expect(w.every((n, j) => j === 0 || n === w[j - 1] + 1)).toBe(true);
        expect(split === 'train' ? w.at(-1)! < 250 : w[0] >= 250).toBe(true);
      }
      for (let index = 0; index < 3; index++) {
        const frames = (await makePair('gopro', base({ index, split, size: 32 }))).info.frames!;
        expect(frames.every((n) => (split === 'train' ? n < 250 : n >= 250))).toBe(true);
      }
    }
  });

  it('draws synthetic pairs from the right photos', async () => {
    for (let index = 0; index < 4; index++) {
      const train = await makePair('shake', base({ index, size: 32 }));
      const val = await makePair('kernel', base({ index, size: 32, split: 'val' }));
      expect(train.info.source).not.toMatch(/enlightenment-data|palapeli-data/);
      expect(val.info.source).toMatch(/^photos\/(enlightenment-data|palapeli-data)\//);
    }
  });
});

describe('pairs', () => {
  it('are deterministic in (seed, index) and differ between indices', async () => {
    for (const kind of KINDS) {
      const a = await makePair(kind, base({ index: 5 }));
      const b = await makePair(kind, base({ index: 5 }));
      const c = await makePair(kind, base({ index: 6 }));
      expect(bytes(a.sharp).equals(bytes(b.sharp)), kind).toBe(true);
      expect(bytes(a.blurry).equals(bytes(b.blurry)), kind).toBe(true);
      expect(a.info).toEqual(b.info);
      expect(bytes(a.blurry).equals(bytes(c.blurry)), kind).toBe(false);
    }
  });

  it('hold values in [0, 1] without NaN', async () => {
    for (const kind of KINDS) {
      for (let index = 0; index < 4; index++) expectValid(await makePair(kind, base({ index, seed: 2 })));
    }
  });

  it('GoPro: blurry is the mean of the frames in linear light, sharp the middle frame', async () => {
    const pair = await makePair('gopro', base({ index: 1, size: 32, split: 'val' }));
    const { crop, frames } = pair.info;
    const [u, v] = [5, 7];
    const dir = join(DATA, 'gopro_frames', 'GOPR0477_11_00');
    const pixels = await Promise.all(
      frames!.map(async (n) => {
        const file = join(dir, `${String(n).padStart(6, '0')}.jpg`);
        const region = { left: crop.x + u, top: crop.y + v, width: 1, height: 1 };
        return sharp(file).extract(region).raw().toBuffer();
      }),
    );
    const i = (v * 32 + u) * 3;
    const middle = pixels[pixels.length >> 1];
    for (let c = 0; c < 3; c++) {
      const mean = pixels.reduce((s, p) => s + srgbToLinear(p[c] / 255), 0) / pixels.length;
      expect(pair.blurry[i + c]).toBeCloseTo(linearToSrgb(mean), 4);
      expect(pair.sharp[i + c]).toBeCloseTo(middle[c] / 255, 6);
    }
  });

  it('GoPro with whole frames: the same frames uncropped, of which the square pair is a crop', async () => {
    const square = await makePair('gopro', base({ index: 1, size: 32, split: 'val' }));
    const whole = await makePair('gopro', base({ index: 1, size: 32, split: 'val', fullFrame: true }));
    expect(whole.info.frames).toEqual(square.info.frames);
    const first = join(
      DATA,
      'gopro_frames',
      'GOPR0477_11_00',
      `${String(whole.info.frames![0]).padStart(6, '0')}.jpg`,
    );
    const { width, height } = await sharp(first).metadata();
    expect([whole.width, whole.height]).toEqual([width, height]);
    const { x, y } = square.info.crop;
    for (const [u, v] of [
      [0, 0],
      [31, 5],
      [7, 31],
    ]) {
      for (let c = 0; c < 3; c++) {
        const i = (v * 32 + u) * 3 + c;
        const j = ((y + v) * whole.width + x + u) * 3 + c;
        expect(whole.sharp[j]).toBe(square.sharp[i]);
        expect(whole.blurry[j]).toBeCloseTo(square.blurry[i], 6);
      }
    }
  });

  it('shake: no motion gives blurry == sharp when noise and JPEG are off', async () => {
    for (let index = 0; index < 3; index++) {
      const p = await makePair('shake', base({ index, maxBlurPx: 0, capture: NO_CAPTURE }));
      expect(p.info.shake!.blurPx).toBe(0);
      let err = 0;
      for (let i = 0; i < p.sharp.length; i++) err = Math.max(err, Math.abs(p.sharp[i] - p.blurry[i]));
      expect(err).toBeLessThan(1e-5);
    }
  });

  it('shake: the blur grows with maxBlurPx', async () => {
    for (let index = 0; index < 3; index++) {
      const ratios = [];
      for (const maxBlurPx of [3, 15, 60]) {
        const p = await makePair('shake', base({ index, size: 96, maxBlurPx, capture: NO_CAPTURE }));
        expect(p.info.shake!.blurPx).toBeLessThanOrEqual(maxBlurPx * 1.02);
        expect(p.info.shake!.trace).toHaveLength(p.info.shake!.poses);
        ratios.push(gradientEnergy(p.blurry, 96, 96) / gradientEnergy(p.sharp, 96, 96));
      }
      expect(ratios[1]).toBeLessThan(ratios[0]);
      expect(ratios[2]).toBeLessThan(ratios[1]);
    }
  });

  it('kernel: blurry is the sharp crop correlated with the (transformed) kernel in linear light', async () => {
    const kernels = await loadKernels(DATA);
    const size = 128;
    const capture = { ...NO_CAPTURE, tone: false, highlights: false };
    const p = await makePair('kernel', base({ index: 3, size, capture }));
    const { id, symmetry } = p.info.kernel!;
    const k = transformKernel(
      kernels.find((q) => q.id === id)!,
      symmetry,
    );
    const linear = p.sharp.map(srgbToLinear);
    const expected = correlate(linear, size, size, 3, k);
    // Away from the crop's border, where the true blur saw pixels outside the crop.
    const r = Math.max(k.width, k.height);
    let err = 0;
    for (let y = r; y < size - r; y++) {
      for (let x = r; x < size - r; x++) {
        for (let c = 0; c < 3; c++) {
          const i = (y * size + x) * 3 + c;
          err = Math.max(err, Math.abs(srgbToLinear(p.blurry[i]) - expected[i]));
        }
      }
    }
    expect(err).toBeLessThan(2e-4);
  });

  it('sceneIndex puts the same blur and capture on the scene of another pair', async () => {
    const own = await makePair('kernel', base({ index: 3 }));
    const moved = await makePair('kernel', base({ index: 3, sceneIndex: 40 }));
    const scene = await makePair('kernel', base({ index: 40 }));
    expect(moved.info.kernel).toEqual(own.info.kernel);
    expect(moved.info.capture).toEqual(own.info.capture);
    expect([moved.info.source, moved.info.crop]).toEqual([scene.info.source, scene.info.crop]);
    expect(bytes(moved.sharp).equals(bytes(own.sharp))).toBe(false);
    const shake = await makePair('shake', base({ index: 3 }));
    const movedShake = await makePair('shake', base({ index: 3, sceneIndex: 40 }));
    expect(movedShake.info.shake!.poses).toBe(shake.info.shake!.poses);
    // The same camera motion; its length in pixels depends a little on where the crop sits in the frame.
    expect(movedShake.info.shake!.blurPx).toBeCloseTo(shake.info.shake!.blurPx, 1);
  });

  it('batches fill NHWC buffers with the kind mix', async () => {
    const opts = { seed: 4, batch: 2, batchSize: 4, size: 32, split: 'train' as const, dataRoot: DATA };
    const b = await makeBatch(opts);
    expect([b.count, b.size]).toEqual([4, 32]);
    expect(b.sharp.length).toBe(4 * 32 * 32 * 3);
    expect(b.infos.map((i) => i.kind)).toEqual([8, 9, 10, 11].map((i) => pickKind(4, i)));
    const one = await makePair(b.infos[1].kind, { ...opts, index: 9 });
    expect(bytes(b.blurry.subarray(32 * 32 * 3, 2 * 32 * 32 * 3)).equals(bytes(one.blurry))).toBe(true);
    const withPartners = await makeBatch({ ...opts, mix: { gopro: 1, kernel: 1 }, partners: true });
    const synthetic = withPartners.infos.flatMap((info, i) => (info.kind === 'gopro' ? [] : [i]));
    expect(synthetic.length).toBeGreaterThan(0);
    expect(withPartners.partners!.of).toEqual(synthetic);
    const first = withPartners.partners!.of[0]!;
    const partner = await makePair('kernel', { ...opts, index: 8 + first, sceneIndex: 2 ** 30 + 8 + first });
    expect(bytes(withPartners.partners!.blurry.subarray(0, 32 * 32 * 3)).equals(bytes(partner.blurry))).toBe(
      true,
    );
    expect(partner.info.kernel).toEqual(withPartners.infos[first]!.kernel);
    const only = await makeBatch({ ...opts, mix: { shake: 1 } });
    expect(only.infos.every((i) => i.kind === 'shake')).toBe(true);
  });

  describe('contact sheet', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'training-data-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('draws sharp | blurry pairs in a grid', async () => {
      const pairs = await Promise.all(KINDS.map((kind, index) => makePair(kind, base({ index, size: 48 }))));
      const out = join(dir, 'sheet.png');
      await writeContactSheet(pairs, out, { columns: 2 });
      const meta = await sharp(out).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([
        'png',
        2 * (48 * 2 + 4 + 4) + 4,
        2 * (48 + 14 + 4) + 4,
      ]);
    });
  });
});
