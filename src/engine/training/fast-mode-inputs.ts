// The restorer's training inputs as the app hands them to it: fast mode's result on the blurry photo (its
// deconvolution, or the photo itself where the blur estimate fails), moved onto the sharp frame so that the
// restorer learns to remove what the deconvolution leaves (residual blur, ringing, amplified noise) and not to
// guess a shift it cannot see. Built, the inputs are made on a thread of their own, two batches ahead of the
// trainer (whose steps block the calling thread).
import { bestShift, shiftImage } from '../deblur/image-ops';
import { FAST_DEFAULTS, fastDeblur } from '../deblur/fast-mode';
import { builtWorker, TileThreads, type TileMessage } from '../core/tile-threads';
import type { PairBatch, TrainingData } from './trainer';

/** A batch for fast mode: the blurry pixels (moved to the thread) and the sharp ones to align to. */
export interface FastModeBatch extends TileMessage {
  sharp: Float32Array;
  size: number;
  count: number;
}

const quiet = { signal: new AbortController().signal, progress: () => undefined };
/** Batches made ahead of the one the trainer asks for. */
const AHEAD = 2;

/** Fast mode's result on each blurry image of a batch, moved onto its sharp frame. */
export async function fastModeInputs({ pixels, sharp, size, count }: FastModeBatch): Promise<Float32Array> {
  const per = size * size * 3;
  const image = (data: Float32Array, i: number) => ({
    width: size,
    height: size,
    channels: 3,
    data: data.subarray(i * per, (i + 1) * per),
  });
  const inputs = new Float32Array(pixels.length);
  for (let i = 0; i < count; i++) {
    const result = (await fastDeblur(image(pixels, i), FAST_DEFAULTS, quiet)).image;
    const { dx, dy } = bestShift(result, image(sharp, i));
    inputs.set(shiftImage(result, dx, dy).data, i * per);
  }
  return inputs;
}

/**
 * `data` with every blurry image (training and validation) replaced by fast mode's result on it. Call
 * `close` when done with it (it may hold a thread).
 */
export function withFastModeInputs(data: TrainingData): TrainingData & { close(): Promise<void> } {
  const file = builtWorker('fast-mode-worker');
  // One batch at a time on the thread: later ones wait their turn.
  const thread = file ? new TileThreads(file, 1) : null;
  const run = (batch: FastModeBatch): Promise<Float32Array> =>
    thread ? thread.run(batch) : fastModeInputs(batch);
  const withInputs = async (batch: PairBatch): Promise<PairBatch> => ({
    ...batch,
    blurry: await run({
      pixels: batch.blurry.slice(),
      sharp: batch.sharp,
      size: batch.size,
      count: batch.count,
    }),
  });

  const pending = new Map<number, Promise<PairBatch>>();
  const start = (step: number) => {
    const made = pending.get(step) ?? data.batch(step).then(withInputs);
    pending.set(step, made);
    return made;
  };
  let validation: Promise<Map<string, PairBatch>> | undefined;
  return {
    batch: async (step) => {
      const batch = start(step);
      pending.delete(step);
      if (thread)
        for (let next = step + 1; next <= step + AHEAD; next++) void start(next).catch(() => undefined);
      return batch;
    },
    validation: () =>
      (validation ??= (async () => {
        const sets = new Map<string, PairBatch>();
        for (const [kind, batch] of await data.validation()) sets.set(kind, await withInputs(batch));
        return sets;
      })()),
    close: async () => {
      await thread?.close();
    },
  };
}
