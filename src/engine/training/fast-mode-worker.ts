// A thread that makes the restorer's fast-mode training inputs (fast-mode-inputs.ts), one pair at a time.
import { parentPort } from 'node:worker_threads';
import { fastModeInput, type FastModePair } from './fast-mode-inputs';

parentPort!.on('message', async (pair: FastModePair) => {
  const pixels = await fastModeInput(pair);
  parentPort!.postMessage(pixels, [pixels.buffer as ArrayBuffer]);
});
