// The batch's deblur preset on the test photos: fast mode on each (the deblur job's code), results of the same
// size, bit depth and metadata, and each item's reliability note in the manifest and both reports.
import { copyFile, readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchPreset, JobSpec, type BatchItemProgress } from '../../src/common/api';
import {
  MANIFEST_FILE,
  REPORT_JSON,
  REPORT_TEXT,
  runBatch,
  type BatchSummary,
  type JobRunner,
  type Manifest,
} from '../../src/engine/batch';
import { Engine } from '../../src/engine/engine';
import { RELIABILITY_NOTES } from '../../src/engine/jobs/deblur-job';
import { STREET, TEXTURE } from '../helpers/test-images';

const NOTES = Object.values(RELIABILITY_NOTES);
const COPYRIGHT = 'Blurspace batch deblur test';

const pixels = (file: string): Promise<Buffer> => sharp(file).raw().toBuffer();

describe('batch deblur preset', () => {
  let dir: string;
  let engine: Engine;
  let inputs: string[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-batch-deblur-'));
    // No model: fast mode does not need one (the batch calls it directly, not through the 'deblur' job).
    engine = await Engine.create({ backend: 'wasm', checkpointPath: null, defaultCheckpointPath: '' });
    const source = (file: string) => sharp(file).resize({ width: 200 });
    // A JPEG with EXIF, a 16-bit PNG blurred by sharp, and a featureless grey (no blur to measure: it is
    // written unchanged).
    inputs = [
      path.join(dir, 'texture.jpg'),
      path.join(dir, 'street blurred.png'),
      path.join(dir, 'featureless.png'),
    ];
    await source(TEXTURE)
      .withExif({ IFD0: { Copyright: COPYRIGHT } })
      .jpeg({ quality: 92 })
      .toFile(inputs[0]!);
    await source(STREET).blur(2).toColourspace('rgb16').png().toFile(inputs[1]!);
    await sharp({ create: { width: 200, height: 150, channels: 3, background: '#808080' } })
      .png()
      .toFile(inputs[2]!);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('deblurs each photo into a result of the same size and bit depth, each with its note in the reports', async () => {
    const outDir = path.join(dir, 'out');
    const spec = JobSpec.parse({
      kind: 'batch',
      inputs,
      outDir,
      preset: { kind: 'deblur' },
      jobs: 2,
    });
    expect(spec).toMatchObject({ preset: { kind: 'deblur', strength: 1 } });
    const stages: string[] = [];
    const items: BatchItemProgress[] = [];
    const result = await engine.runJob(spec, new AbortController().signal, (u) => {
      stages.push(u.stage);
      if (u.item) items.push(u.item);
    });
    if (result.kind !== 'batch') throw new Error('not a batch result');
    expect(result.counts).toEqual({ total: 3, done: 3, failed: 0, skipped: 0, pending: 0 });
    expect(result.problems).toEqual([]);
    expect(stages.some((stage) => /^\d\/3 .*: estimating the blur$/.test(stage))).toBe(true);
    expect(items.some((item) => item.total === 3 && item.stage === 'estimating the blur')).toBe(true);

    const outputs = ['texture-deblur.jpg', 'street blurred-deblur.png', 'featureless-deblur.png'].map(
      (name) => path.join(outDir, name),
    );
    for (const [index, input] of inputs.entries()) {
      const [a, b] = await Promise.all([sharp(input).metadata(), sharp(outputs[index]!).metadata()]);
      expect([b.format, b.width, b.height, b.depth], input).toEqual([a.format, a.width, a.height, a.depth]);
    }
    expect((await sharp(outputs[1]!).metadata()).depth).toBe('ushort');
    expect((await sharp(outputs[0]!).metadata()).exif?.includes(COPYRIGHT)).toBe(true);

    // Every item keeps its note; those written unchanged are listed in the job's result, as they are.
    const report = JSON.parse(await readFile(path.join(outDir, REPORT_JSON), 'utf8')) as BatchSummary & {
      preset: string;
    };
    expect(report.preset).toBe('deblur');
    expect(report.items.map((item) => [item.input, item.output, item.status])).toEqual(
      inputs.map((input, index) => [input, outputs[index], 'done']),
    );
    for (const item of report.items) {
      expect(NOTES).toContain(item.note);
      expect(item.unchanged === true).toBe(item.note === RELIABILITY_NOTES.failed);
    }
    const unchanged = report.items.filter((item) => item.unchanged);
    // The result names each photo by its file name, with its verdict; the unchanged ones say so.
    expect(result.deblurred).toEqual(
      report.items.map(({ name, output, reliability, unchanged, note }) => ({
        name,
        output,
        reliability,
        changed: !unchanged,
        note,
      })),
    );
    expect(result.deblurred.map((item) => item.name)).toEqual(inputs.map((input) => path.basename(input)));
    for (const item of result.deblurred) expect(item.changed).toBe(item.reliability !== 'failed');
    for (const item of unchanged) {
      // Lossless inputs written unchanged are the same pixels.
      if (item.input.endsWith('.png'))
        expect((await pixels(item.output)).equals(await pixels(item.input))).toBe(true);
    }
    // The blurred street was restored (not the same pixels).
    const street = report.items[1]!;
    if (!street.unchanged) expect((await pixels(outputs[1]!)).equals(await pixels(inputs[1]!))).toBe(false);
    const manifest = JSON.parse(await readFile(path.join(outDir, MANIFEST_FILE), 'utf8')) as Manifest;
    expect(manifest.items.map((item) => item.note)).toEqual(report.items.map((item) => item.note));
    const text = await readFile(path.join(outDir, REPORT_TEXT), 'utf8');
    expect(text).toContain('Blurspace batch (deblur)');
    expect(text).toContain('3 photos: 3 done');
    // The readable report names the photos by their file names, not by the paths they were read from.
    expect(text).toContain(`done    ${path.basename(inputs[0]!)} -> `);
    expect(text).not.toContain(inputs[0]!);
    for (const item of report.items)
      expect(text).toContain(`-> ${path.basename(item.output)}\n        ${item.note}`);
    expect(unchanged.map((item) => path.basename(item.input))).toContain('featureless.png');
    expect(text).toContain(`3 done (${unchanged.length} written unchanged`);
  });

  it('passes the guided estimate on to each photo’s job in fast mode, and a batch resumes only with the same choice', async () => {
    const outDir = path.join(dir, 'guided');
    const jobs: JobSpec[] = [];
    // Records each job and writes the photo as its result: the network does not run here.
    const runner: JobRunner = {
      async runJob(spec) {
        jobs.push(spec);
        if (spec.kind !== 'deblur') throw new Error(`unexpected ${spec.kind} job`);
        await copyFile(spec.photoPath, spec.outputPath);
        return { kind: 'deblur', outputPath: spec.outputPath };
      },
    };
    const run = (preset: object) =>
      runBatch(
        {
          inputs: [inputs[0]!],
          outDir,
          recursive: false,
          preset: BatchPreset.parse(preset),
          output: {},
          onConflict: 'rename',
          jobs: 1,
        },
        { runner, signal: new AbortController().signal, progress: () => undefined },
      );
    const guided = () => jobs.map((job) => job.kind === 'deblur' && job.guided);

    await run({ kind: 'deblur', guided: true });
    expect(guided()).toEqual([true]);
    // The same batch again: its photo is done.
    await run({ kind: 'deblur', guided: true });
    expect(guided()).toEqual([true]);
    // Without the guided estimate the results differ: the photo is done again.
    await run({ kind: 'deblur' });
    expect(guided()).toEqual([true, false]);
    // Learned mode estimates no blur: nothing to guide.
    await run({ kind: 'deblur', mode: 'learned', guided: true });
    expect(jobs.at(-1)).toMatchObject({ mode: 'learned', guided: false });
  });

  it('the contract refuses a strength outside 0..1 (and defaults it to 1, fast mode, the learned restorer and the guided estimate off)', () => {
    for (const strength of [-0.1, 1.5, Number.NaN, '0.5', null]) {
      expect(BatchPreset.safeParse({ kind: 'deblur', strength }).success, String(strength)).toBe(false);
    }
    expect(BatchPreset.parse({ kind: 'deblur', strength: 0.25 })).toEqual({
      kind: 'deblur',
      mode: 'fast',
      strength: 0.25,
      learned: false,
      guided: false,
    });
    expect(BatchPreset.parse({ kind: 'deblur' })).toEqual({
      kind: 'deblur',
      mode: 'fast',
      strength: 1,
      learned: false,
      guided: false,
    });
    expect(BatchPreset.parse({ kind: 'deblur', mode: 'learned' })).toMatchObject({ mode: 'learned' });
    expect(BatchPreset.safeParse({ kind: 'deblur', mode: 'paper' }).success).toBe(false);
    expect(
      JobSpec.safeParse({
        kind: 'batch',
        inputs: ['/a.jpg'],
        outDir: '/out',
        preset: { kind: 'deblur', strength: 2 },
      }).success,
    ).toBe(false);
  });
});
