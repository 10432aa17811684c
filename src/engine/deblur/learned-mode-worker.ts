// A learned-mode thread (see core/tile-threads.ts): its own wasm backend and copy of the network (loaded
// from the model.json in workerData), the network's result for each tile it is sent, one at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../core/backend';
import { loadMaxim, maximRestore } from '../model/maxim';
import type { NetworkTile } from './learned-mode';

await initBackend('wasm');
const model = await loadMaxim(workerData as string);
parentPort!.on('message', async ({ pixels, width, height }: NetworkTile) => {
  const restored = await maximRestore(model, pixels, width, height);
  parentPort!.postMessage(restored, [restored.buffer as ArrayBuffer]);
});
