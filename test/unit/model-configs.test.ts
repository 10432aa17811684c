// Network and training configs are strict: every shipped one loads, a misspelled key is refused by name.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BLURSPACE_RESTORER_FORMAT,
  loadCheckpointFile,
  loadRestorerCheckpoint,
  saveBlurspaceCheckpoint,
} from '../../src/engine/checkpoint';
import { KernelWizard, KernelWizardConfig, OFFICIAL_CONFIG } from '../../src/engine/model/kernel-wizard';
import { loadModel, loadRestorer } from '../../src/engine/model/model-store';
import { Restorer, RestorerConfig } from '../../src/engine/model/restorer';
import {
  BlurModelTrainConfig,
  modelConfigOf,
  restorerConfigOf,
  TrainConfig,
} from '../../src/engine/training/config';
import { REPO_ROOT } from '../helpers/paths';

const TRAINING = path.join(REPO_ROOT, 'resources', 'training');
const CHECKPOINTS = path.join(REPO_ROOT, 'resources', 'checkpoints');
const DEFAULT_CHECKPOINT = path.join(CHECKPOINTS, 'blurspace-default.safetensors');
const RESTORER_CHECKPOINT = path.join(CHECKPOINTS, 'blurspace-restorer.safetensors');

async function shipped(folder: string, extension: string): Promise<string[]> {
  const names = (await readdir(folder)).filter((name) => name.endsWith(extension));
  return names.sort().map((name) => path.join(folder, name));
}

function refusal(result: { success: boolean; error?: { message: string } }): string {
  expect(result.success).toBe(false);
  return result.error!.message;
}

describe('training configs', () => {
  it('parses every shipped config, and its network config is complete and valid', async () => {
    const files = await shipped(TRAINING, '.json');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const config = TrainConfig.parse(JSON.parse(await readFile(file, 'utf8')));
      const network =
        config.task === 'restorer'
          ? RestorerConfig.safeParse(restorerConfigOf(config))
          : KernelWizardConfig.safeParse(modelConfigOf(config));
      expect(network.success, path.basename(file)).toBe(true);
    }
  });

  it('refuses a misspelled key, naming it, instead of training with the default', () => {
    const tiny = { steps: 10, model: { nf: 8, kernelDim: 16 } };
    expect(refusal(TrainConfig.safeParse({ ...tiny, model: { nf: 8, kernelDims: 16 } }))).toContain(
      'kernelDims',
    );
    expect(refusal(TrainConfig.safeParse({ ...tiny, learningrate: 1e-3 }))).toContain('learningrate');
    expect(refusal(TrainConfig.safeParse({ ...tiny, data: { cropsize: 512 } }))).toContain('cropsize');
    expect(refusal(TrainConfig.safeParse({ ...tiny, data: { mix: { gopro: 1, shaek: 1 } } }))).toContain(
      'shaek',
    );
    // Each task takes its own network's keys only.
    expect(refusal(TrainConfig.safeParse({ task: 'restorer', steps: 1, model: { nf: 8 } }))).toContain('nf');
    expect(refusal(TrainConfig.safeParse({ steps: 1, model: { widths: [8, 8, 8, 8] } }))).toContain('widths');
    // Keys left out keep the authors' values.
    expect(modelConfigOf(BlurModelTrainConfig.parse(tiny))).toMatchObject({
      nf: 8,
      kernelDim: 16,
      backRBs: 20,
    });
  });
});

describe('checkpoint configs', () => {
  let dir: string;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-model-configs-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads every shipped checkpoint with the config in its metadata', async () => {
    const files = await shipped(CHECKPOINTS, '.safetensors');
    expect(files.map((file) => path.basename(file))).toContain('blurspace-default.safetensors');
    for (const file of files) {
      if (file === RESTORER_CHECKPOINT) {
        const saved = (await loadRestorerCheckpoint(file)).config as RestorerConfig;
        const restorer = await loadRestorer(file);
        expect(restorer.config).toEqual(saved);
        restorer.dispose();
      } else {
        const saved = (await loadCheckpointFile(file)).config as Partial<KernelWizardConfig>;
        const { model } = await loadModel(file);
        expect(model.config).toMatchObject(saved);
        model.dispose();
      }
    }
  });

  it('refuses a checkpoint whose config has a misspelled key, naming the file and the key', async () => {
    const { model } = await loadModel(DEFAULT_CHECKPOINT);
    const { kernelDim, ...rest } = model.config;
    const misspelled = path.join(dir, 'misspelled.safetensors');
    await saveBlurspaceCheckpoint(misspelled, model.stateDict(), { ...rest, kernelDims: kernelDim });
    model.dispose();
    await expect(loadModel(misspelled)).rejects.toThrow(
      /misspelled\.safetensors has a model config .*cannot read:[^]*kernelDims/,
    );

    const restorer = Restorer.create({ widths: [4, 4, 4, 4] }, 1);
    const badRestorer = path.join(dir, 'restorer.safetensors');
    await saveBlurspaceCheckpoint(
      badRestorer,
      restorer.stateDict(),
      { width: [4, 4, 4, 4] },
      undefined,
      BLURSPACE_RESTORER_FORMAT,
    );
    restorer.dispose();
    await expect(loadRestorer(badRestorer)).rejects.toThrow(/restorer\.safetensors[^]*width/);
  });

  it('builds a network from a config object only when it is valid', () => {
    expect(() => KernelWizard.create({ ...OFFICIAL_CONFIG, nf: 0 }, 1)).toThrow(/KernelWizard:[^]*nf/);
    expect(() => Restorer.create({ widths: [4, 4, 0, 4] }, 1)).toThrow(/Restorer:[^]*widths/);
  });
});
