import * as tf from '@tensorflow/tfjs';
import { saveBlurspaceCheckpoint } from '../../src/engine/checkpoint';
import { KernelWizard, OFFICIAL_CONFIG, type KernelWizardConfig } from '../../src/engine/model/kernel-wizard';

/** Untrained and small: jobs run in seconds (quality is the benchmarks' business). */
export const TINY_CONFIG = {
  ...OFFICIAL_CONFIG,
  nf: 8,
  frontRBs: 1,
  backRBs: 1,
  kernelDim: 16,
  reconNf: 8,
  extractorBlocks: 1,
};

/** Writes a tiny randomly initialised checkpoint in our format (`overrides`: e.g. { useVAE: true }). */
export async function saveTinyCheckpoint(
  path: string,
  seed: number,
  overrides: Partial<KernelWizardConfig> = {},
): Promise<void> {
  await tf.ready();
  const model = KernelWizard.create({ ...TINY_CONFIG, ...overrides }, seed);
  await saveBlurspaceCheckpoint(path, model.stateDict(), model.config);
  model.dispose();
}
