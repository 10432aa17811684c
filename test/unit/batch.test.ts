// Batch export on the test photos: folder trees, naming, conflicts, bad inputs, cancel, and a CLI batch killed
// with SIGKILL that resumes without losing or duplicating work and without touching the originals.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_FILE, REPORT_JSON, REPORT_TEXT, runBatch, type Manifest } from '../../src/engine/batch';
import { forgetBatchSpec, loadManifest, manifestCounts } from '../../src/engine/batch/manifest';
import { JobSpec, type BatchItemProgress, type BatchSpec } from '../../src/common/api';
import { Engine } from '../../src/engine/engine';
import { JobCancelledError, type ProgressUpdate } from '../../src/engine/core/progress';
import { REPO_ROOT } from '../helpers/paths';
import { GRASS, MOTION_BLURRED, STREET, TEXTURE } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';

const CLI = path.join(REPO_ROOT, 'out', 'main', 'cli.js');
const run = promisify(execFile);

const sha256 = async (file: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

async function makePhoto(file: string, source: string, width: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const image = sharp(source).resize({ width });
  await (file.endsWith('.png') ? image.png() : image.jpeg({ quality: 90 })).toFile(file);
}

function readManifest(outDir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(path.join(outDir, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch {
    return null; // not written yet
  }
}

describe('the batch manifest', () => {
  it('is read back strictly: a misspelled key makes it a file this version does not understand', async () => {
    const outDir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-manifest-'));
    try {
      const manifest = {
        format: 'blurspace-batch',
        version: 1,
        settings: '{}',
        date: '2026-12-06',
        items: [],
        outputs: [],
      };
      await writeFile(path.join(outDir, MANIFEST_FILE), JSON.stringify(manifest));
      expect(await loadManifest(outDir)).toEqual(manifest);
      await writeFile(path.join(outDir, MANIFEST_FILE), JSON.stringify({ ...manifest, outptus: [] }));
      await expect(loadManifest(outDir)).rejects.toThrow(
        /not a batch manifest this version of Blurspace understands/,
      );
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});

describe('batch export', () => {
  let dir: string;
  let engine: Engine;
  const batch = (
    options: Partial<BatchSpec> & Pick<BatchSpec, 'inputs' | 'outDir'>,
    signal?: AbortSignal,
  ) => {
    const updates: ProgressUpdate[] = [];
    const done = runBatch(
      { recursive: false, preset: { kind: 'export' }, output: {}, onConflict: 'rename', jobs: 1, ...options },
      { runner: engine, signal: signal ?? new AbortController().signal, progress: (u) => updates.push(u) },
    );
    return { done, updates };
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-batch-'));
    engine = await Engine.create({ backend: 'wasm', checkpointPath: null, defaultCheckpointPath: '' });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('mirrors a folder tree (recursive only when asked), unicode and spaces included', async () => {
    const input = path.join(dir, 'tree in');
    await makePhoto(path.join(input, 'top.jpg'), TEXTURE, 300);
    await makePhoto(path.join(input, 'sub folder', 'chat été.png'), STREET, 260);
    await makePhoto(path.join(input, 'sub folder', 'déjà', 'grass.jpg'), GRASS, 280);
    await writeFile(path.join(input, 'notes.txt'), 'not a photo');

    const flat = path.join(dir, 'flat');
    expect((await batch({ inputs: [input], outDir: flat }).done).counts).toMatchObject({ total: 1, done: 1 });
    expect(await listFiles(flat)).toEqual([MANIFEST_FILE, REPORT_JSON, REPORT_TEXT, 'top-export.jpg']);

    const out = path.join(dir, 'tree out');
    const run = batch({ inputs: [input], outDir: out, recursive: true, output: { format: 'webp' } });
    const summary = await run.done;
    expect(summary.counts).toMatchObject({ total: 3, done: 3, failed: 0 });
    expect((await listFiles(out)).filter((f) => !f.startsWith('.') && !f.startsWith('batch-'))).toEqual([
      path.join('sub folder', 'chat été-export.webp'),
      path.join('sub folder', 'déjà', 'grass-export.webp'),
      'top-export.webp',
    ]);
    // The summary names each photo by its place in the tree it was read from, not by its full path.
    expect(summary.items.map((item) => item.name)).toEqual([
      path.join('sub folder', 'chat été.png'),
      path.join('sub folder', 'déjà', 'grass.jpg'),
      'top.jpg',
    ]);
    const meta = await sharp(path.join(out, 'sub folder', 'chat été-export.webp')).metadata();
    expect([meta.format, meta.width]).toEqual(['webp', 260]);
    // Per-item stages and an overall fraction that ends at 1.
    expect(run.updates.some((u) => /^2\/3 .*reading/.test(u.stage))).toBe(true);
    expect(run.updates.at(-1)!.progress).toBe(1);
    // Each update names its photo as fields too, the same as the stage says in words.
    for (const { stage, item } of run.updates) {
      expect(item, stage).toBeDefined();
      expect(stage).toBe(`${item!.index}/${item!.total} ${item!.name}: ${item!.stage}`);
    }
    expect(run.updates.map((u) => u.item).filter((item) => item?.stage === 'done')).toEqual(
      ['chat été.png', 'grass.jpg', 'top.jpg'].map((name, i) => ({
        index: i + 1,
        total: 3,
        name,
        stage: 'done',
      })),
    );

    // An output folder inside the input tree is not read back as input.
    const inside = path.join(input, 'exports');
    for (let i = 0; i < 2; i++) {
      const again = await batch({ inputs: [input], outDir: inside, recursive: true }).done;
      expect(again.counts).toMatchObject({ total: 3, done: 3 });
    }
    expect((await listFiles(inside)).filter((f) => /-export\./.test(f))).toHaveLength(3);
    expect(run.updates.map((u) => u.progress)).toEqual(
      [...run.updates.map((u) => u.progress)].sort((a, b) => a - b),
    );
  });

  it('never writes through a sub-folder of OUTDIR that is a link leading elsewhere', async () => {
    const input = path.join(dir, 'linked in');
    await makePhoto(path.join(input, 'top.jpg'), TEXTURE, 120);
    await makePhoto(path.join(input, 'sub', 'inner.jpg'), GRASS, 120);
    const out = path.join(dir, 'linked out');
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(out, { recursive: true });
    await mkdir(elsewhere, { recursive: true });
    await symlink(elsewhere, path.join(out, 'sub'));
    const summary = await batch({ inputs: [input], outDir: out, recursive: true }).done;
    expect(summary.counts).toMatchObject({ total: 2, done: 1, failed: 1 });
    const failed = summary.items.find((item) => item.status === 'failed')!;
    expect(failed.reason).toMatch(/link that leads outside the output folder/);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('names results from the template and applies the conflict policy', async () => {
    const input = path.join(dir, 'named');
    await makePhoto(path.join(input, 'a.jpg'), TEXTURE, 256);
    await makePhoto(path.join(input, 'b.png'), MOTION_BLURRED, 256);
    const out = path.join(dir, 'named out');
    const today = new Date().toISOString().slice(0, 10);
    await batch({ inputs: [input], outDir: out, nameTemplate: '{n}_{name}_{preset}_{date}' }).done;
    expect(existsSync(path.join(out, `1_a_export_${today}.jpg`))).toBe(true);
    expect(existsSync(path.join(out, `2_b_export_${today}.png`))).toBe(true);
    await expect(batch({ inputs: [input], outDir: out, nameTemplate: '{nom}' }).done).rejects.toThrow(
      /Unknown "\{nom\}"/,
    );
    await expect(batch({ inputs: [input], outDir: out, nameTemplate: '../{name}' }).done).rejects.toThrow(
      /plain file name/,
    );

    // A file that Blurspace did not write is never replaced.
    const conflicts = path.join(dir, 'conflicts');
    await mkdir(conflicts);
    const foreign = path.join(conflicts, 'a-export.jpg');
    await writeFile(foreign, 'somebody else');
    const skip = await batch({ inputs: [input], outDir: conflicts, onConflict: 'skip' }).done;
    expect(skip.items.map((i) => i.status)).toEqual(['skipped', 'done']);
    const overwrite = await batch({ inputs: [input], outDir: conflicts, onConflict: 'overwrite' }).done;
    expect(overwrite.items[0]).toMatchObject({
      status: 'failed',
      reason: /not written by a Blurspace batch/,
    });
    expect(await readFile(foreign, 'utf8')).toBe('somebody else');
    const rename = await batch({ inputs: [input], outDir: conflicts, onConflict: 'rename' }).done;
    expect(rename.items[0]).toMatchObject({
      status: 'done',
      output: path.join(conflicts, 'a-export (2).jpg'),
    });
    expect(await readFile(foreign, 'utf8')).toBe('somebody else');

    // Its own earlier results are replaced in place with overwrite (other settings: redone, same names).
    const before = (await stat(path.join(conflicts, 'b-export.png'))).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const again = await batch({
      inputs: [input],
      outDir: conflicts,
      onConflict: 'overwrite',
      output: { keepMetadata: false },
    }).done;
    expect(again.items.map((i) => [i.status, path.basename(i.output)])).toEqual([
      ['failed', 'a-export.jpg'], // new settings: a is named afresh, and that name is still foreign
      ['done', 'b-export.png'],
    ]);
    expect((await stat(path.join(conflicts, 'b-export.png'))).mtimeMs).toBeGreaterThan(before);

    // Writing into the input folder: a result that would replace an input is refused.
    const inputSums = [await sha256(path.join(input, 'a.jpg')), await sha256(path.join(input, 'b.png'))];
    const inPlace = await batch({
      inputs: [input],
      outDir: input,
      nameTemplate: '{name}',
      onConflict: 'overwrite',
    }).done;
    expect(inPlace.items.map((i) => i.status)).toEqual(['failed', 'failed']);
    expect(inPlace.items[0]!.reason).toMatch(/would replace an input photo/);
    expect([await sha256(path.join(input, 'a.jpg')), await sha256(path.join(input, 'b.png'))]).toEqual(
      inputSums,
    );
  });

  it('finishes despite bad inputs, reports why each failed, processes a duplicate once', async () => {
    const input = path.join(dir, 'bad inputs');
    await makePhoto(path.join(input, 'good.jpg'), TEXTURE, 300);
    await makePhoto(path.join(input, 'other good.png'), GRASS, 256);
    const jpeg = await readFile(path.join(input, 'good.jpg'));
    await writeFile(path.join(input, 'corrupt.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    await writeFile(path.join(input, 'zero.png'), '');
    await writeFile(path.join(input, 'text.jpg'), 'this is not a JPEG\n');
    const files = await listFiles(input);
    const sums = await Promise.all(files.map((f) => sha256(path.join(input, f))));

    const out = path.join(dir, 'bad out');
    const good = path.join(input, 'good.jpg');
    const missing = path.join(dir, 'nowhere.jpg');
    const summary = await batch({ inputs: [good, input, good, missing], outDir: out, jobs: 2 }).done;
    expect(summary.counts).toMatchObject({ total: 6, done: 2, failed: 4, pending: 0 });
    const report = JSON.parse(await readFile(path.join(out, REPORT_JSON), 'utf8'));
    const reasons = Object.fromEntries(
      report.items.map((i: { input: string; reason?: string }) => [path.basename(i.input), i.reason ?? '']),
    );
    expect(reasons).toEqual({
      'good.jpg': '',
      'other good.png': '',
      'corrupt.jpg': expect.stringMatching(/damaged or truncated/),
      'zero.png': expect.stringMatching(/empty \(0 bytes\)/),
      'text.jpg': expect.stringMatching(/not an image file/),
      'nowhere.jpg': expect.stringMatching(/Cannot find/),
    });
    const text = await readFile(path.join(out, REPORT_TEXT), 'utf8');
    expect(text).toMatch(/6 photos: 2 done, 4 failed, 0 skipped/);
    expect(text).toMatch(/empty \(0 bytes\)/);
    expect((await listFiles(out)).filter((f) => f.endsWith('-export.jpg'))).toEqual(['good-export.jpg']);
    expect(await Promise.all(files.map((f) => sha256(path.join(input, f))))).toEqual(sums);
  });

  it('stops between items on cancel and resumes from the manifest', async () => {
    const input = path.join(dir, 'cancel');
    for (let i = 0; i < 4; i++) await makePhoto(path.join(input, `p${i}.jpg`), STREET, 256 + i * 8);
    const out = path.join(dir, 'cancel out');
    const controller = new AbortController();
    const first = batch({ inputs: [input], outDir: out }, controller.signal);
    const watcher = setInterval(() => {
      if (first.updates.some((u) => /^2\/4 .*starting/.test(u.stage))) controller.abort();
    }, 1);
    await expect(first.done).rejects.toThrow(JobCancelledError);
    clearInterval(watcher);
    const statuses = readManifest(out)!.items.map((i) => i.status);
    expect(statuses.filter((s) => s === 'pending').length).toBeGreaterThanOrEqual(2);
    // What a kill leaves behind: a temp file, and a result written just before the manifest was updated.
    const pending = readManifest(out)!.items.filter((i) => i.status === 'pending');
    await writeFile(path.join(out, `.${pending[0]!.output}.0badc0de.tmp`), 'half a photo');
    await makePhoto(path.join(out, pending[1]!.output), TEXTURE, 64);
    const resumed = await batch({ inputs: [input], outDir: out }).done;
    expect(resumed.counts).toMatchObject({ total: 4, done: 4 });
    expect(await listFiles(out)).toEqual([
      MANIFEST_FILE,
      REPORT_JSON,
      REPORT_TEXT,
      ...[0, 1, 2, 3].map((i) => `p${i}-export.jpg`),
    ]);
    expect((await sharp(path.join(out, pending[1]!.output)).metadata()).width).not.toBe(64); // redone in place
  });

  it('paused through the engine: the rest stays pending, the manifest knows how to resume, nothing is redone', async () => {
    const input = path.join(dir, 'pause in');
    for (let i = 0; i < 5; i++) await makePhoto(path.join(input, `q${i}.png`), STREET, 240 + i * 8);
    const out = path.join(dir, 'pause out');
    const spec = JobSpec.parse({ kind: 'batch', inputs: [input], outDir: out, preset: { kind: 'export' } });
    const controller = new AbortController();
    const firstStages: string[] = [];
    await expect(
      engine.runJob(spec, controller.signal, (u) => {
        firstStages.push(u.stage);
        if (/^2\/5 .*starting/.test(u.stage)) controller.abort(); // the first photo is finished
      }),
    ).rejects.toThrow(JobCancelledError);
    expect(firstStages).toContain('1/5 q0.png: done');

    const paused = readManifest(out)!;
    const statuses = paused.items.map((i) => i.status);
    expect(statuses.filter((s) => s === 'done').length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 'pending').length).toBeGreaterThanOrEqual(3);
    expect(statuses).not.toContain('failed'); // a pause or cancel is not a failure
    expect(manifestCounts(paused)).toMatchObject({ total: 5, failed: 0, skipped: 0 });
    // The manifest holds the batch to start again (absolute paths), so the app can resume after a restart.
    expect({ ...paused.spec, kind: 'batch' }).toEqual({ ...spec, nameTemplate: '{name}-{preset}' });
    expect(await readFile(path.join(out, REPORT_TEXT), 'utf8')).toMatch(/not done yet/);
    const doneBefore = paused.items.filter((i) => i.status === 'done');
    const mtimes = await Promise.all(
      doneBefore.map(async (i) => (await stat(path.join(out, i.output))).mtimeMs),
    );

    const stages: string[] = [];
    const items: BatchItemProgress[] = [];
    const result = await engine.runJob(spec, new AbortController().signal, (u) => {
      stages.push(u.stage);
      if (u.item) items.push(u.item);
    });
    expect(result).toMatchObject({ kind: 'batch', counts: { total: 5, done: 5, pending: 0, failed: 0 } });
    // Numbered over the whole batch: it goes on after the photos already done, which are not redone.
    const first = doneBefore.length + 1;
    expect(stages.find((stage) => / starting$/.test(stage))).toBe(`${first}/5 q${first - 1}.png: starting`);
    expect(items[0]).toEqual({ index: first, total: 5, name: `q${first - 1}.png`, stage: 'starting' });
    expect(items.filter((item) => item.stage === 'done').map((item) => item.index)).toEqual(
      Array.from({ length: 5 - doneBefore.length }, (_, i) => first + i),
    );
    expect(stages.some((stage) => doneBefore.some((i) => stage.includes(path.basename(i.input))))).toBe(
      false,
    );
    expect(
      await Promise.all(doneBefore.map(async (i) => (await stat(path.join(out, i.output))).mtimeMs)),
    ).toEqual(mtimes);
    expect(await listFiles(out)).toEqual([
      MANIFEST_FILE,
      REPORT_JSON,
      REPORT_TEXT,
      ...[0, 1, 2, 3, 4].map((i) => `q${i}-export.png`),
    ]);
    // Finished: nothing to resume; a discarded batch keeps its items but no longer offers itself.
    expect(manifestCounts(readManifest(out)!)).toMatchObject({ total: 5, done: 5, pending: 0 });
    expect(await forgetBatchSpec(out)).toBe(true);
    expect(readManifest(out)!.spec).toBeUndefined();
    expect(readManifest(out)!.items.every((i) => i.status === 'done')).toBe(true);
    expect(await forgetBatchSpec(out)).toBe(false);
  });

  it('applies a saved blur to every photo through the kernel job', async () => {
    const checkpointPath = path.join(dir, 'tiny.safetensors');
    await saveTinyCheckpoint(checkpointPath, 4);
    const withModel = await Engine.create({ backend: 'wasm', checkpointPath, defaultCheckpointPath: '' });
    const pair = path.join(dir, 'pair');
    await makePhoto(path.join(pair, 'sharp.png'), STREET, 300);
    await sharp(path.join(pair, 'sharp.png')).blur(2).toFile(path.join(pair, 'blurry.png'));
    const kernelPath = path.join(dir, 'cat.blurkernel');
    const spec = {
      kind: 'extractKernel',
      sharpPath: path.join(pair, 'sharp.png'),
      blurryPath: path.join(pair, 'blurry.png'),
      outputPath: kernelPath,
    } as const;
    await withModel.runJob(spec, new AbortController().signal, () => {});
    const input = path.join(dir, 'to blur');
    await makePhoto(path.join(input, 'a.jpg'), TEXTURE, 280);
    await makePhoto(path.join(input, 'b.png'), GRASS, 256);
    const out = path.join(dir, 'blurred');
    const summary = await runBatch(
      {
        inputs: [input],
        recursive: false,
        outDir: out,
        preset: { kind: 'apply-kernel', kernelPath, mode: 'uniform' },
        output: {},
        onConflict: 'rename',
        jobs: 1,
      },
      { runner: withModel, signal: new AbortController().signal, progress: () => {} },
    );
    expect(summary.items.map((i) => [i.status, path.basename(i.output)])).toEqual([
      ['done', 'a-apply-kernel.jpg'],
      ['done', 'b-apply-kernel.png'],
    ]);
    expect((await sharp(path.join(out, 'a-apply-kernel.jpg')).metadata()).width).toBe(280);
    // With the PSFs measured from the pair instead of the (untrained) model's code: the pair's blur itself.
    const measured = path.join(dir, 'blurred with PSFs');
    await runBatch(
      {
        inputs: [input],
        recursive: false,
        outDir: measured,
        preset: { kind: 'apply-kernel', kernelPath, mode: 'uniform', using: 'explicit' },
        output: {},
        onConflict: 'rename',
        jobs: 1,
      },
      { runner: withModel, signal: new AbortController().signal, progress: () => {} },
    );
    const pixels = (file: string) => sharp(file).removeAlpha().raw().toBuffer();
    const truth = await sharp(path.join(input, 'b.png')).blur(2).removeAlpha().raw().toBuffer();
    const error = async (file: string) => {
      const result = await pixels(file);
      return result.reduce((sum, v, i) => sum + Math.abs(v - truth[i]!), 0) / result.length;
    };
    const [withPsfs, withCode] = [
      await error(path.join(measured, 'b-apply-kernel.png')),
      await error(path.join(out, 'b-apply-kernel.png')),
    ];
    // sharp blurs in sRGB values, the PSFs in linear light: close, not equal (3.8 of 255 measured; the code 15).
    expect(withPsfs).toBeLessThan(6);
    expect(withPsfs).toBeLessThan(withCode / 2);
    await expect(
      batch({
        inputs: [input],
        outDir: out,
        preset: { kind: 'apply-kernel', kernelPath: 'no.blurkernel', mode: 'spatial' },
      }).done,
    ).rejects.toThrow(/Cannot find the kernel file/);
  });

  it('runs as an engine job (JobSpec kind batch): counts, report path and each problem with its reason', async () => {
    const input = path.join(dir, 'job in');
    await makePhoto(path.join(input, 'a.jpg'), TEXTURE, 240);
    await writeFile(path.join(input, 'text.jpg'), 'not a JPEG\n');
    const out = path.join(dir, 'job out');
    const spec = JobSpec.parse({ kind: 'batch', inputs: [input], outDir: out, preset: { kind: 'export' } });
    expect(spec).toMatchObject({ recursive: false, onConflict: 'rename', jobs: 1, output: {} });
    const stages: string[] = [];
    const etas: (number | null)[] = [];
    const result = await engine.runJob(spec, new AbortController().signal, (u) => {
      stages.push(u.stage);
      etas.push(u.etaSeconds);
    });
    expect(result).toMatchObject({
      kind: 'batch',
      outDir: out,
      reportPath: path.join(out, REPORT_TEXT),
      counts: { total: 2, done: 1, failed: 1, skipped: 0, pending: 0 },
      problems: [{ input: path.join(input, 'text.jpg'), name: 'text.jpg', status: 'failed' }],
    });
    if (result.kind !== 'batch') throw new Error('not a batch result');
    expect(result.problems[0]!.reason).toMatch(/not an image file/);
    expect(existsSync(path.join(out, 'a-export.jpg'))).toBe(true);
    expect(stages.some((stage) => /^\d\/2 a\.jpg:/.test(stage))).toBe(true);
    expect(etas.at(-1)).toBe(0);
    // Bad specs are refused at the boundary.
    expect(
      JobSpec.safeParse({ kind: 'batch', inputs: [], outDir: out, preset: { kind: 'export' } }).success,
    ).toBe(false);
  });

  it('the CLI explains batch usage mistakes with exit code 2', async () => {
    await expect(run(process.execPath, [CLI, 'batch', '-o', dir])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/missing the photos or folders/),
    });
    await expect(
      run(process.execPath, [CLI, 'batch', path.dirname(STREET), '-o', dir, '--on-conflict', 'replace']),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/invalid options/) });
  });

  it('a CLI batch killed with SIGKILL resumes: every result once, complete, originals untouched', async () => {
    const input = path.join(dir, 'kill in');
    const sources = [STREET, TEXTURE, GRASS, MOTION_BLURRED];
    const expected: string[] = [];
    for (let i = 0; i < 24; i++) {
      const sub = i < 12 ? 'roll 1' : 'rouleau №2';
      const name = `shot ${String(i).padStart(2, '0')}.${i % 2 ? 'png' : 'jpg'}`;
      await makePhoto(path.join(input, sub, name), sources[i % sources.length]!, 256 + ((i * 37) % 345));
      expected.push(path.join(sub, `${path.parse(name).name}-export.png`));
    }
    const originals = await listFiles(input);
    const sums = await Promise.all(originals.map((f) => sha256(path.join(input, f))));
    const out = path.join(dir, 'kill out');
    const args = [
      CLI,
      'batch',
      input,
      '-o',
      out,
      '--recursive',
      '--format',
      'png',
      '--bit-depth',
      '16',
      '-q',
    ];

    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const doneCount = (): number => readManifest(out)?.items.filter((i) => i.status === 'done').length ?? 0;
    while (doneCount() < 3) await new Promise((r) => setTimeout(r, 15));
    child.kill('SIGKILL');
    await exited;
    const atKill = readManifest(out)!;
    const doneAtKill = atKill.items.filter((i) => i.status === 'done');
    expect(doneAtKill.length).toBeGreaterThanOrEqual(3);
    expect(doneAtKill.length).toBeLessThan(24); // really killed mid-way
    const mtimes = await Promise.all(
      doneAtKill.map(async (i) => (await stat(path.join(out, i.output))).mtimeMs),
    );

    const second = spawn(process.execPath, args, { stdio: 'ignore' });
    expect(await new Promise((resolve) => second.on('exit', (code) => resolve(code)))).toBe(0);

    const results = (await listFiles(out)).filter((f) => !f.startsWith('.') && !f.startsWith('batch-report'));
    expect(results).toEqual(expected.sort());
    expect((await readdir(out, { recursive: true })).filter((f) => f.includes('.tmp'))).toEqual([]);
    for (const file of results) {
      const meta = await sharp(path.join(out, file)).metadata();
      expect([meta.format, meta.depth]).toEqual(['png', 'ushort']);
    }
    // Results finished before the kill were not redone.
    const after = await Promise.all(
      doneAtKill.map(async (i) => (await stat(path.join(out, i.output))).mtimeMs),
    );
    expect(after).toEqual(mtimes);
    expect(readManifest(out)!.items.every((i) => i.status === 'done')).toBe(true);
    expect(await listFiles(input)).toEqual(originals);
    expect(await Promise.all(originals.map((f) => sha256(path.join(input, f))))).toEqual(sums);
  });
});
