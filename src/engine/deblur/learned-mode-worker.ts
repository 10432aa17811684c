// A learned-mode worker (see core/tile-threads.ts): its own copy of the network (from the model.json in its
// workerData) on onnxruntime when installed, else on its own wasm backend (model/maxim-runtime.ts), and the
// network's result for each tile it is sent, one at a time. With onnxruntime it runs as a child process, so
// a cancel can kill it in the middle of a native run.
import { initBackend } from '../core/backend';
import { serveTiles, tileWorkerData } from '../core/tile-threads';
import { loadMaximRunner } from '../model/maxim-runtime';
import type { NetworkTile } from './learned-mode';

serveTiles<NetworkTile>(async () => {
  // wasm also converts the graph for onnxruntime (its size-dependent constants).
  await initBackend('wasm');
  const network = await loadMaximRunner(tileWorkerData() as string);
  return ({ pixels, width, height }) => network.restore(pixels, width, height);
});
