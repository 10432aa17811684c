// The restorer's training inputs as the app hands them to it: fast mode's result on the blurry photo (its
// deconvolution, or the photo itself where the blur estimate fails), moved onto the sharp frame so that the
// restorer learns to remove what the deconvolution leaves (residual blur, ringing, amplified noise) and not to
// guess a shift it cannot see.
import { bestShift, shiftImage } from '../deblur/image-ops';
import { FAST_DEFAULTS, fastDeblur } from '../deblur/fast-mode';
import type { PairBatch, TrainingData } from './trainer';

const quiet = { signal: new AbortController().signal, progress: () => undefined };

async function fastModeBatch(batch: PairBatch): Promise<PairBatch> {
  const pixels = batch.size * batch.size * 3;
  const blurry = new Float32Array(batch.blurry.length);
  for (let i = 0; i < batch.count; i++) {
    const pair = (data: Float32Array) => ({
      width: batch.size,
      height: batch.size,
      channels: 3,
      data: data.subarray(i * pixels, (i + 1) * pixels),
    });
    const sharp = pair(batch.sharp);
    const { image } = await fastDeblur(pair(batch.blurry), FAST_DEFAULTS, quiet);
    const { dx, dy } = bestShift(image, sharp);
    blurry.set(shiftImage(image, dx, dy).data, i * pixels);
  }
  return { ...batch, blurry };
}

/** `data` with every blurry image (training and validation) replaced by fast mode's result on it. */
export function withFastModeInputs(data: TrainingData): TrainingData {
  let validation: Promise<Map<string, PairBatch>> | undefined;
  return {
    batch: async (step) => fastModeBatch(await data.batch(step)),
    validation: () =>
      (validation ??= (async () => {
        const sets = new Map<string, PairBatch>();
        for (const [kind, batch] of await data.validation()) sets.set(kind, await fastModeBatch(batch));
        return sets;
      })()),
  };
}
