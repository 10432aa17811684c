// A thread that makes the restorer's fast-mode training inputs (fast-mode-inputs.ts), one batch at a time.
import { parentPort } from 'node:worker_threads';
import { fastModeInputs, type FastModeBatch } from './fast-mode-inputs';

parentPort!.on('message', async (batch: FastModeBatch) => {
  const inputs = await fastModeInputs(batch);
  parentPort!.postMessage(inputs, [inputs.buffer as ArrayBuffer]);
});
