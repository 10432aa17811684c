// Kernel extraction and transfer through the engine, on test photos of awkward sizes, with a small
// untrained model (quality is the benchmark's business; here: sizes, files, metadata, errors).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpecInput } from '../../src/common/api';
import { JobSpec } from '../../src/common/api';
import { Engine } from '../../src/engine/engine';
import { STAND_IN_MISSING } from '../../src/engine/jobs/kernel-jobs';
import { findMaximModel } from '../../src/engine/model/maxim';
import { loadKernelFile, saveKernelFile } from '../../src/engine/kernels/kernel-file';
import { saveTinyCheckpoint } from '../helpers/tiny-model';
import { writePhotoPair } from '../helpers/photo-pair';
import { TEXTURE } from '../helpers/test-images';

describe('kernel jobs', () => {
  let dir: string;
  let engine: Engine;
  let sharpPath: string;
  let blurryPath: string;
  const run = (spec: JobSpecInput) =>
    engine.runJob(JobSpec.parse(spec), new AbortController().signal, () => {});

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-kernel-jobs-'));
    const checkpointPath = path.join(dir, 'tiny.safetensors');
    engine = await Engine.create({ backend: 'wasm', checkpointPath, defaultCheckpointPath: checkpointPath });
    await saveTinyCheckpoint(checkpointPath, 3);
    ({ sharpPath, blurryPath } = await writePhotoPair(dir));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Checks that a job's progress never goes back (the ETA is extrapolated from it). */
  const steadyProgress = () => {
    let last = 0;
    let steady = true;
    return {
      onProgress: (update: { progress: number }) => {
        steady &&= update.progress >= last;
        last = update.progress;
      },
      steady: () => steady && last > 0.5,
    };
  };

  it('extracts a kernel file with a code grid, PSFs and a trace picture, its progress never going back', async () => {
    const kernelPath = path.join(dir, 'k.blurkernel');
    const progress = steadyProgress();
    const result = await engine.runJob(
      JobSpec.parse({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: kernelPath }),
      new AbortController().signal,
      progress.onProgress,
    );
    expect(progress.steady()).toBe(true);
    expect(result.kind).toBe('extractKernel');
    const kernel = await loadKernelFile(kernelPath);
    expect(kernel.source).toMatchObject({ width: 301, height: 283, shift: { x: 0, y: 0 } });
    expect(kernel.grid).toEqual({ rows: 3, cols: 3, cell: 128 });
    expect(kernel.kernelDim).toBe(16);
    expect(kernel.psf.cells).toHaveLength(kernel.psf.rows * kernel.psf.cols);
    for (const psf of kernel.psf.cells) {
      expect(psf.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.min(...psf.weights)).toBeGreaterThanOrEqual(0);
    }
    if (result.kind === 'extractKernel')
      expect(result.kernel.traceDataUrl).toMatch(/^data:image\/png;base64,/);
  });

  it('applies a kernel to a photo of another size, keeping bit depth and metadata', async () => {
    const kernelPath = path.join(dir, 'k2.blurkernel');
    await run({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: kernelPath });
    const photoPath = path.join(dir, 'target.tif');
    await sharp(TEXTURE)
      .resize(333, 222)
      .toColourspace('rgb16')
      .withExif({ IFD0: { Make: 'Blurspace Test Camera' } })
      .tiff({ compression: 'lzw' })
      .toFile(photoPath);
    for (const mode of ['spatial', 'uniform'] as const) {
      const outputPath = path.join(dir, `applied-${mode}.png`);
      await run({ kind: 'applyKernel', photoPath, kernelPath, outputPath, mode });
      const meta = await sharp(outputPath).metadata();
      expect([meta.width, meta.height]).toEqual([333, 222]);
      expect(meta.depth).toBe('ushort');
    }
    const jpegOut = path.join(dir, 'applied.jpg');
    const jpegSource = path.join(dir, 'target.jpg');
    await sharp(photoPath)
      .withExif({ IFD0: { Make: 'Blurspace Test Camera' } })
      .jpeg()
      .toFile(jpegSource);
    await run({ kind: 'applyKernel', photoPath: jpegSource, kernelPath, outputPath: jpegOut });
    const exif = (await sharp(jpegOut).metadata()).exif;
    expect(exif?.toString('latin1')).toContain('Blurspace Test Camera');
  });

  it('stores the PSFs measured from the pair and transfers with them, without the model', async () => {
    const kernelPath = path.join(dir, 'measured.blurkernel');
    const result = await run({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: kernelPath });
    const kernel = await loadKernelFile(kernelPath);
    // 301 x 283: one region of at least 256 pixels.
    const measured = kernel.explicitPsf!;
    expect([measured.rows, measured.cols, measured.cells.length]).toEqual([1, 1, 1]);
    const [psf] = measured.cells;
    expect(psf!.size).toBeLessThan(31); // trimmed to the trace of a Gaussian blur of sigma 2.5
    expect(psf!.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(measured.reliability).toBe('reliable');
    if (result.kind !== 'extractKernel') throw new Error('not an extractKernel result');
    expect(result.kernel.explicit).toMatchObject({
      reliability: 'reliable',
      note: measured.note,
      doubtful: [false],
      psfGrid: { rows: 1, cols: 1, regions: [{ x: 0, y: 0, width: 301, height: 283 }] },
    });
    // The file round-trips, PSFs included.
    const copy = path.join(dir, 'measured-copy.blurkernel');
    await saveKernelFile(copy, kernel);
    expect(await loadKernelFile(copy)).toEqual(kernel);

    // Blurring the sharp photo with them comes close to the blurry one; no model is needed for that.
    const foreign = path.join(dir, 'measured-foreign.blurkernel');
    await writeFile(
      foreign,
      JSON.stringify({ ...kernel, checkpoint: { sha256: 'abc', description: 'x.pth' } }),
    );
    const outputPath = path.join(dir, 'measured-applied.png');
    await run({
      kind: 'applyKernel',
      photoPath: sharpPath,
      kernelPath: foreign,
      outputPath,
      using: 'explicit',
    });
    const pixels = async (file: string) =>
      Float32Array.from(await sharp(file).removeAlpha().raw().toBuffer());
    const [applied, blurry, original] = await Promise.all([outputPath, blurryPath, sharpPath].map(pixels));
    const psnr = (a: Float32Array, b: Float32Array) =>
      10 * Math.log10(255 ** 2 / (a.reduce((sum, v, i) => sum + (v - b[i]!) ** 2, 0) / a.length));
    expect(psnr(applied!, blurry!)).toBeGreaterThan(psnr(original!, blurry!) + 8);
  });

  it('reads kernel files written before measured PSFs, which transfer with their code only', async () => {
    const kernelPath = path.join(dir, 'old.blurkernel');
    await run({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: kernelPath });
    const { explicitPsf: _, ...old } = JSON.parse(await readFile(kernelPath, 'utf8'));
    await writeFile(kernelPath, JSON.stringify(old));
    expect((await loadKernelFile(kernelPath)).explicitPsf).toBeNull();
    expect((await engine.openKernel(kernelPath)).explicit).toBeNull();
    const outputPath = path.join(dir, 'old-applied.png');
    await expect(
      run({ kind: 'applyKernel', photoPath: sharpPath, kernelPath, outputPath, using: 'explicit' }),
    ).rejects.toThrow(/holds no PSFs measured from its pair/);
    await run({ kind: 'applyKernel', photoPath: sharpPath, kernelPath, outputPath });
    expect((await sharp(outputPath).metadata()).width).toBe(301);
  });

  describe('refuses a pair that cannot be read, saying why', () => {
    const outputPath = () => path.join(dir, 'refused.blurkernel');

    it('of different sizes', async () => {
      const small = path.join(dir, 'small.png');
      await sharp(sharpPath).resize(200, 150).png().toFile(small);
      await expect(
        run({ kind: 'extractKernel', sharpPath, blurryPath: small, outputPath: outputPath() }),
      ).rejects.toThrow(/same size/);
    });

    it('of different scenes', async () => {
      const other = path.join(dir, 'other.png');
      await sharp(TEXTURE).resize(301, 283).png().toFile(other);
      await expect(
        run({ kind: 'extractKernel', sharpPath, blurryPath: other, outputPath: outputPath() }),
      ).rejects.toThrow(/same scene/);
    });

    it('offset by many pixels', async () => {
      const shifted = path.join(dir, 'shifted.png');
      const extended = await sharp(sharpPath).extend({ left: 60, extendWith: 'mirror' }).png().toBuffer();
      await sharp(extended).extract({ left: 0, top: 0, width: 301, height: 283 }).png().toFile(shifted);
      await expect(
        run({ kind: 'extractKernel', sharpPath, blurryPath: shifted, outputPath: outputPath() }),
      ).rejects.toThrow(/offset by 60, 0 pixels/);
    });
  });

  it('rejects kernel files that are damaged, foreign or from another model', async () => {
    const photoPath = sharpPath;
    const outputPath = path.join(dir, 'never.png');
    const notJson = path.join(dir, 'bad.blurkernel');
    await writeFile(notJson, 'hello');
    await expect(run({ kind: 'applyKernel', photoPath, kernelPath: notJson, outputPath })).rejects.toThrow(
      /not a Blurspace kernel file/,
    );
    const good = path.join(dir, 'k3.blurkernel');
    await run({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: good });
    const kernel = JSON.parse(await readFile(good, 'utf8'));
    const future = path.join(dir, 'future.blurkernel');
    await writeFile(future, JSON.stringify({ ...kernel, version: 99 }));
    await expect(run({ kind: 'applyKernel', photoPath, kernelPath: future, outputPath })).rejects.toThrow(
      /version 99/,
    );
    const cut = path.join(dir, 'cut.blurkernel');
    await writeFile(cut, JSON.stringify({ ...kernel, codes: kernel.codes.slice(0, 40) }));
    await expect(run({ kind: 'applyKernel', photoPath, kernelPath: cut, outputPath })).rejects.toThrow(
      /damaged/,
    );
    const foreign = path.join(dir, 'foreign.blurkernel');
    await writeFile(
      foreign,
      JSON.stringify({ ...kernel, checkpoint: { sha256: 'abc', description: 'x.pth' } }),
    );
    await expect(run({ kind: 'applyKernel', photoPath, kernelPath: foreign, outputPath })).rejects.toThrow(
      /read with another model \(x\.pth\)/,
    );
  });

  describe('from a single blurry photo (no sharp photo)', () => {
    it('says what is missing when the network is not installed', async () => {
      const checkpointPath = path.join(dir, 'tiny.safetensors');
      const without = await Engine.create({
        backend: 'wasm',
        checkpointPath,
        defaultCheckpointPath: checkpointPath,
        learnedModel: null,
      });
      const spec = JobSpec.parse({
        kind: 'extractKernel',
        blurryPath,
        outputPath: path.join(dir, 'n.blurkernel'),
      });
      await expect(without.runJob(spec, new AbortController().signal, () => {})).rejects.toThrow(
        STAND_IN_MISSING,
      );
    });

    // The real network on a 128 px photo: one region, one network tile of 128 (about a quarter of the
    // app's 256 tiles' time), so that the test stays short.
    it.skipIf(!findMaximModel())(
      'measures the blur against the network’s restoration',
      async () => {
        const small = path.join(dir, 'small-blurry.png');
        await sharp(blurryPath).extract({ left: 80, top: 60, width: 128, height: 128 }).png().toFile(small);
        const kernelPath = path.join(dir, 'single.blurkernel');
        const stages = new Set<string>();
        const progress = steadyProgress();
        const result = await engine.runJob(
          JobSpec.parse({ kind: 'extractKernel', blurryPath: small, outputPath: kernelPath }),
          new AbortController().signal,
          (update) => {
            stages.add(update.stage);
            progress.onProgress(update);
          },
        );
        expect([...stages]).toContain('restoring region 1 of 1 with the network');
        expect(progress.steady()).toBe(true);
        const kernel = await loadKernelFile(kernelPath);
        expect(kernel.source).toMatchObject({ width: 128, height: 128, sharp: '', sharpStandIn: 'network' });
        expect(kernel.grid).toEqual({ rows: 1, cols: 1, cell: 128 });
        expect(kernel.explicitPsf).toMatchObject({ rows: 1, cols: 1 });
        expect(kernel.explicitPsf!.cells[0]!.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        if (result.kind === 'extractKernel') {
          expect(result.kernel.explicit?.note).toMatch(/blur|network/);
          expect(result.kernel.source.sharpStandIn).toBe('network');
        }
      },
      180_000,
    );
  });
});
