// The trainer on real training pairs: it learns, and a run killed with SIGKILL resumes to the same result.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/engine/checkpoint';
import { makeBatch } from '../../src/engine/training';
import { TrainConfig } from '../../src/engine/training/config';
import {
  LOG_FILE,
  MODEL_FILE,
  STATE_FILE,
  train,
  type TrainingData,
} from '../../src/engine/training/trainer';
import { HAS_SHARED_DATA, REPO_ROOT, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';

const TINY_CONFIG = path.join(REPO_ROOT, 'resources', 'training', 'tiny.json');
const CLI = path.join(REPO_ROOT, 'out', 'main', 'cli.js');

function readLog(dir: string): Array<{ type: string; step: number; loss?: number }> {
  return readFileSync(path.join(dir, LOG_FILE), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

function runCli(args: string[]): { done: Promise<number | null>; kill(): void } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  return {
    done: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: () => child.kill('SIGKILL'),
  };
}

describe.skipIf(!HAS_SHARED_DATA)(`trainer ${HAS_SHARED_DATA ? '' : SHARED_DATA_MISSING}`, () => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-train-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('fits a fixed batch of real pairs: the loss goes down', async () => {
    const config = TrainConfig.parse({
      ...JSON.parse(readFileSync(TINY_CONFIG, 'utf8')),
      steps: 25,
      validateEvery: 25,
      checkpointEvery: 25,
    });
    const batch = await makeBatch({
      dataRoot: SHARED_DATA,
      seed: 1,
      size: 256,
      split: 'train',
      batch: 0,
      batchSize: 2,
      mix: { shake: 1 },
    });
    const data: TrainingData = {
      batch: async () => batch,
      validation: async () => new Map([['shake', batch]]),
    };
    const losses: number[] = [];
    const out = path.join(dir, 'fit');
    await train(config, data, { outDir: out, resume: false, onStep: (r) => losses.push(r.charbonnier) });
    const first = (losses[0]! + losses[1]! + losses[2]!) / 3;
    const last = (losses.at(-1)! + losses.at(-2)! + losses.at(-3)!) / 3;
    expect(last).toBeLessThan(first * 0.9); // measured: 0.051 -> 0.042 (deterministic on wasm)
    expect(existsSync(path.join(out, MODEL_FILE))).toBe(true);
    await expect(train(config, data, { outDir: out, resume: false })).rejects.toThrow(/--resume/);
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
