// Blur synthesis from the kernel space through the built CLI: generate-blur (samples from the VAE prior)
// and augment (blur transfer from sharp/blurry pairs onto other photos), with the test photos and tiny
// checkpoints.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths';
import { makeDataRoot, STREET, TEXTURE } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';

const run = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'blurspace.js');
const blurspace = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...process.env } });

const pixels = (file: string): Promise<Buffer> => sharp(file).raw().toBuffer();
const sorted = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

async function expectSameFiles(a: string, b: string, names: string[]): Promise<void> {
  for (const name of names) {
    expect((await readFile(path.join(a, name))).equals(await readFile(path.join(b, name))), name).toBe(true);
  }
}

describe('blur synthesis', () => {
  let dir: string;
  let vae: string;
  let plain: string;
  let photo: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-synthesis-'));
    vae = path.join(dir, 'tiny-vae.safetensors');
    plain = path.join(dir, 'tiny.safetensors');
    await saveTinyCheckpoint(vae, 11, { useVAE: true });
    await saveTinyCheckpoint(plain, 11);
    // A 16-bit PNG of an odd size: outputs must keep both.
    photo = path.join(dir, 'cat.png');
    await sharp(STREET).resize(300, 200).toColourspace('rgb16').png().toFile(photo);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('generate-blur writes n blurred versions like the input, each different, with traces; same seed, same files', async () => {
    const out = path.join(dir, 'generated');
    const common = ['--checkpoint', vae, '-q'];
    const { stdout } = await blurspace(
      'generate-blur',
      photo,
      '-n',
      '3',
      '-o',
      out,
      '--seed',
      '5',
      ...common,
    );
    expect(stdout).toContain('3 blurs sampled from the prior (seed 5)');
    expect(await sorted(out)).toEqual([
      'cat-blur-01-trace.png',
      'cat-blur-01.png',
      'cat-blur-02-trace.png',
      'cat-blur-02.png',
      'cat-blur-03-trace.png',
      'cat-blur-03.png',
    ]);
    const outputs = [1, 2, 3].map((i) => path.join(out, `cat-blur-0${i}.png`));
    for (const file of outputs) {
      const meta = await sharp(file).metadata();
      expect([meta.width, meta.height, meta.depth]).toEqual([300, 200, 'ushort']);
    }
    const input = await pixels(photo);
    const blurred = await Promise.all(outputs.map(pixels));
    for (const b of blurred) expect(b.equals(input)).toBe(false);
    expect(blurred[0]!.equals(blurred[1]!)).toBe(false);
    expect(blurred[1]!.equals(blurred[2]!)).toBe(false);
    expect((await sharp(path.join(out, 'cat-blur-01-trace.png')).metadata()).format).toBe('png');

    // The same seed gives the same files; sample i does not depend on how many are drawn.
    const again = path.join(dir, 'generated-again');
    await blurspace('generate-blur', photo, '-n', '2', '-o', again, '--seed', '5', ...common);
    await expectSameFiles(again, out, ['cat-blur-01.png', 'cat-blur-02.png', 'cat-blur-02-trace.png']);
    // A code per cell is another blur than one code for the whole photo.
    const spatial = path.join(dir, 'generated-spatial');
    await blurspace('generate-blur', photo, '-n', '1', '-o', spatial, '--seed', '5', '--spatial', ...common);
    expect((await pixels(path.join(spatial, 'cat-blur-01.png'))).equals(blurred[0]!)).toBe(false);
  });

  it('generate-blur refuses a checkpoint trained without the VAE prior, saying what to do', async () => {
    const out = path.join(dir, 'refused');
    await expect(
      blurspace('generate-blur', photo, '-n', '2', '-o', out, '--checkpoint', plain, '-q'),
    ).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /trained without the VAE prior.*resources\/training\/compact-vae\.json.*--checkpoint/s,
      ),
    });
  });

  it('generate-blur explains a count below 1 with exit code 2', async () => {
    const out = path.join(dir, 'refused');
    await expect(blurspace('generate-blur', photo, '-n', '0', '-o', out)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/-n wants a whole number of at least 1/),
    });
  });

  it('generate-blur samples with the shipped VAE model when no checkpoint is named', async () => {
    const out = path.join(dir, 'shipped');
    const { stdout } = await blurspace('generate-blur', photo, '-n', '2', '-o', out, '--seed', '3', '-q');
    expect(stdout).toMatch(/2 blurs sampled from the prior \(seed 3\)/);
    const [first, second] = await Promise.all(
      ['cat-blur-01.png', 'cat-blur-02.png'].map((name) => pixels(path.join(out, name))),
    );
    const input = await pixels(photo);
    expect(first!.equals(input)).toBe(false);
    expect(first!.equals(second!)).toBe(false);
  });

  it('augment puts the blur of each pair onto the targets: pairs in the same layout, a manifest, deterministic', async () => {
    const pairs = path.join(dir, 'pairs');
    // `blurspace pairs` with a folder writes the layout augment reads.
    const dataRoot = await makeDataRoot(path.join(dir, 'data'));
    await run(process.execPath, [BIN, 'pairs', '--kind', 'shake', '-n', '2', '-o', pairs, '--seed', '3'], {
      env: { ...process.env, BLURSPACE_DATA: dataRoot },
    });
    const pairNames = ['shake-train-3-000', 'shake-train-3-001'];
    expect(await sorted(pairs)).toEqual(pairNames.flatMap((n) => [`${n}_blur.png`, `${n}_sharp.png`]));
    const targets = path.join(dir, 'targets');
    await mkdir(targets);
    await sharp(TEXTURE)
      .resize(320, 200)
      .jpeg()
      .withExif({ IFD0: { Artist: 'Blurspace test' } })
      .toFile(path.join(targets, 'coffee.jpg'));
    await sharp(photo).toFile(path.join(targets, 'cat.png'));

    const augment = (out: string, ...extra: string[]) =>
      blurspace(
        'augment',
        '--pairs',
        pairs,
        '--targets',
        targets,
        '-o',
        out,
        '--checkpoint',
        vae,
        '-q',
        ...extra,
      );
    const out = path.join(dir, 'augmented');
    const { stdout } = await augment(out, '--seed', '9');
    expect(stdout).toMatch(/2 new pairs \(2 source pairs, seed 9\)/);
    const manifest = JSON.parse(await readFile(path.join(out, 'augment.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'blurspace-augment',
      seed: 9,
      layout: 'suffix',
      mode: 'spatial',
    });
    expect(manifest.items.map((i: { target: string }) => i.target)).toEqual(['cat.png', 'coffee.jpg']);
    // Two targets, two pairs, one blur each: each pair's blur is used once.
    expect(manifest.items.map((i: { pair: string }) => i.pair).sort()).toEqual(pairNames);
    for (const item of manifest.items) {
      expect(item.sampleSeed).toEqual(expect.any(Number)); // a VAE: mean + sigma * eps
      expect(item.sharp).toBe(
        `${path.parse(item.target).name}--${item.pair}_sharp${path.extname(item.target)}`,
      );
      expect(item.blurry).toBe(item.sharp.replace('_sharp', '_blur'));
      const source = await sharp(path.join(targets, item.target)).metadata();
      for (const file of [item.sharp, item.blurry]) {
        const meta = await sharp(path.join(out, file)).metadata();
        expect([meta.format, meta.width, meta.height, meta.depth]).toEqual([
          source.format,
          source.width,
          source.height,
          source.depth,
        ]);
      }
      expect(
        (await pixels(path.join(out, item.sharp))).equals(await pixels(path.join(out, item.blurry))),
      ).toBe(false);
    }
    expect((await sharp(path.join(out, manifest.items[1].blurry)).metadata()).exif).toBeDefined();

    // Deterministic from the seed: a second run writes the same bytes.
    const again = path.join(dir, 'augmented-again');
    await augment(again, '--seed', '9');
    expect(await sorted(again)).toEqual(await sorted(out));
    await expectSameFiles(again, out, await sorted(out));

    // The sharp/ + blur/ layout is read and written too; -n 2 gives each target both pairs' blurs.
    const folders = path.join(dir, 'pairs-folders');
    await mkdir(path.join(folders, 'sharp'), { recursive: true });
    await mkdir(path.join(folders, 'blur'), { recursive: true });
    for (const name of pairNames) {
      await rename(path.join(pairs, `${name}_sharp.png`), path.join(folders, 'sharp', `${name}.png`));
      await rename(path.join(pairs, `${name}_blur.png`), path.join(folders, 'blur', `${name}.png`));
    }
    const outFolders = path.join(dir, 'augmented-folders');
    await blurspace(
      'augment',
      '--pairs',
      folders,
      '--targets',
      targets,
      '-o',
      outFolders,
      '-n',
      '2',
      '--checkpoint',
      plain,
      '-q',
    );
    const second = JSON.parse(await readFile(path.join(outFolders, 'augment.json'), 'utf8'));
    expect(second.layout).toBe('folders');
    expect(second.items).toHaveLength(4);
    expect(second.items.every((i: { sampleSeed: unknown }) => i.sampleSeed === null)).toBe(true); // no VAE
    expect(await sorted(path.join(outFolders, 'blur'))).toEqual(
      ['cat', 'coffee'].flatMap((t) => pairNames.map((p) => `${t}--${p}${t === 'cat' ? '.png' : '.jpg'}`)),
    );
  });

  it('augment explains empty folders, unmatched pairs and unreadable photos', async () => {
    const empty = path.join(dir, 'empty');
    const targets = path.join(dir, 'few-targets');
    await mkdir(empty);
    await mkdir(targets);
    await sharp(photo).toFile(path.join(targets, 'cat.png'));
    const augment = (pairs: string, targetDir = targets) =>
      blurspace(
        'augment',
        '--pairs',
        pairs,
        '--targets',
        targetDir,
        '-o',
        path.join(dir, 'x'),
        '--checkpoint',
        vae,
        '-q',
      );
    await expect(augment(empty)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/holds no photo pairs: name each pair NAME_sharp/),
    });

    const unmatched = path.join(dir, 'unmatched');
    await mkdir(unmatched);
    await sharp(photo).toFile(path.join(unmatched, 'a_sharp.png'));
    await sharp(photo).toFile(path.join(unmatched, 'a_blur.png'));
    await sharp(photo).toFile(path.join(unmatched, 'b_sharp.png'));
    await expect(augment(unmatched)).rejects.toMatchObject({
      stderr: expect.stringMatching(/unmatched photos: b_sharp\.png \(no blurry partner\)/),
    });
    await rm(path.join(unmatched, 'b_sharp.png'));
    await sharp(photo).toFile(path.join(unmatched, 'c.png'));
    await expect(augment(unmatched)).rejects.toMatchObject({
      stderr: expect.stringMatching(/cannot tell whether c\.png is sharp or blurry/),
    });
    await rm(path.join(unmatched, 'c.png'));

    await expect(augment(unmatched, empty)).rejects.toMatchObject({
      stderr: expect.stringMatching(/targets folder .* holds no photos/),
    });
    await writeFile(path.join(targets, 'broken.jpg'), 'not a photo');
    await expect(augment(unmatched)).rejects.toMatchObject({ stderr: expect.stringMatching(/broken\.jpg/) });
  });
});
