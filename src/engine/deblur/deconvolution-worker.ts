// A deconvolution thread (see core/tile-threads.ts): restores the tiles it is sent, one at a time.
import { parentPort } from 'node:worker_threads';
import { restoreExtent, type ExtentJob } from './deconvolution';

parentPort!.on('message', (job: ExtentJob) => {
  const pixels = restoreExtent(job);
  parentPort!.postMessage(pixels, [pixels.buffer as ArrayBuffer]);
});
