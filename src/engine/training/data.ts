import { relative } from 'node:path';
import { mapPoint, renderShake, sampleTrajectory, type Camera } from './camera-shake';
import { develop, expose, sampleCapture, type CaptureOptions, type CaptureParams } from './capture';
import { applyTone, decodeSrgb8 } from '../core/colour';
import { averageFrames, goproWindow } from './gopro';
import { correlateRegion, loadKernels, transformKernel, type Kernel } from './kernels';
import { Rng, STREAM } from '../core/rng';
import {
  chooseCrop,
  extractPatch,
  listSources,
  loadRaster,
  textureEnergy,
  type Raster,
  type Split,
} from './sources';

export type PairKind = 'gopro' | 'shake' | 'kernel';
export const PAIR_KINDS: readonly PairKind[] = ['gopro', 'shake', 'kernel'];

export interface PairOptions {
  seed: number;
  index: number;
  /** Side of the square crop, in pixels. */
  size: number;
  split: Split;
  /** The shared data folder (../shared/data from the project root). */
  dataRoot: string;
  /** Longest camera-shake blur trail (pixels); each pair draws 10-100 % of it. Default 60. */
  maxBlurPx?: number;
  /** Capture simulation switches for 'shake' and 'kernel' pairs (GoPro frames are real captures). */
  capture?: CaptureOptions;
  /** Random crops scored for texture before the best is kept. Default 6; 1 means any crop. */
  cropCandidates?: number;
  /**
   * 'shake' and 'kernel' pairs: take the photo and crop of pair `sceneIndex` (default: `index`) while the
   * blur (kernel, or camera motion) and the capture stay those of pair `index`: two pairs that share one
   * blur on different scenes, for measuring kernel transfer.
   */
  sceneIndex?: number;
  /** 'kernel' pairs: blur with this kernel instead of drawing one of the shared kernels. */
  kernel?: Kernel;
  /** 'gopro' pairs: the whole frames instead of a square crop (`size` is then not used). */
  fullFrame?: boolean;
}

export interface PairInfo {
  kind: PairKind;
  seed: number;
  index: number;
  /** Source file relative to the data root (for GoPro: the sharp middle frame). */
  source: string;
  /** Resampling of the source before cropping. */
  scale: number;
  /** The crop in the resampled source. */
  crop: { x: number; y: number; width: number; height: number };
  /** GoPro frame numbers averaged, the middle one being the sharp image. */
  frames?: number[];
  shake?: {
    poses: number;
    blurPx: number;
    focalPx: number;
    /** Displacement of the crop's centre at each pose relative to the sharp image: the blur trace. */
    trace: [number, number][];
  };
  kernel?: { id: string; symmetry: number; width: number; height: number };
  capture?: CaptureParams;
}

/** Interleaved RGB in 0..1, sRGB-encoded, width x height. */
export interface TrainingPair {
  sharp: Float32Array;
  blurry: Float32Array;
  width: number;
  height: number;
  info: PairInfo;
}

const DEFAULT_MAX_BLUR = 60;
const DEFAULT_CANDIDATES = 6;

/** One random stream of a pair; the split is part of the seed so validation never replays training draws. */
function streamOf(opts: PairOptions, stream: number): Rng {
  return new Rng(opts.seed, opts.index, stream, opts.split === 'val' ? 1 : 0);
}

/** A deterministic sharp/blurry pair: the same options always give the same bytes. */
export async function makePair(kind: PairKind, opts: PairOptions): Promise<TrainingPair> {
  if (!Number.isInteger(opts.size) || opts.size < 8) throw new RangeError(`size must be an integer >= 8`);
  switch (kind) {
    case 'gopro':
      return goproPair(opts);
    case 'shake':
    case 'kernel':
      return syntheticPair(kind, opts);
    default:
      throw new RangeError(`unknown pair kind: ${String(kind)}`);
  }
}

async function goproPair(opts: PairOptions): Promise<TrainingPair> {
  const { seed, index, size, dataRoot } = opts;
  const frames = goproWindow(
    streamOf(opts, STREAM.trajectory),
    (await listSources(dataRoot, opts.split)).frames,
  );
  const rasters = await Promise.all(frames.map((f) => loadRaster(f.path)));
  const middle = rasters[rasters.length >> 1];
  const width = opts.fullFrame ? middle.width : size;
  const height = opts.fullFrame ? middle.height : size;
  if (middle.width < width || middle.height < height)
    throw new RangeError(`GoPro frames are smaller than ${size}`);
  const crop = opts.fullFrame
    ? { x: 0, y: 0 }
    : chooseCrop(
        streamOf(opts, STREAM.crop),
        middle.width,
        middle.height,
        size,
        opts.cropCandidates ?? DEFAULT_CANDIDATES,
        (x, y) => textureEnergy(middle.texture, x, y, size, size),
      );
  const sharp = new Float32Array(width * height * 3);
  for (let v = 0; v < height; v++) {
    const s = ((crop.y + v) * middle.width + crop.x) * 3;
    for (let t = 0; t < width * 3; t++) sharp[v * width * 3 + t] = middle.data[s + t] / 255;
  }
  const blurry = applyTone(
    averageFrames(
      rasters.map((r) => r.data),
      middle.width,
      crop.x,
      crop.y,
      width,
      height,
    ),
  );
  return {
    sharp,
    blurry,
    width,
    height,
    info: {
      kind: 'gopro',
      seed,
      index,
      source: relative(dataRoot, frames[frames.length >> 1].path),
      scale: 1,
      crop: { ...crop, width, height },
      frames: frames.map((f) => f.number),
    },
  };
}

interface Placement {
  raster: Raster;
  path: string;
  scale: number;
  /** The resampled photo's size. */
  width: number;
  height: number;
  crop: { x: number; y: number };
}

async function placeCrop(opts: PairOptions): Promise<Placement> {
  const { size } = opts;
  const rng = streamOf({ ...opts, index: opts.sceneIndex ?? opts.index }, STREAM.crop);
  const path = rng.pick((await listSources(opts.dataRoot, opts.split)).photos);
  const raster = await loadRaster(path);
  const lo = Math.max(0.5, size / Math.min(raster.width, raster.height));
  const scale = rng.uniform(lo, Math.max(1, lo));
  const width = Math.floor(raster.width * scale);
  const height = Math.floor(raster.height * scale);
  const crop = chooseCrop(rng, width, height, size, opts.cropCandidates ?? DEFAULT_CANDIDATES, (x, y) =>
    textureEnergy(raster.texture, x / scale, y / scale, size / scale, size / scale),
  );
  return { raster, path, scale, width, height, crop };
}

async function syntheticPair(kind: 'shake' | 'kernel', opts: PairOptions): Promise<TrainingPair> {
  const { seed, index, size } = opts;
  const place = await placeCrop(opts);
  const { crop } = place;
  const blurRng = streamOf(opts, STREAM.trajectory);
  const capture = sampleCapture(streamOf(opts, STREAM.capture), opts.capture);

  let margin: number;
  let render: (src: Float32Array, w: number, h: number, left: number, top: number) => Float32Array;
  const info: PairInfo = {
    kind,
    seed,
    index,
    source: relative(opts.dataRoot, place.path),
    scale: place.scale,
    crop: { ...crop, width: size, height: size },
  };
  if (kind === 'shake') {
    const radius = Math.hypot(place.width, place.height) / 2;
    const fov = (blurRng.uniform(50, 90) * Math.PI) / 180;
    const camera: Camera = {
      focal: radius / Math.tan(fov / 2),
      cx: place.width / 2,
      cy: place.height / 2,
      radius,
    };
    const [x0, y0, x1, y1] = [crop.x, crop.y, crop.x + size - 1, crop.y + size - 1];
    const centre = [(x0 + x1) / 2, (y0 + y1) / 2] as const;
    const probes = [[x0, y0], [x1, y0], [x0, y1], [x1, y1], centre] as const;
    const blurPx = (opts.maxBlurPx ?? DEFAULT_MAX_BLUR) * blurRng.uniform(0.1, 1);
    const path = sampleTrajectory(blurRng, camera, probes, blurPx);
    margin = Math.ceil(path.maxShiftPx) + 2;
    render = (src, w, h, left, top) =>
      renderShake(
        src,
        w,
        h,
        { ...camera, cx: camera.cx - left, cy: camera.cy - top },
        path.poses,
        crop.x - left,
        crop.y - top,
        size,
        size,
      );
    info.shake = {
      poses: path.poses.length,
      blurPx: path.blurPx,
      focalPx: camera.focal,
      trace: path.poses.map((p) => {
        const d = mapPoint(camera, p, centre);
        return [d[0] - centre[0], d[1] - centre[1]];
      }),
    };
  } else {
    const kernels = await loadKernels(opts.dataRoot);
    const base = blurRng.pick(kernels);
    const symmetry = opts.kernel ? 0 : blurRng.int(0, 7);
    const k = opts.kernel ?? transformKernel(base, symmetry);
    margin = Math.max(k.width, k.height);
    render = (src, w, h, left, top) =>
      correlateRegion(src, w, h, 3, k, crop.x - left, crop.y - top, size, size);
    info.kernel = { id: k.id, symmetry, width: k.width, height: k.height };
  }

  const patch = await extractPatch(
    place.raster,
    place.scale,
    crop.x - margin,
    crop.y - margin,
    crop.x + size + margin,
    crop.y + size + margin,
  );
  // Rounding in the resampling may leave the patch a pixel short at the far edges of the photo.
  const left = Math.min(crop.x, Math.max(patch.left, crop.x + size - patch.width));
  const top = Math.min(crop.y, Math.max(patch.top, crop.y + size - patch.height));
  const linear = decodeSrgb8(patch.data);
  expose(linear, capture);
  const blurryLinear = render(linear, patch.width, patch.height, left, top);
  const sharpLinear = new Float32Array(size * size * 3);
  for (let v = 0; v < size; v++) {
    const s = ((crop.y - top + v) * patch.width + crop.x - left) * 3;
    sharpLinear.set(linear.subarray(s, s + size * 3), v * size * 3);
  }
  const { sharp, blurry } = await develop(
    sharpLinear,
    blurryLinear,
    size,
    size,
    capture,
    streamOf(opts, STREAM.noise),
  );
  return { sharp, blurry, width: size, height: size, info: { ...info, capture } };
}

export interface BatchOptions extends Omit<PairOptions, 'index'> {
  /** Batch number: pair indices batch * batchSize ... batch * batchSize + batchSize - 1. */
  batch: number;
  batchSize: number;
  /** Relative weights of the kinds. Default { gopro: 1, shake: 1, kernel: 0.5 }. */
  mix?: Partial<Record<PairKind, number>>;
  /** Also make a partner for every shake and kernel pair: the same blur and capture on another scene. */
  partners?: boolean;
}

export interface Batch {
  /** NHWC, RGB in 0..1, sRGB-encoded. */
  sharp: Float32Array;
  blurry: Float32Array;
  /** Pairs in the batch and their side (the trainer's PairBatch). */
  count: number;
  size: number;
  infos: PairInfo[];
  /** With `partners`: the partner pairs, NHWC like the batch, and the index in the batch of each one's pair. */
  partners?: { sharp: Float32Array; blurry: Float32Array; of: number[] };
}

/** Partners take their scenes from pair indices far above any run's (sceneIndex), never from a batch pair. */
const PARTNER_SCENES = 2 ** 30;

/** Pairs of one side packed into NHWC buffers. */
function pack(pairs: TrainingPair[], size: number): { sharp: Float32Array; blurry: Float32Array } {
  const per = size * size * 3;
  const sharp = new Float32Array(pairs.length * per);
  const blurry = new Float32Array(pairs.length * per);
  pairs.forEach((p, i) => {
    sharp.set(p.sharp, i * per);
    blurry.set(p.blurry, i * per);
  });
  return { sharp, blurry };
}

const DEFAULT_MIX: Record<PairKind, number> = { gopro: 1, shake: 1, kernel: 0.5 };

/** The kind of pair `index` in a mix (deterministic, independent of the batch size). */
export function pickKind(
  seed: number,
  index: number,
  mix: Partial<Record<PairKind, number>> = DEFAULT_MIX,
): PairKind {
  const weights = PAIR_KINDS.map((k) => Math.max(0, mix[k] ?? 0));
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new RangeError('the kind mix needs a positive weight');
  let r = new Rng(seed, index, STREAM.kind).next() * total;
  for (let i = 0; i < PAIR_KINDS.length; i++) {
    r -= weights[i];
    if (r < 0 && weights[i] > 0) return PAIR_KINDS[i];
  }
  return PAIR_KINDS[weights.findLastIndex((w) => w > 0)];
}

export async function makeBatch(opts: BatchOptions): Promise<Batch> {
  const { batch, batchSize, size, mix, partners, ...pairOpts } = opts;
  const first = batch * batchSize;
  const kinds = Array.from({ length: batchSize }, (_, i) =>
    pickKind(opts.seed, first + i, mix ?? DEFAULT_MIX),
  );
  const pairs = await Promise.all(
    kinds.map((kind, i) => makePair(kind, { ...pairOpts, size, index: first + i })),
  );
  const result: Batch = { ...pack(pairs, size), count: batchSize, size, infos: pairs.map((p) => p.info) };
  if (partners) {
    const of = kinds.flatMap((kind, i) => (kind === 'gopro' ? [] : [i]));
    const partnerPairs = await Promise.all(
      of.map((i) =>
        makePair(kinds[i]!, { ...pairOpts, size, index: first + i, sceneIndex: PARTNER_SCENES + first + i }),
      ),
    );
    result.partners = { ...pack(partnerPairs, size), of };
  }
  return result;
}

export interface DataSourceOptions {
  dataRoot: string;
  seed: number;
  size: number;
  batchSize: number;
  mix?: Partial<Record<PairKind, number>>;
  maxBlurPx?: number;
  /** Validation pairs per kind with a positive weight in the mix (default 8). */
  validationPairs?: number;
  /** Partners for the shake and kernel pairs (BatchOptions.partners), for the kernel-transfer loss. */
  partners?: boolean;
}

/**
 * The trainer's data source: training batch `step` (1-based) from the training split, and a fixed validation
 * set per kind from the validation split.
 */
export function trainingData(opts: DataSourceOptions): {
  batch(step: number): Promise<Batch>;
  validation(): Promise<Map<PairKind, Batch>>;
} {
  const { dataRoot, seed, size, batchSize, mix = DEFAULT_MIX, maxBlurPx, partners } = opts;
  const common = { dataRoot, size, maxBlurPx, partners };
  let validation: Promise<Map<PairKind, Batch>> | undefined;
  return {
    batch: (step) => makeBatch({ ...common, seed, split: 'train', batch: step - 1, batchSize, mix }),
    validation: () =>
      (validation ??= (async () => {
        const sets = new Map<PairKind, Batch>();
        for (const kind of PAIR_KINDS.filter((k) => (mix[k] ?? 0) > 0)) {
          const only = { gopro: 0, shake: 0, kernel: 0, [kind]: 1 };
          const count = opts.validationPairs ?? 8;
          sets.set(
            kind,
            await makeBatch({ ...common, seed, split: 'val', batch: 0, batchSize: count, mix: only }),
          );
        }
        return sets;
      })()),
  };
}
