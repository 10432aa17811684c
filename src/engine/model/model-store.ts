// Turns a checkpoint file into a ready network: F and G (ours or the authors' .pth) or the learned restorer.
import path from 'node:path';
import { z } from 'zod';
import { CheckpointError, loadCheckpointFile, loadRestorerCheckpoint } from '../checkpoint';
import { KernelWizard, KernelWizardConfig, OFFICIAL_CONFIG } from './kernel-wizard';
import { Restorer, RestorerConfig } from './restorer';

/** A checkpoint's config may leave keys out (one saved before a part of F existed lacks its key): the
 * authors' values fill them in, which leave such a part off. */
const SavedKernelWizardConfig = KernelWizardConfig.partial();

/** The model config a Blurspace checkpoint carries, checked against `schema`. */
function savedConfig<T>(checkpointPath: string, config: unknown, schema: z.ZodType<T>): T {
  const checked = schema.safeParse(config);
  if (checked.success) return checked.data;
  throw new CheckpointError(
    'unsupported',
    `${path.basename(checkpointPath)} has a model config this version of Blurspace cannot read: ` +
      z.prettifyError(checked.error),
  );
}

export interface LoadedModel {
  model: KernelWizard;
  path: string;
  sha256: string;
  description: string;
}

export async function loadModel(checkpointPath: string): Promise<LoadedModel> {
  const checkpoint = await loadCheckpointFile(checkpointPath);
  // The authors' .pth files carry no config: it is read from the weights.
  const config =
    checkpoint.source === 'blurspace'
      ? { ...OFFICIAL_CONFIG, ...savedConfig(checkpointPath, checkpoint.config, SavedKernelWizardConfig) }
      : undefined;
  let model: KernelWizard;
  try {
    model = KernelWizard.fromStateDict(checkpoint.tensors, config);
  } catch (error) {
    throw new CheckpointError(
      'unsupported',
      `${path.basename(checkpointPath)} does not fit Blurspace's network: ${(error as Error).message}`,
    );
  }
  const { nf, frontRBs, backRBs, kernelDim, useVAE } = model.config;
  const origin = checkpoint.source === 'pytorch' ? "authors' PyTorch format" : 'Blurspace format';
  return {
    model,
    path: checkpointPath,
    sha256: checkpoint.sha256,
    description:
      `${path.basename(checkpointPath)} (${origin}; nf ${nf}, ${frontRBs}+${backRBs} blocks, ` +
      `kernel ${kernelDim}${useVAE ? ', VAE' : ''})`,
  };
}

export async function loadRestorer(checkpointPath: string): Promise<Restorer> {
  const checkpoint = await loadRestorerCheckpoint(checkpointPath);
  const config = savedConfig(checkpointPath, checkpoint.config, RestorerConfig);
  try {
    return Restorer.fromStateDict(checkpoint.tensors, config);
  } catch (error) {
    throw new CheckpointError(
      'unsupported',
      `${path.basename(checkpointPath)} does not fit Blurspace's restorer: ${(error as Error).message}`,
    );
  }
}
