// Blind deblurring jobs on the test photos with a small untrained model: the loop, its live losses and
// previews, the output file, and cancellation; and the fast mode's blind kernel estimation on a sharp crop
// blurred with a known motion kernel. Restoration quality is measured by `npm run bench:deblur`.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSpec, type EngineEvent, type JobSpecInput } from '../../src/common/api';
import {
  BLIND_KERNEL_DEFAULTS,
  estimateBlurKernel,
  type BlindKernelLoss,
  type FinestStart,
  psfSimilarity,
} from '../../src/engine/deblur/blind-kernel';
import { reliability } from '../../src/engine/deblur/fast-mode';
import { Engine } from '../../src/engine/engine';
import { findMaximModel } from '../../src/engine/model/maxim';
import { luma } from '../../src/engine/kernels/psf';
import { correlate, kernelToPsf, loadKernels } from '../../src/engine/training';
import type { ProgressUpdate } from '../../src/engine/core/progress';
import { jobEnded, nextEvent, startTestEngine } from '../helpers/engine';
import { MOTION_BLURRED, TEST_KERNELS_ROOT, writeLargePhoto, writeShakenPhoto } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';

describe('deblur jobs', () => {
  let dir: string;
  let checkpointPath: string;
  let photoPath: string;
  /** A sharp photo of about 2 MP: its (small) blur is found reliably and the restoration takes seconds. */
  let largePhoto: string;
  let engine: Engine;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-deblur-'));
    checkpointPath = path.join(dir, 'tiny.safetensors');
    // Without learned mode's network, paper mode starts from noise, as in the paper: these tests are about
    // its optimisation (its start from the network is the next test's and the benchmark's business).
    engine = await Engine.create({
      backend: 'wasm',
      checkpointPath,
      defaultCheckpointPath: checkpointPath,
      learnedModel: null,
    });
    await saveTinyCheckpoint(checkpointPath, 11);
    photoPath = path.join(dir, 'blurry.png');
    await sharp(MOTION_BLURRED).extract({ left: 0, top: 0, width: 200, height: 150 }).png().toFile(photoPath);
    // Shaken: on a sharp photo fast mode rightly finds no blur and never reaches its restoring stage.
    largePhoto = path.join(dir, 'large.png');
    await writeShakenPhoto(largePhoto, 2048, 1152);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('paper mode streams every loss term and writes a same-size result', async () => {
    const updates: ProgressUpdate[] = [];
    const outputPath = path.join(dir, 'paper.png');
    const spec: JobSpecInput = { kind: 'deblur', mode: 'paper', photoPath, outputPath, iterations: 4 };
    await engine.runJob(JobSpec.parse(spec), new AbortController().signal, (u) => updates.push(u));
    const losses = updates.filter((u) => u.loss);
    expect(losses.length).toBe(5); // 1 warm-up + 4 iterations
    // First half of the main iterations: with (1 - SSIM); second half without, as in the paper.
    expect(Object.keys(losses[1]!.loss!.terms).sort()).toEqual(
      ['1 - SSIM', '||k||', 'data (Charbonnier)', 'hyper-Laplacian', 'total'].sort(),
    );
    expect(losses.at(-1)!.loss!.terms).not.toHaveProperty('1 - SSIM');
    expect(Object.values(losses.at(-1)!.loss!.terms).every(Number.isFinite)).toBe(true);
    const meta = await sharp(outputPath).metadata();
    expect([meta.width, meta.height]).toEqual([200, 150]);
  });

  /** An engine with the network installed, and a 64 px crop of the blurry photo (one network tile). */
  async function networkEngineAndCrop(name: string): Promise<{ withNetwork: Engine; small: string }> {
    const withNetwork = await Engine.create({
      backend: 'wasm',
      checkpointPath,
      defaultCheckpointPath: checkpointPath,
    });
    const small = path.join(dir, name);
    await sharp(photoPath).extract({ left: 0, top: 0, width: 64, height: 64 }).png().toFile(small);
    return { withNetwork, small };
  }

  it.skipIf(!findMaximModel())(
    'paper mode starts from the network’s restoration when installed',
    async () => {
      const { withNetwork, small } = await networkEngineAndCrop('small.png');
      const stages = new Set<string>();
      const spec: JobSpecInput = {
        kind: 'deblur',
        mode: 'paper',
        photoPath: small,
        outputPath: path.join(dir, 'paper-start.png'),
        iterations: 2,
      };
      await withNetwork.runJob(JobSpec.parse(spec), new AbortController().signal, (u) => stages.add(u.stage));
      expect([...stages].slice(0, 3)).toEqual([
        'reading photo',
        'starting from the network: tile 1 of 1',
        'warm-up',
      ]);
    },
  );

  it.skipIf(!findMaximModel())(
    'fast mode’s guided estimate runs the network on the window first, its time on the progress bar',
    async () => {
      const { withNetwork, small } = await networkEngineAndCrop('small-guided.png');
      const updates: ProgressUpdate[] = [];
      const spec: JobSpecInput = {
        kind: 'deblur',
        photoPath: small,
        outputPath: path.join(dir, 'guided.png'),
        guided: true,
      };
      const result = await withNetwork.runJob(JobSpec.parse(spec), new AbortController().signal, (u) =>
        updates.push(u),
      );
      const stages = [...new Set(updates.map((u) => u.stage))];
      expect(stages.slice(0, 3)).toEqual([
        'reading photo',
        'estimating the blur: the network, tile 1 of 1',
        "measuring the blur against the network's result",
      ]);
      const progress = updates.map((u) => u.progress);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]!);
      expect(progress.at(-1)).toBe(1);
      expect(result).toMatchObject({ kind: 'deblur', estimate: { window: { width: 64, height: 64 } } });
    },
  );

  it('paper mode at strength 0 keeps the photo', async () => {
    const unchanged = path.join(dir, 'strength0.png');
    const spec: JobSpecInput = {
      kind: 'deblur',
      mode: 'paper',
      photoPath,
      outputPath: unchanged,
      iterations: 4,
    };
    await engine.runJob(
      JobSpec.parse({ ...spec, strength: 0 }),
      new AbortController().signal,
      () => undefined,
    );
    const a = await sharp(unchanged).raw().toBuffer();
    const b = await sharp(photoPath).removeAlpha().raw().toBuffer();
    expect(a.equals(b)).toBe(true);
  });

  it('estimates a known motion kernel blindly on a blurred crop', async () => {
    const kernel = (await loadKernels(TEST_KERNELS_ROOT)).find((k) => k.id === 'motion_arc')!;
    const truth = kernelToPsf(kernel);
    const size = 512;
    const window = 448;
    const sharpFile = path.join(dir, 'sharp-512.png');
    await writeLargePhoto(sharpFile, size, size);
    const pixels = await sharp(sharpFile).removeAlpha().raw().toBuffer();
    const grey = luma(
      correlate(
        Float32Array.from(pixels, (v) => v / 255),
        size,
        size,
        3,
        kernel,
      ),
      size * size,
    );
    const data = new Float64Array(window * window);
    const o = (size - window) / 2;
    for (let y = 0; y < window; y++)
      data.set(grey.subarray((y + o) * size + o, (y + o) * size + o + window), y * window);
    const losses: BlindKernelLoss[] = [];
    let finestStart: FinestStart | undefined;
    const estimate = await estimateBlurKernel(
      { width: window, height: window, data },
      {
        ...BLIND_KERNEL_DEFAULTS,
        kernelSize: 41,
        onProgress: (_alternation, _fraction, loss) => losses.push(loss),
        onFinestStart: (start) => (finestStart = start),
      },
    );
    expect(psfSimilarity(estimate.psf, truth)).toBeGreaterThan(0.7);
    expect(reliability(estimate)).toBe('reliable');
    // The streamed objective is the kernel fit's, and the fit improves from the first alternation to the last.
    const last = losses.at(-1)!;
    expect(losses.every((l) => Number.isFinite(l.data) && l.kernel > 0)).toBe(true);
    expect(last.data).toBeLessThan(losses[0]!.data);
    // A dim photo in linear light (a twentieth of the brightness, a little black level) has the same blur: the
    // estimator stretches its contrast, so the priors weigh its edges as a bright photo's.
    const dim = await estimateBlurKernel(
      { width: window, height: window, data: data.map((v) => 0.002 + 0.05 * v) },
      { ...BLIND_KERNEL_DEFAULTS, kernelSize: 41 },
    );
    expect(psfSimilarity(dim.psf, estimate.psf)).toBeGreaterThan(0.99);
    // Fast mode's low-pass pass resumes at the finest scale from the plain pass's state: the same kernel as a
    // whole low-pass estimate, for a scale's worth of work.
    const lowPass = { ...BLIND_KERNEL_DEFAULTS, kernelSize: 41, fineLowPass: 1.2 };
    const whole = await estimateBlurKernel({ width: window, height: window, data }, lowPass);
    const resumed = await estimateBlurKernel(
      { width: window, height: window, data },
      { ...lowPass, finestStart },
    );
    expect(resumed.psf.weights).toEqual(whole.psf.weights);
    expect(resumed.consistency).toBe(whole.consistency);
    expect(psfSimilarity(whole.psf, estimate.psf)).toBeLessThan(0.999);
  }, 60_000);

  it('fast mode streams the kernel fit, previews the region on screen, and writes a same-size result with the kernel it found', async () => {
    const updates: ProgressUpdate[] = [];
    const outputPath = path.join(dir, 'fast.png');
    const previewRegion = { x: 20, y: 10, width: 120, height: 100 };
    const result = await engine.runJob(
      JobSpec.parse({ kind: 'deblur', photoPath, outputPath, previewRegion }),
      new AbortController().signal,
      (u) => updates.push(u),
    );
    const losses = updates.filter((u) => u.loss);
    expect(losses.length).toBeGreaterThan(5);
    expect(Object.keys(losses[0]!.loss!.terms).sort()).toEqual(['data (gradients)', 'kernel prior', 'total']);
    // One curve, left to right, across the estimate's supports and passes.
    const steps = losses.map((u) => u.loss!.step);
    expect(steps.every((step, i) => i === 0 || step > steps[i - 1]!)).toBe(true);
    expect(updates.some((u) => u.preview?.startsWith('data:image/jpeg;base64,'))).toBe(true);
    expect(result).toMatchObject({
      kind: 'deblur',
      estimate: { traceDataUrl: expect.stringMatching(/^data:image\/png/) },
    });
    const meta = await sharp(outputPath).metadata();
    expect([meta.width, meta.height]).toEqual([200, 150]);
    // Deterministic: the same photo gives the same file.
    const again = path.join(dir, 'fast-again.png');
    await engine.runJob(
      JobSpec.parse({ kind: 'deblur', photoPath, outputPath: again }),
      new AbortController().signal,
      () => undefined,
    );
    expect((await sharp(again).raw().toBuffer()).equals(await sharp(outputPath).raw().toBuffer())).toBe(true);
  });

  describe('refuses a region it cannot work on, saying why', () => {
    let big: string;
    beforeAll(async () => {
      big = path.join(dir, 'big.png');
      await sharp(photoPath).resize(1400, 1050).png().toFile(big);
    });
    const run = (extra: object) =>
      engine.runJob(
        JobSpec.parse({
          kind: 'deblur',
          mode: 'paper',
          photoPath: big,
          outputPath: path.join(dir, 'x.png'),
          ...extra,
        }),
        new AbortController().signal,
        () => undefined,
      );

    it('paper mode on a large photo without a region', async () => {
      await expect(run({})).rejects.toThrow(/Choose a region of at most 1 megapixel/);
    });

    it('fast mode on a tiny region', async () => {
      await expect(run({ mode: 'fast', roi: { x: 0, y: 0, width: 30, height: 20 } })).rejects.toThrow(
        /too small/,
      );
    });

    it.each(['fast', 'paper'] as const)('%s mode on a region outside the photo', async (mode) => {
      await expect(run({ mode, roi: { x: 1300, y: 0, width: 256, height: 256 } })).rejects.toThrow(/outside/);
    });
  });

  // Paper mode is cancelled in its optimisation loop, fast mode in its full-size restoration.
  it.each([
    { mode: 'paper' as const, waitFor: (e: EngineEvent) => e.type === 'jobProgress' && !!e.loss },
    {
      mode: 'fast' as const,
      waitFor: (e: EngineEvent) => e.type === 'jobProgress' && e.stage.startsWith('restoring'),
    },
  ])('a running $mode deblur is cancelled and control comes back within 1 s', async ({ mode, waitFor }) => {
    const host = startTestEngine({ outputDirs: [dir] });
    try {
      await host.invoke('setSettings', { checkpointPath });
      const { jobId } = await host.invoke('startJob', {
        kind: 'deblur',
        mode,
        photoPath: mode === 'fast' ? largePhoto : photoPath,
        outputPath: path.join(dir, 'cancelled.png'),
        ...(mode === 'paper' && { iterations: 5000 }),
      });
      // The stage to cancel in (a job that ends before it fails the test here, not by a timeout).
      const reached = await nextEvent(
        host,
        (e): e is EngineEvent => 'jobId' in e && e.jobId === jobId && (waitFor(e) || jobEnded(jobId)(e)),
      );
      expect(reached.type).toBe('jobProgress');
      const ended = nextEvent(host, jobEnded(jobId));
      const started = performance.now();
      await host.invoke('cancelJob', { jobId });
      const end = await ended;
      const elapsed = performance.now() - started;
      expect(end).toMatchObject({ type: 'jobFailed', cancelled: true });
      expect(elapsed).toBeLessThan(1000);
      // Nothing that looks like a result was left behind.
      await expect(sharp(path.join(dir, 'cancelled.png')).metadata()).rejects.toThrow();
    } finally {
      await host.close();
    }
  });
});
