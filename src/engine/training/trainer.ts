// Trains F and G jointly (the paper's objective): minimise rho(y, F(x, G(x, y))) over sharp/blurry pairs,
// rho = Charbonnier, plus the KL term for the VAE variant; or, with `task: "restorer"`, the learned
// restorer R: minimise rho(x, R(y)) (model/restorer.ts). Resumable after any crash: the weights, the
// Adam moments and the step are saved together in one atomically written file, and batch `s` is always
// generated from (seed, s), so a resumed run sees the same data as an uninterrupted one.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  BLURSPACE_RESTORER_FORMAT,
  readSafetensors,
  saveBlurspaceCheckpoint,
  writeSafetensors,
  type StateDict,
} from '../checkpoint';
import { yieldToEventLoop } from '../core/progress';
import { charbonnier } from '../model/losses';
import { KernelWizard, sampleKernel, startsSilent, vaeKlDivergence } from '../model/kernel-wizard';
import { Restorer } from '../model/restorer';
import { Adam } from '../core/adam';
import { klWeightAt, learningRateAt, modelConfigOf, restorerConfigOf, type TrainConfig } from './config';

/** A batch of pairs, NHWC float32 RGB in [0, 1]. */
export interface PairBatch {
  sharp: Float32Array;
  blurry: Float32Array;
  count: number;
  size: number;
  /** The same blur and capture as pair `of[i]` on another scene, for the kernel-transfer loss. */
  partners?: { sharp: Float32Array; blurry: Float32Array; of: number[] };
}

export interface TrainingData {
  /** The training batch for 1-based `step`; must depend only on (seed, step). */
  batch(step: number): Promise<PairBatch>;
  /** Fixed validation pairs, grouped by kind, from the validation split only. */
  validation(): Promise<Map<string, PairBatch>>;
}

export interface StepReport {
  step: number;
  loss: number;
  charbonnier: number;
  kl: number | null;
  /** The kernel-transfer term when config.transferWeight > 0. */
  transfer: number | null;
  learningRate: number;
  secondsPerStep: number;
  etaSeconds: number;
}

export interface ValidationReport {
  step: number;
  /**
   * Per kind of pair, in dB: blur reconstruction PSNR(F(x, G(x, y)), y), with partners also
   * "<kind> transfer": PSNR(F(x_b, G(x_a, y_a)), y_b), the code of one pair applied to its partner; for the
   * restorer PSNR(R(y), x).
   */
  psnr: Record<string, number>;
  /** PSNR(x, y): how far apart the pairs are before any modelling. */
  identityPsnr: Record<string, number>;
}

/** What the trainer needs of a network. */
type Network = KernelWizard | Restorer;

/** The loss of one batch, its terms kept for the report (computed inside the gradient's scope). */
interface Objective {
  total: tf.Scalar;
  reconstruction: tf.Scalar;
  kl?: tf.Scalar;
  transfer?: tf.Scalar;
}

export interface TrainOptions {
  outDir: string;
  resume: boolean;
  /** Weights to start a new run from (another run's checkpoint); see warmStartWeights. */
  initFrom?: { tensors: StateDict; description: string };
  signal?: AbortSignal;
  onStep?(report: StepReport): void;
  onValidation?(report: ValidationReport): void;
  onCheckpoint?(step: number): void;
}

export const STATE_FILE = 'train-state.safetensors';
/** State-dict names of G, the kernel extractor (the authors' `kernel_extractor.*`). */
const EXTRACTOR_PREFIX = 'kernel_extractor.';
export const MODEL_FILE = 'model.safetensors';
export const LOG_FILE = 'log.jsonl';

type LogEntry = ({ type: 'step' } & StepReport) | ({ type: 'validation' } & ValidationReport);

export async function train(config: TrainConfig, data: TrainingData, options: TrainOptions): Promise<number> {
  await fs.mkdir(options.outDir, { recursive: true });
  const statePath = path.join(options.outDir, STATE_FILE);
  const logPath = path.join(options.outDir, LOG_FILE);
  if (!options.resume && existsSync(statePath)) {
    throw new Error(`${options.outDir} already holds a training run; pass --resume to continue it.`);
  }
  const model: Network =
    config.task === 'restorer'
      ? Restorer.create(restorerConfigOf(config), config.seed)
      : KernelWizard.create(modelConfigOf(config), config.seed);
  const params = model.namedVariables();
  const adam = new Adam(params);
  let step = 0;
  try {
    if (options.resume && existsSync(statePath)) {
      step = await loadState(statePath, params, adam);
      await truncateLog(logPath, step);
    } else if (options.initFrom) {
      model.loadStateDict(warmStartWeights(model.stateDict(), options.initFrom.tensors));
      await fs.appendFile(
        logPath,
        JSON.stringify({ type: 'init', from: options.initFrom.description }) + '\n',
      );
    }
    const validation = await data.validation();
    let pendingLog: LogEntry[] = [];
    const flushLog = async (): Promise<void> => {
      if (!pendingLog.length) return;
      await fs.appendFile(logPath, pendingLog.map((entry) => JSON.stringify(entry)).join('\n') + '\n');
      pendingLog = [];
    };
    const save = async (): Promise<void> => {
      await flushLog();
      await saveState(statePath, params, adam, step, config);
      await saveBlurspaceCheckpoint(
        path.join(options.outDir, MODEL_FILE),
        model.stateDict(),
        model.config,
        { step, seed: config.seed },
        model instanceof Restorer ? BLURSPACE_RESTORER_FORMAT : undefined,
      );
      options.onCheckpoint?.(step);
    };

    const startStep = step;
    const started = performance.now();
    while (step < config.steps) {
      if (options.signal?.aborted) break;
      step++;
      const batch = await data.batch(step);
      const learningRate = learningRateAt(config, step);
      const losses = trainStep(model, params, adam, batch, config, step, learningRate);
      const secondsPerStep = (performance.now() - started) / 1000 / (step - startStep);
      const report: StepReport = {
        step,
        ...losses,
        learningRate,
        secondsPerStep,
        etaSeconds: secondsPerStep * (config.steps - step),
      };
      pendingLog.push({ type: 'step', ...report });
      options.onStep?.(report);
      if (step % config.validateEvery === 0 || step === config.steps) {
        const result =
          model instanceof Restorer
            ? validateRestorer(model, validation, step)
            : validate(model, validation, step);
        pendingLog.push({ type: 'validation', ...result });
        options.onValidation?.(result);
      }
      if (step % config.checkpointEvery === 0 || step === config.steps) await save();
      await yieldToEventLoop(); // lets a cancel arrive
    }
    if (step % config.checkpointEvery !== 0 && step !== config.steps) await save();
    return step;
  } finally {
    adam.dispose();
    model.dispose();
  }
}

function toTensor(data: Float32Array, batch: PairBatch, count = batch.count): tf.Tensor4D {
  return tf.tensor4d(data, [count, batch.size, batch.size, 3]);
}

function trainStep(
  model: Network,
  params: Map<string, tf.Variable>,
  adam: Adam,
  batch: PairBatch,
  config: TrainConfig,
  step: number,
  learningRate: number,
): { loss: number; charbonnier: number; kl: number | null; transfer: number | null } {
  const names = [...params.keys()];
  // The individual terms are kept out of the gradient's scope so they can be reported.
  let terms: Omit<Objective, 'total'> | undefined;
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const objective =
        model instanceof Restorer
          ? restorerObjective(model, batch, config)
          : blurModelObjective(model, batch, config, step);
      terms = {
        reconstruction: tf.keep(objective.reconstruction),
        ...(objective.kl && { kl: tf.keep(objective.kl) }),
        ...(objective.transfer && { transfer: tf.keep(objective.transfer) }),
      };
      return objective.total;
    }, [...params.values()]);
    let gradients = new Map(names.map((name) => [name, grads[params.get(name)!.name]!]));
    if (config.gradientClip > 0) gradients = clipByGlobalNorm(gradients, config.gradientClip);
    const extractorScale = config.extractorLearningRateScale;
    adam.apply(gradients, learningRate, (name) => (name.startsWith(EXTRACTOR_PREFIX) ? extractorScale : 1));
    return value;
  });
  const result = {
    loss: loss.dataSync()[0]!,
    charbonnier: terms?.reconstruction.dataSync()[0] ?? NaN,
    kl: terms?.kl?.dataSync()[0] ?? null,
    transfer: terms?.transfer?.dataSync()[0] ?? null,
  };
  tf.dispose([loss, ...Object.values(terms ?? {})]);
  return result;
}

/** F and G: rho(y, F(x, G(x, y))), the KL term for a VAE, and the optional kernel-transfer term. */
function blurModelObjective(
  model: KernelWizard,
  batch: PairBatch,
  config: TrainConfig,
  step: number,
): Objective {
  const partners = config.transferWeight > 0 && batch.partners?.of.length ? batch.partners : null;
  const x = toTensor(batch.sharp, batch);
  const y = toTensor(batch.blurry, batch);
  const posterior = model.extractKernelPosterior(x, y);
  const eps = posterior.sigma
    ? tf.randomNormal<tf.Rank.R4>(posterior.mean.shape, 0, 1, 'float32', config.seed * 1_000_003 + step)
    : null;
  const k = eps ? sampleKernel(posterior, eps) : posterior.mean;
  const reconstruction = charbonnier(model.adaptiveBlur(x, k), y, config.charbonnierEpsilon);
  const objective: Objective = { total: reconstruction, reconstruction };
  if (posterior.sigma) {
    // The authors sum the KL over all code entries; normalise per pixel like the data term.
    objective.kl = tf.div(vaeKlDivergence(posterior), x.size) as tf.Scalar;
    objective.total = tf.add(objective.total, tf.mul(objective.kl, klWeightAt(config, step)));
  }
  if (partners) {
    const count = partners.of.length;
    // Slices, not tf.gather: gather's gradient (UnsortedSegmentSum) has no wasm kernel.
    const codes = tf.concat(partners.of.map((i) => tf.slice(k, [i, 0, 0, 0], [1, -1, -1, -1])));
    const moved = model.adaptiveBlur(toTensor(partners.sharp, batch, count), codes);
    objective.transfer = charbonnier(
      moved,
      toTensor(partners.blurry, batch, count),
      config.charbonnierEpsilon,
    );
    objective.total = tf.add(objective.total, tf.mul(objective.transfer, config.transferWeight));
  }
  return objective;
}

/** The restorer: rho(x, R(y)). */
function restorerObjective(model: Restorer, batch: PairBatch, config: TrainConfig): Objective {
  const restored = model.restore(toTensor(batch.blurry, batch));
  const reconstruction = charbonnier(restored, toTensor(batch.sharp, batch), config.charbonnierEpsilon);
  return { total: reconstruction, reconstruction };
}

function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Map<string, tf.Tensor> {
  const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))).dataSync()[0]!;
  if (!(norm > maxNorm)) return grads;
  return new Map([...grads].map(([name, g]) => [name, tf.mul(g, maxNorm / norm)]));
}

export function psnr(a: tf.Tensor, b: tf.Tensor): number {
  const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(tf.clipByValue(a, 0, 1), b))).dataSync()[0]!);
  return 10 * Math.log10(1 / Math.max(mse, 1e-12));
}

/** Pair `i` of a batch buffer as a batch of one. */
function pairTensor(data: Float32Array, batch: PairBatch, i: number): tf.Tensor4D {
  const pixels = batch.size * batch.size * 3;
  return tf.tensor4d(data.subarray(i * pixels, (i + 1) * pixels), [1, batch.size, batch.size, 3]);
}

/**
 * Mean PSNR per kind of `score(x, y)` (one pair at a time, to bound memory), and of x against y. The
 * callback runs inside a tidy scope.
 */
function validatePairs(
  validation: Map<string, PairBatch>,
  step: number,
  score: (x: tf.Tensor4D, y: tf.Tensor4D) => number,
): ValidationReport {
  const report: ValidationReport = { step, psnr: {}, identityPsnr: {} };
  for (const [kind, batch] of validation) {
    let total = 0;
    let identity = 0;
    for (let i = 0; i < batch.count; i++) {
      tf.tidy(() => {
        const x = pairTensor(batch.sharp, batch, i);
        const y = pairTensor(batch.blurry, batch, i);
        total += score(x, y);
        identity += psnr(x, y);
      });
    }
    report.psnr[kind] = total / batch.count;
    report.identityPsnr[kind] = identity / batch.count;
  }
  return report;
}

/** Blur reconstruction PSNR(F(x, G(x, y)), y) per kind, and kernel transfer where the pairs have partners. */
export function validate(
  model: KernelWizard,
  validation: Map<string, PairBatch>,
  step: number,
): ValidationReport {
  const report = validatePairs(validation, step, (x, y) =>
    psnr(model.adaptiveBlur(x, model.extractKernel(x, y)), y),
  );
  for (const [kind, batch] of validation) {
    const partners = batch.partners;
    if (!partners?.of.length) continue;
    const one = (data: Float32Array, i: number): tf.Tensor4D => pairTensor(data, batch, i);
    let moved = 0;
    let partnerIdentity = 0;
    partners.of.forEach((of, i) => {
      tf.tidy(() => {
        const code = model.extractKernel(one(batch.sharp, of), one(batch.blurry, of));
        const y = one(partners.blurry, i);
        moved += psnr(model.adaptiveBlur(one(partners.sharp, i), code), y);
        partnerIdentity += psnr(one(partners.sharp, i), y);
      });
    });
    report.psnr[`${kind} transfer`] = moved / partners.of.length;
    report.identityPsnr[`${kind} transfer`] = partnerIdentity / partners.of.length;
  }
  return report;
}

/** Restoration PSNR(R(y), x) per kind. */
export function validateRestorer(
  model: Restorer,
  validation: Map<string, PairBatch>,
  step: number,
): ValidationReport {
  return validatePairs(validation, step, (x, y) => psnr(model.restore(y), x));
}

const MOMENT_PREFIX = { m: 'adam.m.', v: 'adam.v.' } as const;

async function saveState(
  file: string,
  params: Map<string, tf.Variable>,
  adam: Adam,
  step: number,
  config: TrainConfig,
): Promise<void> {
  const tensors: StateDict = new Map();
  const put = (name: string, variable: tf.Variable): void => {
    tensors.set(name, { shape: [...variable.shape], data: Float32Array.from(variable.dataSync()) });
  };
  for (const [name, variable] of params) {
    put(name, variable);
    put(MOMENT_PREFIX.m + name, adam.m.get(name)!);
    put(MOMENT_PREFIX.v + name, adam.v.get(name)!);
  }
  await writeSafetensors(file, tensors, {
    step: String(step),
    adam_steps: String(adam.steps),
    config: JSON.stringify(config),
  });
}

async function loadState(file: string, params: Map<string, tf.Variable>, adam: Adam): Promise<number> {
  const { tensors, metadata } = await readSafetensors(file);
  const restore = (name: string, variable: tf.Variable): void => {
    const saved = tensors.get(name);
    if (!saved || saved.shape.join() !== variable.shape.join()) {
      throw new Error(`Cannot resume: ${file} has no matching "${name}"; was the model config changed?`);
    }
    variable.assign(tf.tensor(saved.data, saved.shape));
  };
  tf.tidy(() => {
    for (const [name, variable] of params) {
      restore(name, variable);
      restore(MOMENT_PREFIX.m + name, adam.m.get(name)!);
      restore(MOMENT_PREFIX.v + name, adam.v.get(name)!);
    }
  });
  adam.steps = Number(metadata.adam_steps);
  return Number(metadata.step);
}

/**
 * The weights of `target` (a freshly initialised model) taken from another checkpoint where they fit: same
 * shapes are copied. Where the target has more inputs, the source fills its own and the new inputs get zero
 * weights, so the target starts as exactly the source network. Three cases: a VAE started from a model
 * without one (the end of G doubles its channels: the mean, then the sigma half, whose rows keep their fresh
 * initialisation), the full-resolution skip started from a model without it (x's 3 extra inputs to one
 * reconstruction conv), and a restorer with every width doubled started from the narrower one (the new
 * channels start fresh and the old ones ignore them). Parts the source lacks are kept fresh where they start
 * silent (the detail gates). Any other difference is refused.
 */
export function warmStartWeights(target: StateDict, source: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [key, t] of target) {
    const s = source.get(key);
    if (!s && startsSilent(key)) {
      out.set(key, t);
      continue;
    }
    if (!s) throw new Error(`Cannot start from that checkpoint: it has no "${key}" (another architecture).`);
    if (t.shape.join() === s.shape.join()) {
      out.set(key, s);
      continue;
    }
    // PyTorch layout [out, in, kh, kw] (or [out] for a bias); only out and in may double.
    const [outT, inT = 1, ...restT] = t.shape;
    const [outS, inS = 1, ...restS] = s.shape;
    const fits =
      t.shape.length === s.shape.length &&
      restT.join() === restS.join() &&
      ((outT === 2 * outS && (inT === inS || inT === 2 * inS)) || (outT === outS && inT > inS));
    if (!fits) {
      throw new Error(
        `Cannot start from that checkpoint: "${key}" is ${s.shape.join('x')} there and ${t.shape.join('x')} here.`,
      );
    }
    const taps = restT.reduce((a, b) => a * b, 1);
    const data = Float32Array.from(t.data);
    for (let o = 0; o < outS; o++) {
      for (let i = 0; i < inT; i++) {
        const at = (o * inT + i) * taps;
        if (i < inS) data.set(s.data.subarray((o * inS + i) * taps, (o * inS + i + 1) * taps), at);
        else data.fill(0, at, at + taps);
      }
    }
    out.set(key, { shape: t.shape, data });
  }
  return out;
}

/** Drops log lines written after the checkpoint we resume from (a crash may have left some). */
async function truncateLog(logPath: string, step: number): Promise<void> {
  if (!existsSync(logPath)) return;
  const kept = (await fs.readFile(logPath, 'utf8'))
    .split('\n')
    .filter((line) => line.trim() && (JSON.parse(line) as LogEntry).step <= step);
  const temp = `${logPath}.tmp`;
  await fs.writeFile(temp, kept.map((line) => line + '\n').join(''));
  await fs.rename(temp, logPath);
}
