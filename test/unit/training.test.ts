// The trainer on training pairs made from the test photos: it learns, and a run killed with SIGKILL resumes to
// the same result.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointFile, loadRestorerCheckpoint, readSafetensors } from '../../src/engine/checkpoint';
import { makeBatch, trainingData } from '../../src/engine/training';
import { loadModel } from '../../src/engine/model/model-store';
import { KernelWizard } from '../../src/engine/model/kernel-wizard';
import { Restorer } from '../../src/engine/model/restorer';
import { bestShift, shiftImage } from '../../src/engine/deblur/image-ops';
import {
  BlurModelTrainConfig,
  klWeightAt,
  modelConfigOf,
  TrainConfig,
} from '../../src/engine/training/config';
import { withFastModeInputs } from '../../src/engine/training/fast-mode-inputs';
import {
  LOG_FILE,
  MODEL_FILE,
  psnr,
  STATE_FILE,
  train,
  warmStartWeights,
  type TrainingData,
} from '../../src/engine/training/trainer';
import { REPO_ROOT } from '../helpers/paths';
import { makeDataRoot } from '../helpers/test-images';

const TINY_CONFIG = path.join(REPO_ROOT, 'resources', 'training', 'tiny.json');
const CLI = path.join(REPO_ROOT, 'out', 'main', 'cli.js');

function readLog(dir: string): Array<{
  type: string;
  step: number;
  loss?: number;
  charbonnier?: number;
  kl?: number | null;
  transfer?: number | null;
  psnr?: Record<string, number>;
  identityPsnr?: Record<string, number>;
}> {
  return readFileSync(path.join(dir, LOG_FILE), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** A small data folder in the shared data's layout, made from the test photos. */
let dataRoot: string;

function runCli(args: string[]): { done: Promise<number | null>; kill(): void } {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: 'ignore',
    env: { ...process.env, BLURSPACE_DATA: dataRoot },
  });
  return {
    done: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: () => child.kill('SIGKILL'),
  };
}

/** The same two pairs (shake unless told) at every step, and as the validation set. */
async function fixedBatch(
  seed: number,
  kind: 'shake' | 'kernel' = 'shake',
  partners = false,
): Promise<TrainingData> {
  const batch = await makeBatch({
    dataRoot,
    seed,
    size: 256,
    split: 'train',
    batch: 0,
    batchSize: 2,
    mix: { [kind]: 1 },
    partners,
  });
  return { batch: async () => batch, validation: async () => new Map([[kind, batch]]) };
}

describe('trainer', () => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-train-'));
    dataRoot = await makeDataRoot(path.join(dir, 'data'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('fits a fixed batch of pairs: the loss goes down', async () => {
    const config = TrainConfig.parse({
      ...JSON.parse(readFileSync(TINY_CONFIG, 'utf8')),
      steps: 25,
      validateEvery: 25,
      checkpointEvery: 25,
    });
    const data = await fixedBatch(3);
    const losses: number[] = [];
    const out = path.join(dir, 'fit');
    await train(config, data, { outDir: out, resume: false, onStep: (r) => losses.push(r.charbonnier) });
    const first = (losses[0]! + losses[1]! + losses[2]!) / 3;
    const last = (losses.at(-1)! + losses.at(-2)! + losses.at(-3)!) / 3;
    expect(last).toBeLessThan(first * 0.95); // measured: 7 % lower (deterministic on wasm)
    expect(existsSync(path.join(out, MODEL_FILE))).toBe(true);
    await expect(train(config, data, { outDir: out, resume: false })).rejects.toThrow(/--resume/);
  });

  it('extractorLearningRateScale moves G (kernel_extractor.*) at its own rate, F and the shared features as usual', async () => {
    const config = BlurModelTrainConfig.parse({
      ...JSON.parse(readFileSync(TINY_CONFIG, 'utf8')),
      steps: 2,
      warmupSteps: 0,
      extractorLearningRateScale: 1e-6,
    });
    const initial = KernelWizard.create(modelConfigOf(config), config.seed);
    const before = initial.stateDict();
    const out = path.join(dir, 'g-scale');
    await train(config, await fixedBatch(3), { outDir: out, resume: false });
    const after = (await readSafetensors(path.join(out, MODEL_FILE))).tensors;
    const largestChange = (prefix: string): number =>
      Math.max(
        ...[...before]
          .filter(([name]) => name.startsWith(prefix))
          .map(([name, t]) => Math.max(...t.data.map((v, i) => Math.abs(v - after.get(name)!.data[i]!)))),
      );
    // Adam moves every weight by about the learning rate per step, times the scale for G.
    expect(largestChange('feature_extractor.')).toBeGreaterThan(1e-5);
    expect(largestChange('adapter.')).toBeGreaterThan(1e-5);
    expect(largestChange('kernel_extractor.')).toBeLessThan(1e-8);
    initial.dispose();
  });

  it('trains the VAE variant: the KL term is logged and ramps up, the loss is finite, the checkpoint is a VAE', async () => {
    const tiny = JSON.parse(readFileSync(TINY_CONFIG, 'utf8'));
    const config = TrainConfig.parse({
      ...tiny,
      model: { ...tiny.model, useVAE: true },
      steps: 3,
      validateEvery: 3,
      checkpointEvery: 3,
      klWarmupSteps: 2,
    });
    expect(config.klWeight).toBe(10); // the paper's weight (wVAE.yml)
    expect([1, 2, 3].map((step) => klWeightAt(config, step))).toEqual([5, 10, 10]);
    const data = await fixedBatch(2);
    const out = path.join(dir, 'vae');
    await train(config, data, { outDir: out, resume: false });
    const steps = readLog(out).filter((e) => e.type === 'step');
    expect(steps).toHaveLength(3);
    for (const step of steps) {
      expect(Number.isFinite(step.loss)).toBe(true);
      expect(step.kl).toBeGreaterThan(0);
      expect(step.loss).toBeCloseTo(step.charbonnier! + klWeightAt(config, step.step!) * step.kl!, 4);
    }
    const loaded = await loadModel(path.join(out, MODEL_FILE));
    expect(loaded.model.config.useVAE).toBe(true);
    expect(loaded.description).toContain('VAE');
    loaded.model.dispose();
  });

  it('adds the kernel-transfer term: logged, weighted into the loss, validated on the partners', async () => {
    const config = TrainConfig.parse({
      ...JSON.parse(readFileSync(TINY_CONFIG, 'utf8')),
      steps: 2,
      validateEvery: 2,
      checkpointEvery: 2,
      transferWeight: 0.5,
    });
    const out = path.join(dir, 'transfer');
    await train(config, await fixedBatch(4, 'kernel', true), { outDir: out, resume: false });
    const log = readLog(out);
    const steps = log.filter((e) => e.type === 'step');
    expect(steps).toHaveLength(2);
    for (const step of steps) {
      expect(step.transfer).toBeGreaterThan(0);
      expect(step.loss).toBeCloseTo(step.charbonnier! + 0.5 * step.transfer!, 5);
    }
    const validation = log.find((e) => e.type === 'validation')!;
    expect(Object.keys(validation.psnr!).sort()).toEqual(['kernel', 'kernel transfer']);
    // Without the weight the partners are ignored.
    const off = path.join(dir, 'transfer-off');
    await train({ ...config, transferWeight: 0 }, await fixedBatch(4, 'kernel', true), {
      outDir: off,
      resume: false,
    });
    expect(
      readLog(off)
        .filter((e) => e.type === 'step')
        .every((e) => e.transfer === null),
    ).toBe(true);
  });

  it('starts a VAE from a plain model: same mean code, a live sigma, refuses another architecture', async () => {
    const plain = KernelWizard.create(
      modelConfigOf(BlurModelTrainConfig.parse(JSON.parse(readFileSync(TINY_CONFIG, 'utf8')))),
      1,
    );
    const vae = KernelWizard.create({ ...plain.config, useVAE: true }, 2);
    vae.loadStateDict(warmStartWeights(vae.stateDict(), plain.stateDict()));
    const { sharp, blurry, count, size } = await (await fixedBatch(3)).batch(1);
    const x = tf.tensor4d(sharp, [count, size, size, 3]);
    const y = tf.tensor4d(blurry, [count, size, size, 3]);
    const expected = plain.extractKernel(x, y);
    const { mean, sigma } = vae.extractKernelPosterior(x, y);
    expect(tf.max(tf.abs(tf.sub(mean, expected))).dataSync()[0]).toBeLessThan(1e-5);
    const spread = tf.moments(sigma!).variance.dataSync()[0]!;
    expect(Number.isFinite(spread) && spread > 0).toBe(true);
    const wider = KernelWizard.create({ ...plain.config, nf: 16 }, 3);
    expect(() => warmStartWeights(wider.stateDict(), plain.stateDict())).toThrow(/is .* there and .* here/);
    tf.dispose([x, y, expected, mean, sigma!]);
    [plain, vae, wider].forEach((m) => m.dispose());
  });

  it('trains the restorer: its loss goes down, validation compares R(y) with x, the checkpoint is marked as a restorer', async () => {
    const config = TrainConfig.parse({
      task: 'restorer',
      model: { widths: [8, 8, 16, 16] },
      steps: 30,
      learningRate: 1e-3,
      warmupSteps: 5,
      validateEvery: 30,
      checkpointEvery: 30,
      seed: 5,
    });
    const data = await fixedBatch(5, 'kernel');
    const losses: number[] = [];
    const out = path.join(dir, 'restorer');
    await train(config, data, { outDir: out, resume: false, onStep: (r) => losses.push(r.charbonnier) });
    const first = (losses[0]! + losses[1]! + losses[2]!) / 3;
    const last = (losses.at(-1)! + losses.at(-2)! + losses.at(-3)!) / 3;
    expect(last).toBeLessThan(first * 0.96); // measured: 6 % lower
    const validation = readLog(out).find((e) => e.type === 'validation')!;
    // PSNR(R(y), x) against PSNR(y, x): a fresh restorer is the identity, 30 steps move it a little.
    expect(validation.psnr!.kernel).not.toBe(validation.identityPsnr!.kernel);
    expect(Math.abs(validation.psnr!.kernel! - validation.identityPsnr!.kernel!)).toBeLessThan(3);
    const saved = await readSafetensors(path.join(out, MODEL_FILE));
    expect(saved.metadata.format).toBe('blurspace-restorer');
    const model = Restorer.fromStateDict(saved.tensors);
    expect(model.config.widths).toEqual([8, 8, 16, 16]);
    model.dispose();
    await expect(loadCheckpointFile(path.join(out, MODEL_FILE))).rejects.toThrow(
      /holds a learned restorer, not a blur model/,
    );
    expect((await loadRestorerCheckpoint(path.join(out, MODEL_FILE))).tensors.size).toBe(saved.tensors.size);
  });

  it('restorerInput "fast-mode": the restorer learns from the result of fast mode, moved onto the sharp frame', async () => {
    const pairs = await fixedBatch(14, 'kernel'); // measured: 22.11 -> 22.78 and 19.89 -> 20.45 dB
    const original = await pairs.batch(1);
    const data = withFastModeInputs(pairs);
    const batch = await data.batch(1);
    expect(batch.sharp).toBe(original.sharp);
    const pixels = batch.size * batch.size * 3;
    const image = (buffer: Float32Array, i: number) => ({
      width: batch.size,
      height: batch.size,
      channels: 3,
      data: buffer.subarray(i * pixels, (i + 1) * pixels),
    });
    const meanSquared = (a: Float32Array, b: Float32Array) =>
      a.reduce((sum, v, i) => sum + (v - b[i]!) ** 2, 0) / a.length;
    for (let i = 0; i < batch.count; i++) {
      const sharp = image(batch.sharp, i);
      // The input is fast mode's result: no longer the blurry photo, closer to the sharp one, and aligned.
      expect(
        meanSquared(
          batch.blurry.subarray(i * pixels, (i + 1) * pixels),
          original.blurry.subarray(i * pixels, (i + 1) * pixels),
        ),
      ).toBeGreaterThan(0);
      expect(meanSquared(image(batch.blurry, i).data, sharp.data)).toBeLessThan(
        meanSquared(image(original.blurry, i).data, sharp.data),
      );
      expect(bestShift(image(batch.blurry, i), sharp)).toMatchObject({ dx: 0, dy: 0 });
    }
    expect((await data.validation()).get('kernel')!.blurry).toEqual(batch.blurry);
  });

  it('bestShift, which aligns fast mode onto the sharp frame, finds a known move', async () => {
    const { sharp, size } = await (await fixedBatch(14, 'kernel')).batch(1);
    const image = { width: size, height: size, channels: 3, data: sharp.subarray(0, size * size * 3) };
    expect(bestShift(shiftImage(image, 3, -2), image)).toMatchObject({ dx: -3, dy: 2 });
  });

  it('refuses restorerInput for a blur model', () => {
    expect(() => TrainConfig.parse({ steps: 1, data: { restorerInput: 'fast-mode' } })).toThrow(
      /restorerInput is for task/,
    );
  });

  it('the built trainer makes the fast-mode inputs on a thread of its own, the same as in-process', async () => {
    const config = {
      task: 'restorer',
      model: { widths: [8, 8, 16, 16] },
      data: { restorerInput: 'fast-mode', mix: { gopro: 0, shake: 0, kernel: 1 } },
      batchSize: 1,
      steps: 3,
      validateEvery: 3,
      validationPairs: 1,
      checkpointEvery: 3,
      seed: 3,
    };
    const file = path.join(dir, 'fast-mode.json');
    await writeFile(file, JSON.stringify(config));
    const out = path.join(dir, 'fast-mode');
    expect(await runCli(['train', '--config', file, '--out', out, '-q']).done).toBe(0);
    const logged = readLog(out).find((e) => e.type === 'validation')!;
    const pairs = trainingData({
      dataRoot,
      seed: 3,
      size: 256,
      batchSize: 1,
      validationPairs: 1,
      mix: config.data.mix,
    });
    const kernel = (await withFastModeInputs(pairs).validation()).get('kernel')!;
    const expected = tf.tidy(() =>
      psnr(tf.tensor4d(kernel.sharp, [1, 256, 256, 3]), tf.tensor4d(kernel.blurry, [1, 256, 256, 3])),
    );
    expect(logged.identityPsnr!.kernel).toBeCloseTo(expected, 6);
  });

  it('resumes after kill -9 to the same weights as an uninterrupted run', async () => {
    const straight = path.join(dir, 'straight');
    expect(await runCli(['train', '--config', TINY_CONFIG, '--out', straight, '-q']).done).toBe(0);

    const killed = path.join(dir, 'killed');
    const first = runCli(['train', '--config', TINY_CONFIG, '--out', killed, '-q']);
    // Kill once a checkpoint exists and training has moved past it.
    while (!existsSync(path.join(killed, STATE_FILE))) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1200));
    first.kill();
    await first.done;
    const stateAtKill = Number((await readSafetensors(path.join(killed, STATE_FILE))).metadata.step);
    expect(stateAtKill).toBeGreaterThan(0);
    expect(stateAtKill).toBeLessThan(12);

    expect(await runCli(['train', '--config', TINY_CONFIG, '--out', killed, '--resume', '-q']).done).toBe(0);
    const steps = readLog(killed)
      .filter((e) => e.type === 'step')
      .map((e) => e.step);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i + 1)); // each step logged exactly once
    const final = await readFile(path.join(killed, MODEL_FILE));
    const reference = await readFile(path.join(straight, MODEL_FILE));
    expect(final.equals(reference)).toBe(true);
  });
});
