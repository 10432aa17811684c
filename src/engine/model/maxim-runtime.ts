// Where learned mode's network runs on the CPU: onnxruntime (the optional npm package onnxruntime-node) when it
// is installed, the model converted to ONNX once per tile size (model/maxim-onnx.ts) and kept in the user's
// cache folder; otherwise the TensorFlow.js graph on wasm (model/maxim.ts). onnxruntime ran the network 3-4x
// faster here (4-6x per thread; decision 0020, amendment). BLURSPACE_LEARNED_RUNTIME=tfjs|onnx forces one.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../core/fs-atomic';
import { checkMaximSize, loadMaxim, maximRestore, readMaximArtifacts } from './maxim';
import { maximToOnnx, ONNX_INPUT, ONNX_OUTPUT } from './maxim-onnx';
import { onnxFlops, type OnnxFlops } from './onnx-flops';

export const ORT_PACKAGE = 'onnxruntime-node';

/** Bump when maxim-onnx.ts writes a different model, so cached files are converted again. */
const CONVERTER_VERSION = 2;

export type MaximRuntime = 'onnxruntime' | 'tfjs';

/** The network, ready to restore tiles in this thread. */
export interface MaximRunner {
  runtime: MaximRuntime;
  /** Why this runtime (e.g. onnxruntime-node is not installed). */
  note: string;
  /** The network's restoration of an RGB tile in [0, 1] (sides multiples of MAXIM_CELL), clipped to [0, 1]. */
  restore(pixels: Float32Array, width: number, height: number): Promise<Float32Array>;
}

// The parts of onnxruntime-node's API used here (the package is optional, so its types may be absent).
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
}
interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options: object): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/** onnxruntime-node, or why it cannot be used. */
export function loadOnnxRuntime(): OrtModule | string {
  try {
    return createRequire(import.meta.url)(ORT_PACKAGE) as OrtModule;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND') return `${ORT_PACKAGE} is not installed`;
    return `${ORT_PACKAGE} did not load: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Where converted models are kept: BLURSPACE_CACHE_DIR, else the platform's user cache folder. */
export function cacheDir(): string {
  if (process.env.BLURSPACE_CACHE_DIR) return process.env.BLURSPACE_CACHE_DIR;
  const home = os.homedir();
  if (process.platform === 'win32') {
    return path.join(process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'blurspace', 'cache');
  }
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'blurspace');
  return path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'blurspace');
}

function wantedRuntime(): 'auto' | 'onnx' | 'tfjs' {
  const wanted = process.env.BLURSPACE_LEARNED_RUNTIME || 'auto';
  if (wanted === 'auto' || wanted === 'onnx' || wanted === 'tfjs') return wanted;
  throw new Error(`BLURSPACE_LEARNED_RUNTIME="${wanted}" is not one of auto, onnx, tfjs.`);
}

/** Whether onnxruntime-node is installed (resolved, not loaded). */
export function onnxRuntimeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve(ORT_PACKAGE);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether learned mode's tiles will run on onnxruntime (installed, not turned off): its workers are then
 * processes (core/tile-threads.ts says why).
 */
export function usesOnnxRuntime(): boolean {
  return wantedRuntime() !== 'tfjs' && onnxRuntimeInstalled();
}

/**
 * The network in this thread on onnxruntime when it loads (unless BLURSPACE_LEARNED_RUNTIME=tfjs), else on
 * the TensorFlow.js backend already initialised. `threads` is onnxruntime's per tile: 1 when each core runs
 * tiles of its own (measured faster than two threads on one tile here).
 */
export async function loadMaximRunner(modelJson: string, threads = 1): Promise<MaximRunner> {
  const wanted = wantedRuntime();
  const ort = wanted === 'tfjs' ? 'BLURSPACE_LEARNED_RUNTIME=tfjs' : loadOnnxRuntime();
  if (typeof ort !== 'string') return onnxRunner(ort, modelJson, threads);
  if (wanted === 'onnx') throw new Error(`BLURSPACE_LEARNED_RUNTIME=onnx, but ${ort}`);
  const model = await loadMaxim(modelJson);
  return {
    runtime: 'tfjs',
    note: `TensorFlow.js (${ort})`,
    restore: (pixels, width, height) => maximRestore(model, pixels, width, height),
  };
}

/**
 * The network converted to ONNX for `width` x `height` tiles: the file kept in the cache folder (converted
 * now if it is not there yet), or the model's bytes when the cache cannot be written.
 */
export async function maximOnnxModel(
  modelJson: string,
  width: number,
  height: number,
): Promise<string | Uint8Array> {
  const key = createHash('sha256')
    .update(await readFile(modelJson))
    .update(`converter ${CONVERTER_VERSION}`)
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir(), `maxim-${key}-${width}x${height}.onnx`);
  if (existsSync(file)) return file;
  const artifacts = await readMaximArtifacts(modelJson);
  const graph = await loadMaxim(artifacts);
  let bytes: Uint8Array;
  try {
    bytes = maximToOnnx(artifacts, graph, width, height);
  } finally {
    graph.dispose();
  }
  // A cache that cannot be written only costs the conversion (seconds) next time.
  await mkdir(path.dirname(file), { recursive: true })
    .then(() => writeFileAtomic(file, bytes))
    .catch(() => undefined);
  return bytes;
}

/**
 * The arithmetic of one `width` x `height` tile of the network, counted on its ONNX graph (onnx-flops.ts):
 * ~341 GFLOP at 256x256, 97.6 % of it in convolutions and matrix products (decision 0020, amendment
 * "speed bound").
 */
export async function maximTileFlops(modelJson: string, width: number, height: number): Promise<OnnxFlops> {
  const model = await maximOnnxModel(modelJson, width, height);
  return onnxFlops(typeof model === 'string' ? await readFile(model) : model);
}

function onnxRunner(ort: OrtModule, modelJson: string, threads: number): MaximRunner {
  const sessions = new Map<string, Promise<OrtSession>>();
  const open = async (width: number, height: number): Promise<OrtSession> => {
    const options = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Planning memory from the first run costs 0.75 GB more per worker (1.77 against 1.02 GB peak) for no
      // speed measurable here (decision 0020, amendment).
      enableMemPattern: false,
    };
    return ort.InferenceSession.create(await maximOnnxModel(modelJson, width, height), options);
  };
  return {
    runtime: 'onnxruntime',
    note: `onnxruntime ${threads} thread${threads === 1 ? '' : 's'} a tile`,
    async restore(pixels, width, height) {
      checkMaximSize(width, height);
      const size = `${width}x${height}`;
      if (!sessions.has(size)) {
        const session = open(width, height);
        session.catch(() => sessions.delete(size));
        sessions.set(size, session);
      }
      const session = await sessions.get(size)!;
      const input = new ort.Tensor('float32', pixels, [1, height, width, 3]);
      const output = await session.run({ [ONNX_INPUT]: input });
      return output[ONNX_OUTPUT]!.data as Float32Array;
    },
  };
}
