// The kernel library's engine calls: import (validated, same model, copied), open, export; the glyph sprite.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSpec, KernelSummary } from '../../src/common/api';
import { Engine } from '../../src/engine/engine';
import { KERNEL_FILE_VERSION, loadKernelFile } from '../../src/engine/kernels/kernel-file';
import { displayRegions, renderGlyphSprite } from '../../src/engine/kernels/trace';
import { saveTinyCheckpoint } from '../helpers/tiny-model';
import { writePhotoPair } from '../helpers/photo-pair';
import { TEXTURE } from '../helpers/test-images';

it('gives each display PSF the region of the source it was drawn from', () => {
  // 301 x 283 source: 3 x 3 code cells of 128, a 3 x 3 display grid; the last ones end at the edge.
  const regions = displayRegions(
    { rows: 3, cols: 3 },
    { rows: 3, cols: 3, cell: 128 },
    { width: 301, height: 283 },
  );
  expect(regions).toHaveLength(9);
  expect(regions.slice(0, 3)).toEqual([
    { x: 0, y: 0, width: 128, height: 128 },
    { x: 128, y: 0, width: 128, height: 128 },
    { x: 256, y: 0, width: 45, height: 128 },
  ]);
  expect(regions[8]).toEqual({ x: 256, y: 256, width: 45, height: 27 });
  // 10 x 7 code cells on a 6 x 6 display grid: regions of 1 or 2 cells, covering the source once.
  const wide = displayRegions(
    { rows: 6, cols: 6 },
    { rows: 7, cols: 10, cell: 128 },
    { width: 1280, height: 896 },
  );
  expect(wide.slice(0, 6).map((r) => r.width)).toEqual([128, 256, 256, 128, 256, 256]);
  expect(wide.filter((r) => r.x === 0).reduce((sum, r) => sum + r.height, 0)).toBe(896);
});

it('draws one glyph per PSF, white with the PSF as alpha', () => {
  const dot = { size: 3, weights: [0, 0, 0, 0, 1, 0, 0, 0, 0] };
  const line = { size: 3, weights: [0, 0, 0, 0.5, 0.5, 0, 0, 0, 0] };
  const sprite = renderGlyphSprite({ rows: 1, cols: 2, cells: [dot, line] });
  expect([sprite.side, sprite.width, sprite.height]).toEqual([3, 6, 3]);
  const alpha = (x: number, y: number) => sprite.data[(y * sprite.width + x) * 4 + 3];
  expect([alpha(0, 1), alpha(1, 1), alpha(2, 1)]).toEqual([0, 255, 0]);
  expect([alpha(3, 1), alpha(4, 1), alpha(5, 1)]).toEqual([255, 255, 0]);
  expect(sprite.data[(1 * sprite.width + 1) * 4]).toBe(255);
});

describe('kernel library', () => {
  let dir: string;
  let engine: Engine;
  let kernelPath: string;
  let checkpoint: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-kernel-library-'));
    checkpoint = path.join(dir, 'tiny.safetensors');
    await saveTinyCheckpoint(checkpoint, 3);
    engine = await Engine.create({
      backend: 'wasm',
      checkpointPath: checkpoint,
      defaultCheckpointPath: checkpoint,
    });
    const { sharpPath, blurryPath } = await writePhotoPair(dir);
    kernelPath = path.join(dir, 'shake.blurkernel');
    const spec = JobSpec.parse({ kind: 'extractKernel', sharpPath, blurryPath, outputPath: kernelPath });
    await engine.runJob(spec, new AbortController().signal, () => {});
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('imports a kernel: a valid summary with the display grid, and a copy where asked', async () => {
    const copy = path.join(dir, 'workspace-copy.blurkernel');
    const summary = KernelSummary.parse(await engine.importKernel(kernelPath, copy));
    expect(summary.kernelPath).toBe(copy);
    const file = await loadKernelFile(copy);
    expect(summary.psfGrid).toMatchObject({ rows: file.psf.rows, cols: file.psf.cols });
    expect(summary.psfGrid.regions).toHaveLength(file.psf.rows * file.psf.cols);
    expect(summary.checkpoint).toBe(file.checkpoint.description);
    const sprite = await sharp(Buffer.from(summary.glyphsDataUrl.split(',')[1]!, 'base64')).metadata();
    expect(sprite).toMatchObject({ channels: 4, width: file.psf.cols * 65, height: file.psf.rows * 65 });
    expect(await engine.openKernel(copy)).toEqual(summary);
  });

  it('refuses a file that is not a kernel, and one made by another model, saying why', async () => {
    const notes = path.join(dir, 'notes.blurkernel');
    await writeFile(notes, 'not JSON at all');
    await expect(engine.importKernel(notes, null)).rejects.toThrow(/is not a Blurspace kernel file/);
    const foreign = path.join(dir, 'foreign.blurkernel');
    const file = JSON.parse(await readFile(kernelPath, 'utf8'));
    file.checkpoint = { sha256: 'f'.repeat(64), description: 'someone-elses.safetensors' };
    await writeFile(foreign, JSON.stringify(file));
    const copy = path.join(dir, 'never-written.blurkernel');
    await expect(engine.importKernel(foreign, copy)).rejects.toThrow(
      /read with another model \(someone-elses\.safetensors\)/,
    );
    await expect(readFile(copy)).rejects.toThrow(/ENOENT/);
    // Opening (for the saved library) still works: the file itself is valid.
    expect((await engine.openKernel(foreign)).checkpoint).toBe('someone-elses.safetensors');
  });

  it('cuts photos into tiles of the size chosen in Settings', async () => {
    const photoPath = path.join(dir, 'wide.png');
    await sharp(TEXTURE).resize(1000, 700, { fit: 'fill' }).png().toFile(photoPath);
    const tilesWith = async (tileSize: 'auto' | 1024): Promise<number> => {
      const options = {
        backend: 'wasm' as const,
        checkpointPath: checkpoint,
        defaultCheckpointPath: checkpoint,
      };
      const tiled = await Engine.create({ ...options, tileSize });
      const outputPath = path.join(dir, `wide-${tileSize}.png`);
      const spec = JobSpec.parse({ kind: 'applyKernel', photoPath, kernelPath, outputPath, mode: 'uniform' });
      let tiles = 0;
      await tiled.runJob(spec, new AbortController().signal, (update) => {
        if (update.stage === 'applying the blur') tiles++;
      });
      return tiles;
    };
    // 1024 x 768 once padded: 3 x 2 tiles of the default 512 (128 overlap), one tile of 1024.
    expect(await tilesWith('auto')).toBe(6);
    expect(await tilesWith(1024)).toBe(1);
  });

  it('exports the file as JSON, renamed when asked', async () => {
    const { fileName, text } = await engine.exportKernel(kernelPath, 'Street / shake');
    expect(fileName).toBe('Street _ shake.blurkernel');
    const json = JSON.parse(text);
    expect(json).toMatchObject({
      format: 'blurspace-kernel',
      version: KERNEL_FILE_VERSION,
      name: 'Street / shake',
    });
    expect(json.codes).toBe((await loadKernelFile(kernelPath)).codes);
  });
});
