// Picks the TensorFlow.js backend: libtensorflow with a GPU when it loads, else WebAssembly, else plain JS.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendName, BackendPreference } from '../../common/api';

export interface BackendStatus {
  backend: BackendName;
  gpu: boolean;
  device: string;
  /** Why this backend was chosen, including what failed before it. */
  note: string;
}

// Loaded through a variable so bundlers and the type checker never need the optional package.
const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';

async function loadTensorflowBackend(): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ TFJS_NODE_GPU);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new Error(`not installed (${TFJS_NODE_GPU}; it needs internet access at install time)`, {
        cause: error,
      });
    throw error;
  }
  return tf.setBackend('tensorflow');
}

function cpuDescription(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'CPU'} (${cpus.length} cores)`;
}

export function preferenceFromEnvironment(setting: BackendPreference): BackendPreference {
  const fromEnv = process.env.BLURSPACE_BACKEND;
  if (!fromEnv) return setting;
  if (['auto', 'gpu', 'wasm', 'cpu'].includes(fromEnv)) return fromEnv as BackendPreference;
  throw new Error(`BLURSPACE_BACKEND="${fromEnv}" is not one of auto, gpu, wasm, cpu.`);
}

/** Initialises tfjs once per thread. `gpu` means "libtensorflow", which uses CUDA when present. */
export async function initBackend(preference: BackendPreference): Promise<BackendStatus> {
  const failures: string[] = [];
  const order: BackendName[] =
    preference === 'gpu' || preference === 'auto'
      ? ['tensorflow', 'wasm', 'cpu']
      : preference === 'wasm'
        ? ['wasm', 'cpu']
        : ['cpu'];
  for (const name of order) {
    try {
      const ok = name === 'tensorflow' ? await loadTensorflowBackend() : await tf.setBackend(name);
      if (!ok) throw new Error('backend refused to initialise');
      await tf.ready();
      const gpu =
        name === 'tensorflow' && Boolean((tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice);
      const device = gpu ? 'GPU (CUDA through libtensorflow)' : cpuDescription();
      const why = failures.length ? ` (${failures.join('; ')})` : '';
      return { backend: name, gpu, device, note: `${name} selected for preference "${preference}"${why}` };
    } catch (error) {
      failures.push(`${name} unavailable: ${firstLine(error)}`);
    }
  }
  throw new Error(`No TensorFlow.js backend could start: ${failures.join('; ')}`);
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.slice(0, 200);
}
