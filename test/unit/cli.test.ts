// The command line, as a user runs it (the built CLI in a child process).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_SHARED_DATA, REPO_ROOT, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';
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

  it('info reports the wasm backend, versions and why', async () => {
    const { stdout } = await blurspace('info', '--json');
    const info = JSON.parse(stdout);
    expect(info.backend).toBe('wasm');
    expect(info.versions).toMatchObject({ tfjs: '4.22.0' });
    expect(info.backendNote).toMatch(/tensorflow unavailable: not installed/);
    expect((await blurspace('info')).stdout).toMatch(/^backend {5}wasm/m);
  });

  it('explains a usage mistake with exit code 2', async () => {
    await expect(blurspace('extract-kernel', '--sharp', 'a.png')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/missing --blurry/),
    });
  });

  it.skipIf(!HAS_SHARED_DATA)(
    `extract-kernel, show-kernel and apply-kernel chain ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`,
    async () => {
      await tf.setBackend('wasm');
      const checkpoint = path.join(dir, 'tiny.safetensors');
      await saveTinyCheckpoint(checkpoint, 5);
      const sharpPath = path.join(dir, 'sharp.png');
      const blurryPath = path.join(dir, 'blurry.png');
      await sharp(path.join(SHARED_DATA, 'photos-small', 'chelsea.png'))
        .png()
        .toFile(sharpPath);
      await sharp(path.join(SHARED_DATA, 'photos-small', 'chelsea.png'))
        .blur(2)
        .png()
        .toFile(blurryPath);
      const kernel = path.join(dir, 'cat.blurkernel');
      const common = ['--checkpoint', checkpoint, '-q'];
      expect(
        (
          await blurspace(
            'extract-kernel',
            '--sharp',
            sharpPath,
            '--blurry',
            blurryPath,
            '-o',
            kernel,
            ...common,
          )
        ).stdout,
      ).toContain(kernel);
      const trace = path.join(dir, 'trace.png');
      await blurspace('show-kernel', kernel, '-o', trace);
      expect((await sharp(trace).metadata()).format).toBe('png');
      const out = path.join(dir, 'coffee-shaken.jpg');
      await blurspace(
        'apply-kernel',
        path.join(SHARED_DATA, 'photos-small', 'coffee.png'),
        '--kernel',
        kernel,
        '-o',
        out,
        '--uniform',
        ...common,
      );
      const meta = await sharp(out).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 600, 400]);

      const deblurred = path.join(dir, 'cat-deblurred.png');
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
        ...common,
      );
      const lines = (await readFile(lossLog, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4]);
      expect(lines[1].terms).toHaveProperty('data (Charbonnier)');
      expect((await sharp(deblurred).metadata()).width).toBe((await sharp(blurryPath).metadata()).width);
      await expect(
        blurspace('deblur', blurryPath, '-o', deblurred, '--roi', '1,2,3', ...common),
      ).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/--roi wants x,y,width,height/),
      });
    },
  );
  it.skipIf(!HAS_SHARED_DATA)(
    `fast deblur draws its kernel; tiles on worker threads give the same file as one thread; --learned ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`,
    async () => {
      // 1100x600: two deconvolution tiles side by side, so two threads really share the work.
      const photo = path.join(dir, 'wide.png');
      await sharp(path.join(SHARED_DATA, 'photos', 'enlightenment-data', 'Bamboo.jpg'))
        .resize(1100, 600, { fit: 'cover' })
        .png()
        .toFile(photo);
      const outputs = [path.join(dir, 'threads-2.png'), path.join(dir, 'threads-1.png')];
      const trace = path.join(dir, 'kernel.png');
      const deblur = (output: string, threads: string, ...extra: string[]) =>
        run(process.execPath, [BIN, 'deblur', photo, '-o', output, '-q', ...extra], {
          env: { ...process.env, BLURSPACE_THREADS: threads },
        });
      const { stdout } = await deblur(outputs[0]!, '2', '--trace', trace);
      expect(stdout).toMatch(/blur (was estimated reliably|estimate is uncertain|could not be estimated)/);
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
    },
  );
});
