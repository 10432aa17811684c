// KernelWizard (Tran et al., CVPR 2021): blur operator F(x, k) and kernel extractor G(x, y) in TensorFlow.js.
// Parameters are keyed by the authors' PyTorch state_dict names so their checkpoints load as they are.
// Images are NHWC float32 RGB in [0, 1] (the authors divide 8-bit RGB by 255 and apply no other normalisation).
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { GRID_CELL } from '../core/tiling';
import {
  PAD_MODES,
  conv2d,
  convTranspose2d,
  instanceNorm,
  leakyRelu,
  pad2d,
  pixelShuffle,
  residualBlockNoBN,
  type PadMode,
} from './layers';
import {
  convSpec,
  convTSpec,
  Parameters,
  sameShape,
  shapeText,
  withStateDict,
  type ParamSpec,
  type StateTensor,
} from './parameters';

export type { StateTensor } from './parameters';

const NormType = z.enum(['none', 'instance']);
export type NormType = z.infer<typeof NormType>;

const count = (min: number): z.ZodNumber => z.number().int().min(min);

/** F and G's architecture; strict, so that a misspelled key in a config or a checkpoint is refused. */
export const KernelWizardConfig = z.strictObject({
  /** Image channels (`input_nc`). */
  inputNc: count(1),
  /** Feature width (`nf`). */
  nf: count(1),
  /** Residual blocks after the feature extractor's two stride-2 convs (`front_RBs`). */
  frontRBs: count(0),
  /** Residual blocks before the pixel-shuffle upsampling (`back_RBs`). */
  backRBs: count(0),
  /** Channels of one kernel code cell (`kernel_dim`); the code grid is H/128 x W/128. */
  kernelDim: count(1),
  /** G predicts mean and sigma (2 * kernelDim channels) instead of the code (`use_vae`). */
  useVAE: z.boolean(),
  /** ResNet blocks at the end of the kernel extractor (`KernelExtractor.n_blocks`). */
  extractorBlocks: count(0),
  /** `KernelExtractor.norm`; 'instance' also turns the extractor's conv biases on, as in the authors' code. */
  extractorNorm: NormType,
  /** `KernelExtractor.padding_type` of its ResNet blocks. */
  extractorPadding: z.enum(PAD_MODES),
  /** `Adapter.norm`; 'instance' also turns the adapter's conv biases on. */
  adapterNorm: NormType,
  /** Width of the full-resolution reconstruction convs (hard-coded 64 in the authors' trunk). */
  reconNf: count(1),
  /**
   * Not in the paper: the full-resolution reconstruction convs also see x. F's residual otherwise passes
   * through nf channels at quarter resolution (48 values per 4x4 RGB block); at nf 16 that is too narrow
   * to remove x's fine detail, and the compact F hardly blurs (docs/decisions/0015-blur-model-variants.md).
   */
  fullResolutionSkip: z.boolean(),
  /**
   * Not in the paper (0: off): F also adds sum_c g_c * (f_c conv x) at full resolution, with learned 7x7
   * filters f_c (`detail_bank`) and per-pixel gates g_c read from its last features (`detail_gates`, zero at
   * the start: the network is then exactly the one without). The code can thus say how much of x's own
   * detail to keep and how to smear it, which the quarter-resolution trunk cannot carry (decision 0015).
   * The number of filters per colour channel.
   */
  detailGates: count(0),
  /**
   * Not in the paper: the code also scales and shifts F's last full-resolution features, per channel and per
   * 128x128 cell (FiLM; `code_film`, zero at the start). With the full-resolution skip, F otherwise learns one
   * average blur whatever the code says (decision 0015); this gives the code a say on that path.
   */
  codeModulation: z.boolean(),
});
export type KernelWizardConfig = z.infer<typeof KernelWizardConfig>;

/**
 * The authors' options (options/kernel_encoding/GOPRO/woVAE.yml); wVAE.yml differs only in useVAE. Their
 * `N_frames` and `img_size` options build nothing, so they have no field here.
 */
export const OFFICIAL_CONFIG: KernelWizardConfig = {
  inputNc: 3,
  nf: 64,
  frontRBs: 10,
  backRBs: 20,
  kernelDim: 512,
  useVAE: false,
  extractorBlocks: 4,
  extractorNorm: 'none',
  extractorPadding: 'reflect',
  adapterNorm: 'none',
  reconNf: 64,
  fullResolutionSkip: false,
  detailGates: 0,
  codeModulation: false,
};

/** G's raw output: for a VAE the second half is used as a standard deviation (not a log-variance). */
export interface KernelPosterior {
  mean: tf.Tensor4D;
  sigma: tf.Tensor4D | null;
}

const ADAPTER_LEVELS = 5;
const DOWNSAMPLINGS = 5;

// Authors' nn.Sequential indices; activations and Identity norm layers occupy indices too.
const FEATURE_RB0 = 6;
const EXTRACTOR_FIRST = 1;
const extractorDown = (i: number): number => 4 + 3 * i;
const EXTRACTOR_RB0 = extractorDown(DOWNSAMPLINGS);

function extractorBlockConvs(config: KernelWizardConfig, block: number): [string, string] {
  const prefix = `kernel_extractor.model.${EXTRACTOR_RB0 + block}.conv_block`;
  // [pad, conv, norm, relu, pad, conv, norm]; zero padding drops both pad layers.
  return config.extractorPadding === 'zero' ? [`${prefix}.0`, `${prefix}.3`] : [`${prefix}.1`, `${prefix}.5`];
}

function adapterPrefix(level: number): string {
  return `adapter.model.${'submodule.'.repeat(level)}`;
}

function adapterDownConv(level: number): string {
  // The outermost block has no LeakyReLU before its down conv.
  return `${adapterPrefix(level)}down.${level === 0 ? 0 : 1}`;
}

function adapterUpConv(level: number): string {
  return `${adapterPrefix(level)}up.1`;
}

const DETAIL_BANK = 'detail_bank';
const DETAIL_GATES = 'detail_gates';
const DETAIL_BANK_SIZE = 7;
const CODE_FILM = 'code_film';

/**
 * Parameters of optional parts that leave F unchanged at their fresh initialisation (the detail gates start
 * at zero), so that a checkpoint without them can seed a model with them.
 */
export function startsSilent(key: string): boolean {
  return [DETAIL_BANK, DETAIL_GATES, CODE_FILM].some((part) => key.startsWith(`${part}.`));
}

function reconConvs(config: KernelWizardConfig): string[] {
  const b = config.backRBs;
  return [b, b + 3, b + 6, b + 8].map((i) => `recon_trunk.${i}`);
}

function extractorOutChannels(config: KernelWizardConfig): number {
  return config.useVAE ? 2 * config.kernelDim : config.kernelDim;
}

/** Channels of the adapter level: outer (block input/output) and inner (after its down conv). */
function adapterChannels(nf: number, level: number): { outer: number; inner: number } {
  const widths = [nf, nf, 2 * nf, 4 * nf, 8 * nf];
  return { outer: widths[level]!, inner: level === ADAPTER_LEVELS - 1 ? 8 * nf : widths[level + 1]! };
}

function describe(config: KernelWizardConfig): string {
  return (
    `nf ${config.nf}, front_RBs ${config.frontRBs}, back_RBs ${config.backRBs}, kernel_dim ${config.kernelDim}, ` +
    `use_vae ${config.useVAE}, n_blocks ${config.extractorBlocks}, recon width ${config.reconNf}` +
    (config.fullResolutionSkip ? ', full-resolution skip' : '') +
    (config.detailGates > 0 ? `, ${config.detailGates} detail gates` : '') +
    (config.codeModulation ? ', code modulation' : '')
  );
}

function validateConfig(config: KernelWizardConfig): void {
  const checked = KernelWizardConfig.safeParse(config);
  if (!checked.success) throw new Error(`KernelWizard: ${z.prettifyError(checked.error)}`);
  // G's channel count doubles per downsampling and is capped at its output width, so it must reach it.
  if (config.nf * 2 ** DOWNSAMPLINGS < extractorOutChannels(config)) {
    throw new Error(
      `KernelWizard: nf * 32 (${config.nf * 32}) must be at least the kernel extractor's output ` +
        `(${extractorOutChannels(config)} channels)`,
    );
  }
}

/** Every parameter in the authors' state_dict order, with PyTorch shapes. */
function paramSpecs(config: KernelWizardConfig): ParamSpec[] {
  const { nf, inputNc } = config;
  const rb = (prefix: string): ParamSpec[] => [
    ...convSpec(`${prefix}.conv1`, nf, nf, 3, true, 0.1),
    ...convSpec(`${prefix}.conv2`, nf, nf, 3, true, 0.1),
  ];
  const specs: ParamSpec[] = [
    ...convSpec('feature_extractor.0', nf, inputNc, 3, true),
    ...convSpec('feature_extractor.2', nf, nf, 3, true),
    ...convSpec('feature_extractor.4', nf, nf, 3, true),
  ];
  for (let i = 0; i < config.frontRBs; i++) specs.push(...rb(`feature_extractor.${FEATURE_RB0 + i}`));

  const extBias = config.extractorNorm === 'instance';
  const outNc = extractorOutChannels(config);
  specs.push(...convSpec(`kernel_extractor.model.${EXTRACTOR_FIRST}`, nf, 2 * nf, 7, extBias));
  for (let i = 0; i < DOWNSAMPLINGS; i++) {
    const inc = Math.min(nf * 2 ** i, outNc);
    const ouc = Math.min(nf * 2 ** (i + 1), outNc);
    specs.push(...convSpec(`kernel_extractor.model.${extractorDown(i)}`, ouc, inc, 3, extBias));
  }
  for (let b = 0; b < config.extractorBlocks; b++) {
    for (const key of extractorBlockConvs(config, b))
      specs.push(...convSpec(key, outNc, outNc, 3, extBias, 0.1));
  }

  // U-Net registration order: down, submodule, up.
  const adaBias = config.adapterNorm === 'instance';
  const down: ParamSpec[] = [];
  const up: ParamSpec[] = [];
  for (let level = 0; level < ADAPTER_LEVELS; level++) {
    const { outer, inner } = adapterChannels(nf, level);
    down.push(...convSpec(adapterDownConv(level), inner, outer, 4, adaBias));
    // The innermost up conv reads its down output concatenated with the kernel code.
    const upIn = level === ADAPTER_LEVELS - 1 ? inner + config.kernelDim : 2 * inner;
    up.unshift(...convTSpec(adapterUpConv(level), upIn, outer, level === 0 || adaBias));
  }
  specs.push(...down, ...up);

  for (let i = 0; i < config.backRBs; i++) specs.push(...rb(`recon_trunk.${i}`));
  const [c0, c1, c2, c3] = reconConvs(config) as [string, string, string, string];
  const r = config.reconNf;
  specs.push(
    ...convSpec(c0, 4 * nf, nf, 3, true),
    ...convSpec(c1, 4 * r, nf, 3, true),
    ...convSpec(c2, r, config.fullResolutionSkip ? r + inputNc : r, 3, true),
    // Small last layer: a fresh F starts close to the identity (its output is x + trunk).
    ...convSpec(c3, inputNc, r, 3, true, 0.1),
  );
  if (config.detailGates > 0) {
    const filters = config.detailGates * inputNc;
    specs.push(
      ...convSpec(DETAIL_BANK, filters, inputNc, DETAIL_BANK_SIZE, false),
      ...convSpec(DETAIL_GATES, filters, r, 3, true, 0),
    );
  }
  if (config.codeModulation) specs.push(...convSpec(CODE_FILM, 2 * r, config.kernelDim, 1, true, 0));
  return specs;
}

/** Authors' KL term (kl_weight 10 in wVAE.yml): sum(mean^2 + sigma^2 - log(1e-8 + sigma^2) - 1), no 1/2. */
export function vaeKlDivergence(posterior: KernelPosterior): tf.Scalar {
  const { mean, sigma } = posterior;
  if (!sigma) throw new Error('vaeKlDivergence: the model is not a VAE (no sigma)');
  return tf.tidy(() => {
    const s2 = tf.square(sigma);
    return tf.sum(tf.sub(tf.sub(tf.add(tf.square(mean), s2), tf.log(tf.add(s2, 1e-8))), 1));
  });
}

/** Reparameterised sample mean + sigma * eps, as the authors do in training (and in their augmentation script). */
export function sampleKernel(posterior: KernelPosterior, eps: tf.Tensor4D): tf.Tensor4D {
  const { mean, sigma } = posterior;
  return sigma ? tf.tidy(() => tf.add(mean, tf.mul(sigma, eps))) : tf.clone(mean);
}

/**
 * Repeats each cell of a code grid [n, gh, gw, c] over GRID_CELL x GRID_CELL pixels: rank-4 broadcasts,
 * whose gradient is a sum (tf.tile's gradient slices every repeat and is several times slower).
 */
function upsampleCells(grid: tf.Tensor4D): tf.Tensor4D {
  const [n, gh, gw, c] = grid.shape;
  const rows = tf.mul(tf.reshape(grid, [n * gh, 1, gw, c]), tf.ones([1, GRID_CELL, 1, 1]));
  const cols = tf.mul(tf.reshape(rows, [n * gh * GRID_CELL, gw, 1, c]), tf.ones([1, 1, GRID_CELL, 1]));
  return tf.reshape(cols, [n, gh * GRID_CELL, gw * GRID_CELL, c]);
}

export class KernelWizard {
  readonly config: KernelWizardConfig;
  private readonly params: Parameters;

  /** Deterministic initialisation: kaiming-normal (fan in), residual branches scaled by 0.1, zero biases. */
  private constructor(config: KernelWizardConfig, seed: number) {
    validateConfig(config);
    this.config = { ...config };
    this.params = new Parameters(paramSpecs(config), seed);
  }

  static create(config: KernelWizardConfig, seed: number): KernelWizard {
    return new KernelWizard(config, seed);
  }

  /** Derives the configuration from a state_dict's names and shapes (PyTorch layout). */
  static inferConfig(shapes: Map<string, number[]>): KernelWizardConfig {
    const need = (key: string): number[] => {
      const shape = shapes.get(key);
      if (!shape) throw new Error(`Not a KernelWizard state_dict: key "${key}" is missing`);
      return shape;
    };
    const count = (key: (i: number) => string): number => {
      let n = 0;
      while (shapes.has(key(n))) n++;
      return n;
    };
    const [nf, inputNc] = need('feature_extractor.0.weight') as [number, number];
    const frontRBs = count((i) => `feature_extractor.${FEATURE_RB0 + i}.conv1.weight`);
    const backRBs = count((i) => `recon_trunk.${i}.conv1.weight`);
    const [reconNf, reconIn] = need(`recon_trunk.${backRBs + 6}.weight`) as [number, number];
    const outNc = need(`kernel_extractor.model.${extractorDown(DOWNSAMPLINGS - 1)}.weight`)[0]!;
    const innermostIn = need(`${adapterUpConv(ADAPTER_LEVELS - 1)}.weight`)[0]!;
    const kernelDim = innermostIn - 8 * nf;
    if (kernelDim !== outNc && 2 * kernelDim !== outNc) {
      throw new Error(
        `Not a KernelWizard state_dict: the kernel extractor outputs ${outNc} channels but the adapter ` +
          `expects codes of ${kernelDim} channels`,
      );
    }
    const extractorPadding: PadMode = shapes.has(
      `kernel_extractor.model.${EXTRACTOR_RB0}.conv_block.0.weight`,
    )
      ? 'zero'
      : 'reflect';
    const probe: KernelWizardConfig = { ...OFFICIAL_CONFIG, extractorPadding };
    return {
      inputNc,
      nf,
      frontRBs,
      backRBs,
      kernelDim,
      useVAE: outNc === 2 * kernelDim,
      extractorBlocks: count((b) => `${extractorBlockConvs(probe, b)[0]}.weight`),
      extractorNorm: shapes.has(`kernel_extractor.model.${EXTRACTOR_FIRST}.bias`) ? 'instance' : 'none',
      extractorPadding,
      adapterNorm: shapes.has(`${adapterDownConv(1)}.bias`) ? 'instance' : 'none',
      reconNf,
      fullResolutionSkip: reconIn === reconNf + inputNc,
      detailGates: (shapes.get(`${DETAIL_BANK}.weight`)?.[0] ?? 0) / inputNc,
      codeModulation: shapes.has(`${CODE_FILM}.weight`),
    };
  }

  /**
   * Builds a model from a state_dict in PyTorch layout. Without `config` it is read from the names and
   * shapes; the padding mode cannot be read from a checkpoint: reflect (the authors' setting) unless the
   * keys show zero.
   */
  static fromStateDict(tensors: Map<string, StateTensor>, config?: KernelWizardConfig): KernelWizard {
    const shapes = new Map([...tensors].map(([key, t]) => [key, t.shape]));
    return withStateDict(KernelWizard.create(config ?? KernelWizard.inferConfig(shapes), 0), tensors);
  }

  /** Loads a state_dict in PyTorch layout; checks everything before changing any weight. */
  loadStateDict(tensors: Map<string, StateTensor>): void {
    try {
      this.params.load(tensors, `the config (${describe(this.config)})`);
    } catch (error) {
      throw new Error(`KernelWizard.loadStateDict: ${(error as Error).message}`, { cause: error });
    }
  }

  /** All parameters in PyTorch layout and order; loadStateDict(stateDict()) is exact. */
  stateDict(): Map<string, StateTensor> {
    return this.params.stateDict();
  }

  /** The weights keyed by their state_dict names (in TensorFlow layout), e.g. for an optimizer's state. */
  namedVariables(): Map<string, tf.Variable> {
    return this.params.named();
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.named().values()];
  }

  /** Number of scalar parameters. */
  parameterCount(): number {
    return this.params.count();
  }

  dispose(): void {
    this.params.dispose();
  }

  /** G: the kernel code grid [n, H/128, W/128, kernelDim] (the mean for a VAE) of the pair (sharp x, blurry y). */
  extractKernel(x: tf.Tensor4D, y: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const { mean, sigma } = this.extractKernelPosterior(x, y);
      sigma?.dispose();
      return mean;
    });
  }

  /**
   * G's full output. Without VAE sigma is null (the authors use zeros). With VAE the authors train on
   * mean + sigma * N(0, 1) (see sampleKernel) with vaeKlDivergence; use the mean for deterministic inference.
   */
  extractKernelPosterior(x: tf.Tensor4D, y: tf.Tensor4D): KernelPosterior {
    this.checkImage(x, 'x');
    if (!sameShape(x.shape, y.shape)) {
      throw new Error(`KernelWizard: x ${shapeText(x.shape)} and y ${shapeText(y.shape)} differ in shape`);
    }
    const [, h, w] = x.shape;
    if (
      this.config.extractorBlocks > 0 &&
      this.config.extractorPadding === 'reflect' &&
      Math.min(h, w) < 2 * GRID_CELL
    ) {
      throw new Error(
        `KernelWizard: G needs images of at least ${2 * GRID_CELL}x${2 * GRID_CELL} (got ${h}x${w}): its ` +
          'reflect-padded blocks cannot pad a code grid only one cell wide',
      );
    }
    const out = tf.tidy(() => this.kernelExtractor(this.features(x), this.features(y)));
    if (!this.config.useVAE) return { mean: out, sigma: null };
    const kd = this.config.kernelDim;
    const [mean, sigma] = tf.split(out, [kd, kd], 3) as [tf.Tensor4D, tf.Tensor4D];
    out.dispose();
    return { mean, sigma };
  }

  /** F: blurs the sharp image x [n, H, W, c] with the code grid k [n, H/128, W/128, kernelDim]. */
  adaptiveBlur(x: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
    this.checkImage(x, 'x');
    const [n, h, w] = x.shape;
    const grid = [n, h / GRID_CELL, w / GRID_CELL, this.config.kernelDim];
    if (!sameShape(k.shape, grid)) {
      throw new Error(
        `KernelWizard: kernel code must be ${shapeText(grid)} for this image, got ${shapeText(k.shape)}`,
      );
    }
    return tf.tidy(() => tf.add(this.reconstruct(this.adapter(this.features(x), k), x, k), x));
  }

  private checkImage(x: tf.Tensor4D, name: string): void {
    const [, h, w, c] = x.shape;
    if (h % GRID_CELL !== 0 || w % GRID_CELL !== 0 || h === 0 || w === 0) {
      throw new Error(
        `KernelWizard: ${name} is ${h}x${w}; height and width must be multiples of ${GRID_CELL}`,
      );
    }
    if (c !== this.config.inputNc) {
      throw new Error(`KernelWizard: ${name} has ${c} channels, the model takes ${this.config.inputNc}`);
    }
  }

  private weight(key: string): tf.Tensor4D {
    return this.params.weight(key);
  }

  private bias(key: string): tf.Tensor1D | null {
    return this.params.bias(key);
  }

  private conv(x: tf.Tensor4D, key: string, stride: number, pad: number): tf.Tensor4D {
    return conv2d(x, this.weight(key), this.bias(key), stride, pad);
  }

  private residual(x: tf.Tensor4D, key: string): tf.Tensor4D {
    const c1 = `${key}.conv1`;
    const c2 = `${key}.conv2`;
    return residualBlockNoBN(x, this.weight(c1), this.bias(c1)!, this.weight(c2), this.bias(c2)!);
  }

  private features(x: tf.Tensor4D): tf.Tensor4D {
    let h = leakyRelu(this.conv(x, 'feature_extractor.0', 1, 1), 0.1);
    h = leakyRelu(this.conv(h, 'feature_extractor.2', 2, 1), 0.1);
    h = leakyRelu(this.conv(h, 'feature_extractor.4', 2, 1), 0.1);
    for (let i = 0; i < this.config.frontRBs; i++)
      h = this.residual(h, `feature_extractor.${FEATURE_RB0 + i}`);
    return h;
  }

  private kernelExtractor(sharp: tf.Tensor4D, blurry: tf.Tensor4D): tf.Tensor4D {
    const norm = (t: tf.Tensor4D): tf.Tensor4D =>
      this.config.extractorNorm === 'instance' ? instanceNorm(t) : t;
    const padding = this.config.extractorPadding;
    let h = tf.concat([sharp, blurry], 3);
    h = tf.relu(norm(this.conv(pad2d(h, 3, 'reflect'), `kernel_extractor.model.${EXTRACTOR_FIRST}`, 1, 0)));
    for (let i = 0; i < DOWNSAMPLINGS; i++) {
      h = tf.relu(norm(this.conv(h, `kernel_extractor.model.${extractorDown(i)}`, 2, 1)));
    }
    for (let b = 0; b < this.config.extractorBlocks; b++) {
      const [first, second] = extractorBlockConvs(this.config, b);
      const r = tf.relu(norm(this.conv(pad2d(h, 1, padding), first, 1, 0)));
      h = tf.add(h, norm(this.conv(pad2d(r, 1, padding), second, 1, 0)));
    }
    return h;
  }

  /**
   * The 5-level U-Net that injects the code at its bottleneck. The authors' in-place LeakyReLU before each
   * inner down conv also rewrites the tensor their skip connection reads, so skips carry the activated input.
   */
  private adapter(f: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
    const norm = (t: tf.Tensor4D): tf.Tensor4D =>
      this.config.adapterNorm === 'instance' ? instanceNorm(t) : t;
    const last = ADAPTER_LEVELS - 1;
    const skips: tf.Tensor4D[] = [];
    let h = this.conv(f, adapterDownConv(0), 2, 1);
    for (let level = 1; level <= last; level++) {
      const activated = leakyRelu(h, 0.2);
      skips[level] = activated;
      const d = this.conv(activated, adapterDownConv(level), 2, 1);
      h = level === last ? d : norm(d);
    }
    h = tf.concat([h, k], 3);
    for (let level = last; level >= 1; level--) {
      const key = adapterUpConv(level);
      const u = norm(convTranspose2d(tf.relu(h), this.weight(key), this.bias(key), 2, 1));
      h = tf.concat([u, skips[level]!], 3);
    }
    const key = adapterUpConv(0);
    return tf.tanh(convTranspose2d(tf.relu(h), this.weight(key), this.bias(key), 2, 1));
  }

  private reconstruct(a: tf.Tensor4D, x: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D {
    let h = a;
    for (let i = 0; i < this.config.backRBs; i++) h = this.residual(h, `recon_trunk.${i}`);
    const [c0, c1, c2, c3] = reconConvs(this.config) as [string, string, string, string];
    h = leakyRelu(pixelShuffle(this.conv(h, c0, 1, 1), 2), 0.1);
    h = leakyRelu(pixelShuffle(this.conv(h, c1, 1, 1), 2), 0.1);
    if (this.config.fullResolutionSkip) h = tf.concat([h, x], 3);
    h = leakyRelu(this.conv(h, c2, 1, 1), 0.1);
    if (this.config.codeModulation) {
      // Per cell: h * (1 + scale) + shift, the code's cells repeated over their 128x128 pixels.
      const film = upsampleCells(this.conv(k, CODE_FILM, 1, 0));
      const [scale, shift] = tf.split(film, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
      h = tf.add(tf.mul(h, tf.add(scale, 1)), shift);
    }
    const residual = this.conv(h, c3, 1, 1);
    const gates = this.config.detailGates;
    if (gates === 0) return residual;
    // Filter outputs and gates are laid out [filter][colour]: multiply, then sum over the filters.
    const filtered = this.conv(x, DETAIL_BANK, 1, (DETAIL_BANK_SIZE - 1) / 2);
    const gated = tf.mul(filtered, this.conv(h, DETAIL_GATES, 1, 1));
    const [n, height, width] = x.shape;
    return tf.add(residual, tf.sum(tf.reshape(gated, [n, height, width, gates, x.shape[3]]), 3));
  }
}
