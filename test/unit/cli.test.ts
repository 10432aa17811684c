// The command line, as a user runs it (the built CLI in a child process).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMaximModel, MAXIM_MISSING } from '../../src/engine/model/maxim';
import { REPO_ROOT } from '../helpers/paths';
import { MOTION_BLURRED, STREET, TEXTURE, writeLargePhoto } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'blurspace.js');
const blurspace = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...process.env } });

describe('blurspace CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('info reports the wasm backend, versions and why, and whether the learned network is installed', async () => {
    const { stdout } = await blurspace('info', '--json');
    const info = JSON.parse(stdout);
    expect(info.backend).toBe('wasm');
    expect(info.versions).toMatchObject({ tfjs: '4.22.0' });
    expect(info.backendNote).toMatch(/tensorflow unavailable: not installed/);
    expect(info.learnedNetwork.available).toBe(findMaximModel() !== null);
    const text = (await blurspace('info')).stdout;
    expect(text).toMatch(/^backend {5}wasm/m);
    expect(text).toContain(`network     ${info.learnedNetwork.note}`);
  });

  it('explains a usage mistake with exit code 2, and the usage of that command', async () => {
    await expect(blurspace('extract-kernel', '--sharp', 'a.png')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /missing --blurry[^]*Usage: blurspace extract-kernel \[--sharp S\] --blurry/,
      ),
    });
    await expect(
      blurspace('show-kernel', 'k.blurkernel', '-o', 'k.png', '--strength', '1'),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/show-kernel does not take --strength/),
    });
  });

  it('--help lists the commands; <command> --help shows that command alone', async () => {
    const general = (await blurspace('--help')).stdout;
    for (const command of ['info', 'extract-kernel', 'apply-kernel', 'deblur', 'batch', 'augment']) {
      expect(general).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    const deblur = (await blurspace('deblur', '--help')).stdout;
    expect(deblur).toMatch(/^Usage: blurspace deblur PHOTO -o OUT/);
    expect(deblur).toMatch(/^ {2}--in-place +Write the result over PHOTO/m);
    expect(deblur).not.toContain('Commands:');
    expect(deblur).not.toContain('--on-conflict');
    const batch = (await blurspace('batch', '-h')).stdout;
    expect(batch).toMatch(/^Usage: blurspace batch IN\.\.\. -o OUTDIR/);
    expect(batch).toMatch(/^ {2}--on-conflict C +A result name already taken/m);
    expect(batch).toMatch(/^ {2}--guided +deblur, fast mode: measure the blur against the network/m);
  });

  it('never writes a result over its input unless --in-place says so', async () => {
    // A motion-blurred picture, so that deblurring it really changes it.
    const photo = path.join(dir, 'own.png');
    await sharp(MOTION_BLURRED).png().toFile(photo);
    const original = await readFile(photo);
    const link = path.join(dir, 'own-link.png');
    await symlink(photo, link);
    for (const args of [
      ['-o', photo],
      ['-o', link],
      ['-o', path.join(dir, 'other.png'), '--trace', photo],
    ]) {
      await expect(blurspace('deblur', photo, ...args, '-q')).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/is the same file as an input: writing it would replace that input/),
      });
    }
    await expect(blurspace('deblur', photo, '-o', photo)).rejects.toMatchObject({
      stderr: expect.stringContaining('Choose another -o, or add --in-place'),
    });
    expect((await readFile(photo)).equals(original)).toBe(true);
    // A kernel drawing over its kernel file: refused before the file is even read.
    const kernel = path.join(dir, 'not really.blurkernel');
    await writeFile(kernel, 'kept');
    await expect(blurspace('show-kernel', kernel, '-o', kernel)).rejects.toMatchObject({ code: 2 });
    expect(await readFile(kernel, 'utf8')).toBe('kept');

    const { stdout } = await blurspace('deblur', photo, '-o', photo, '--in-place', '-q');
    expect(stdout).toContain(`deblurred photo written to ${photo}`);
    const replaced = await readFile(photo);
    expect(replaced.equals(original)).toBe(false);
    expect(await sharp(replaced).metadata()).toMatchObject({ format: 'png', width: 256, height: 256 });
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  describe('with a tiny model and a sharp/blurry pair', () => {
    let checkpoint: string;
    let sharpPath: string;
    let blurryPath: string;
    const common = () => ['--checkpoint', checkpoint, '-q'];
    beforeAll(async () => {
      await tf.setBackend('wasm');
      checkpoint = path.join(dir, 'tiny.safetensors');
      await saveTinyCheckpoint(checkpoint, 5);
      sharpPath = path.join(dir, 'sharp.png');
      blurryPath = path.join(dir, 'blurry.png');
      await sharp(STREET).png().toFile(sharpPath);
      await sharp(STREET).blur(2).png().toFile(blurryPath);
    });

    it('extract-kernel, show-kernel and apply-kernel chain', async () => {
      const kernel = path.join(dir, 'street.blurkernel');
      const extracted = await blurspace(
        'extract-kernel',
        '--sharp',
        sharpPath,
        '--blurry',
        blurryPath,
        '-o',
        kernel,
        ...common(),
      );
      expect(extracted.stdout).toContain(kernel);
      // With the verdict on the blur measured from the pair.
      expect(extracted.stdout).toMatch(/The blur was measured reliably: about \d+ px long/);
      const trace = path.join(dir, 'trace.png');
      await blurspace('show-kernel', kernel, '-o', trace);
      expect((await sharp(trace).metadata()).format).toBe('png');
      const out = path.join(dir, 'texture-shaken.jpg');
      await blurspace('apply-kernel', TEXTURE, '--kernel', kernel, '-o', out, '--uniform', ...common());
      const meta = await sharp(out).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 480, 360]);
      const measured = path.join(dir, 'texture-measured.png');
      await blurspace('apply-kernel', TEXTURE, '--kernel', kernel, '-o', measured, '--explicit', ...common());
      expect((await sharp(measured).metadata()).width).toBe(480);
    });

    it("deblur in paper mode on a region logs each iteration's losses and writes a full-size result", async () => {
      const deblurred = path.join(dir, 'street-deblurred.png');
      const lossLog = path.join(dir, 'loss.jsonl');
      const roi = ['--roi', '100,50,200,160', '--iterations', '3'];
      await blurspace(
        'deblur',
        blurryPath,
        '-o',
        deblurred,
        '--mode',
        'paper',
        ...roi,
        '--loss-log',
        lossLog,
        ...common(),
      );
      const lines = (await readFile(lossLog, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4]);
      expect(lines[1].terms).toHaveProperty('data (Charbonnier)');
      expect((await sharp(deblurred).metadata()).width).toBe((await sharp(blurryPath).metadata()).width);
    });

    it('explains a malformed --roi with exit code 2', async () => {
      const deblurred = path.join(dir, 'never.png');
      await expect(
        blurspace('deblur', blurryPath, '-o', deblurred, '--roi', '1,2,3', ...common()),
      ).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/--roi wants x,y,width,height/),
      });
    });
  });

  it('batch --mode learned stops before any photo when the network is not installed, as deblur does', async () => {
    const out = path.join(dir, 'learned-batch');
    // A model.json that does not exist stands for a machine without the network's package.
    const env = { ...process.env, BLURSPACE_LEARNED_MODEL: path.join(dir, 'no-network', 'model.json') };
    const learned = (...args: string[]) => run(process.execPath, [BIN, ...args, '-q'], { env });
    const refused = { code: 1, stderr: expect.stringContaining(MAXIM_MISSING) };
    await expect(
      learned('batch', MOTION_BLURRED, '-o', out, '--preset', 'deblur', '--mode', 'learned'),
    ).rejects.toMatchObject(refused);
    expect(existsSync(out)).toBe(false);
    await expect(
      learned('deblur', MOTION_BLURRED, '-o', path.join(out, 'one.png'), '--mode', 'learned'),
    ).rejects.toMatchObject(refused);
  });

  it('fast deblur draws its kernel; estimates and tiles on worker threads give the same file as one thread; --learned', async () => {
    // 1100x600: two deconvolution tiles side by side, so two threads really share the work. Blurred, so that
    // the second blur estimate runs too (on a thread of its own with two).
    const sharpPhoto = path.join(dir, 'wide-sharp.png');
    await writeLargePhoto(sharpPhoto, 1100, 600);
    const photo = path.join(dir, 'wide.png');
    await sharp(sharpPhoto)
      // A 15 px horizontal line (sharp's kernels are at least 3 x 3: the line is the middle row).
      .convolve({
        width: 15,
        height: 3,
        kernel: Array.from({ length: 45 }, (_, i) => Number(i >= 15 && i < 30)),
      })
      .toFile(photo);
    const outputs = [path.join(dir, 'threads-2.png'), path.join(dir, 'threads-1.png')];
    const trace = path.join(dir, 'kernel.png');
    // The blur is estimated on a 256 px region, which is quicker than the default 448 px window.
    const deblur = (output: string, threads: string, ...extra: string[]) =>
      run(
        process.execPath,
        [BIN, 'deblur', photo, '-o', output, '--roi', '400,150,256,256', '-q', ...extra],
        {
          env: { ...process.env, BLURSPACE_THREADS: threads },
        },
      );
    const { stdout } = await deblur(outputs[0]!, '2', '--trace', trace);
    expect(stdout).toMatch(/blur was estimated reliably|blur estimate is uncertain/);
    expect(stdout).toContain(`blur kernel drawn to ${trace}`);
    expect((await sharp(trace).metadata()).format).toBe('png');
    await deblur(outputs[1]!, '1');
    const [a, b] = await Promise.all(outputs.map((file) => sharp(file).raw().toBuffer()));
    expect(a!.equals(b!)).toBe(true);
    expect((await sharp(outputs[0]!).metadata()).width).toBe(1100);
    // --learned finds the shipped restorer beside the built CLI and runs it after the deconvolution.
    // Its tiles run on two threads of their own, or here with one: the same pixels, up to rounding.
    const learned = [path.join(dir, 'learned-2.png'), path.join(dir, 'learned-1.png')];
    await deblur(learned[0]!, '2', '--learned');
    await deblur(learned[1]!, '1', '--learned');
    const [l2, l1] = await Promise.all(learned.map((file) => sharp(file).raw().toBuffer()));
    expect(l2!.equals(a!)).toBe(false);
    expect(l2!.every((v, i) => Math.abs(v - l1![i]!) <= 1)).toBe(true);
  });
});
