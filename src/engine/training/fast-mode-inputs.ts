// The restorer's training inputs as the app hands them to it: fast mode's result on the blurry photo (its
// deconvolution, or the photo itself where the blur estimate fails), moved onto the sharp frame so that the
// restorer learns to remove what the deconvolution leaves (residual blur, ringing, amplified noise) and not to
// guess a shift it cannot see. Built, the next batch's inputs are made on a thread of their own while the
// trainer works on the current one.
import { bestShift, shiftImage } from '../deblur/image-ops';
import { FAST_DEFAULTS, fastDeblur } from '../deblur/fast-mode';
import { builtWorker, TileThreads, type TileMessage } from '../deblur/tile-workers';
import type { PairBatch, TrainingData } from './trainer';

/** One pair for fast mode: the blurry pixels (moved to the thread) and the sharp ones to align to. */
export interface FastModePair extends TileMessage {
  sharp: Float32Array;
  size: number;
}

const quiet = { signal: new AbortController().signal, progress: () => undefined };

/** Fast mode's result on a pair's blurry image, moved onto its sharp frame. */
export async function fastModeInput({ pixels, sharp, size }: FastModePair): Promise<Float32Array> {
  const image = (data: Float32Array) => ({ width: size, height: size, channels: 3, data });
  const result = (await fastDeblur(image(pixels), FAST_DEFAULTS, quiet)).image;
  const { dx, dy } = bestShift(result, image(sharp));
  return shiftImage(result, dx, dy).data;
}

/**
 * `data` with every blurry image (training and validation) replaced by fast mode's result on it. Call
 * `close` when done with it (it may hold a thread).
 */
export function withFastModeInputs(data: TrainingData): TrainingData & { close(): Promise<void> } {
  const file = builtWorker('fast-mode-worker');
  const thread = file ? new TileThreads(file, 1) : null;
  // The thread takes one pair at a time: pairs of the prefetched batch wait for the current batch's.
  let queue: Promise<unknown> = Promise.resolve();
  const run = (pair: FastModePair): Promise<Float32Array> => {
    if (!thread) return fastModeInput(pair);
    const result = queue.then(() => thread.run(pair));
    queue = result.catch(() => undefined);
    return result;
  };

  async function fastModeBatch(batch: PairBatch): Promise<PairBatch> {
    const pixels = batch.size * batch.size * 3;
    const blurry = new Float32Array(batch.blurry.length);
    for (let i = 0; i < batch.count; i++) {
      const pair = (buffer: Float32Array) => buffer.slice(i * pixels, (i + 1) * pixels);
      blurry.set(
        await run({ pixels: pair(batch.blurry), sharp: pair(batch.sharp), size: batch.size }),
        i * pixels,
      );
    }
    return { ...batch, blurry };
  }

  const pending = new Map<number, Promise<PairBatch>>();
  const start = (step: number) => {
    const made = pending.get(step) ?? data.batch(step).then(fastModeBatch);
    pending.set(step, made);
    return made;
  };
  let validation: Promise<Map<string, PairBatch>> | undefined;
  return {
    batch: async (step) => {
      const batch = start(step);
      pending.delete(step);
      // The next step's pairs are made while this one trains.
      if (thread) void start(step + 1).catch(() => undefined);
      return batch;
    },
    validation: () =>
      (validation ??= (async () => {
        const sets = new Map<string, PairBatch>();
        for (const [kind, batch] of await data.validation()) sets.set(kind, await fastModeBatch(batch));
        return sets;
      })()),
    close: async () => {
      await thread?.close();
    },
  };
}
