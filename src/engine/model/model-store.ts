// Turns a checkpoint file into a ready network: F and G (ours or the authors' .pth) or the learned restorer.
import path from 'node:path';
import { CheckpointError, loadCheckpointFile, loadRestorerCheckpoint } from '../checkpoint';
import { KernelWizard, OFFICIAL_CONFIG, type KernelWizardConfig } from './kernel-wizard';
import { Restorer } from './restorer';

export interface LoadedModel {
  model: KernelWizard;
  path: string;
  sha256: string;
  description: string;
}

export async function loadModel(checkpointPath: string): Promise<LoadedModel> {
  const checkpoint = await loadCheckpointFile(checkpointPath);
  let model: KernelWizard;
  try {
    model =
      checkpoint.source === 'blurspace' && checkpoint.config
        ? KernelWizard.fromStateDict(checkpoint.tensors, {
            ...OFFICIAL_CONFIG,
            ...(checkpoint.config as Partial<KernelWizardConfig>),
          })
        : KernelWizard.fromStateDict(checkpoint.tensors);
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
  try {
    return Restorer.fromStateDict(checkpoint.tensors);
  } catch (error) {
    throw new CheckpointError(
      'unsupported',
      `${path.basename(checkpointPath)} does not fit Blurspace's restorer: ${(error as Error).message}`,
    );
  }
}
