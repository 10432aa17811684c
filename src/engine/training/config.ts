// Training configuration: one JSON file (see resources/training/*.json), validated here. Every object is
// strict: a misspelled key is refused, not quietly replaced by its default.
import { z } from 'zod';
import { KernelWizardConfig, OFFICIAL_CONFIG } from '../model/kernel-wizard';
import { RESTORER_DEFAULTS, RestorerConfig } from '../model/restorer';

const dataFields = {
  /** Relative weights of the three kinds of training pair. */
  mix: z
    .strictObject({ gopro: z.number().min(0), shake: z.number().min(0), kernel: z.number().min(0) })
    .default({ gopro: 1, shake: 1, kernel: 0.5 }),
  cropSize: z.number().int().multipleOf(128).min(256).default(256),
  maxBlurPx: z.number().positive().default(60),
};

const commonFields = {
  batchSize: z.number().int().min(1).default(4),
  steps: z.number().int().min(1),
  learningRate: z.number().positive().default(2e-4),
  /**
   * Multiplies the learning rate of G (the kernel extractor) only: a lever on F's response to the code
   * (docs/decisions/0015-blur-model-variants.md). 1 trains both at the same rate, as the authors do.
   */
  extractorLearningRateScale: z.number().positive().default(1),
  /** Cosine decay from learningRate to this over the run, after a linear warm-up. */
  minLearningRate: z.number().nonnegative().default(1e-6),
  warmupSteps: z.number().int().nonnegative().default(200),
  /** The paper's KL weight for the VAE variant. */
  klWeight: z.number().nonnegative().default(10),
  /**
   * Steps over which the KL weight ramps up linearly from 0 (0: the full weight from the start). For
   * fine-tuning a plain model into the VAE variant, where the full weight at once collapsed the codes
   * (docs/decisions/0016-vae-prior-for-sampling.md).
   */
  klWarmupSteps: z.number().int().nonnegative().default(0),
  /**
   * Weight of the kernel-transfer loss (0: off, as in the paper): every shake and kernel pair gets a
   * partner with the same blur and capture on another scene, and F(x_b, G(x_a, y_a)) is pulled towards y_b,
   * so that a code extracted from one pair blurs another photo the same way (decision 0015).
   */
  transferWeight: z.number().nonnegative().default(0),
  charbonnierEpsilon: z.number().positive().default(1e-3),
  /** Global gradient-norm clip; 0 turns it off. */
  gradientClip: z.number().nonnegative().default(1),
  validateEvery: z.number().int().min(1).default(250),
  validationPairs: z.number().int().min(1).default(24),
  checkpointEvery: z.number().int().min(1).default(100),
  seed: z.number().int().default(1),
};

/** Training F and G, the paper's blur model. */
export const BlurModelTrainConfig = z.strictObject({
  task: z.literal('blur-model').default('blur-model'),
  /** Overrides of the authors' architecture (nf, frontRBs, backRBs, kernelDim, useVAE, ...). */
  model: KernelWizardConfig.partial().default({}),
  data: z
    .strictObject({
      ...dataFields,
      restorerInput: z
        .literal('blurry', { error: 'data.restorerInput is for task "restorer" only' })
        .default('blurry'),
    })
    .prefault({}),
  ...commonFields,
});
export type BlurModelTrainConfig = z.infer<typeof BlurModelTrainConfig>;

/** Training the learned restorer (model/restorer.ts). */
export const RestorerTrainConfig = z.strictObject({
  task: z.literal('restorer'),
  /** Overrides of the restorer's architecture (widths). */
  model: RestorerConfig.partial().default({}),
  data: z
    .strictObject({
      ...dataFields,
      /**
       * The restorer's input: the blurry photo, or fast mode's result on it (the deconvolution the app runs
       * before the restorer; training/fast-mode-inputs.ts). Costs about a second per pair.
       */
      restorerInput: z.enum(['blurry', 'fast-mode']).default('blurry'),
    })
    .prefault({}),
  ...commonFields,
});
export type RestorerTrainConfig = z.infer<typeof RestorerTrainConfig>;

/** Training configuration: one JSON file (see resources/training/*.json); `task` says what it trains. */
export const TrainConfig = z.discriminatedUnion('task', [BlurModelTrainConfig, RestorerTrainConfig], {
  error: 'task must be "blur-model" (the default) or "restorer"',
});
export type TrainConfig = z.infer<typeof TrainConfig>;

export function modelConfigOf(config: BlurModelTrainConfig): KernelWizardConfig {
  return { ...OFFICIAL_CONFIG, ...config.model };
}

export function restorerConfigOf(config: RestorerTrainConfig): RestorerConfig {
  return { ...RESTORER_DEFAULTS, ...config.model };
}

/** The KL weight at `step` (1-based), after the linear warm-up. */
export function klWeightAt(config: TrainConfig, step: number): number {
  return config.klWeight * (config.klWarmupSteps > 0 ? Math.min(1, step / config.klWarmupSteps) : 1);
}

/** Learning rate at `step` (1-based): linear warm-up, then cosine decay. */
export function learningRateAt(config: TrainConfig, step: number): number {
  if (step <= config.warmupSteps) return (config.learningRate * step) / config.warmupSteps;
  const progress = (step - config.warmupSteps) / Math.max(1, config.steps - config.warmupSteps);
  const cosine = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  return config.minLearningRate + (config.learningRate - config.minLearningRate) * cosine;
}
