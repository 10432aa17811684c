// A learned-restorer thread (see core/tile-threads.ts): its own wasm backend and a copy of R's weights (the
// workerData), R's change for each tile it is sent, one at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../core/backend';
import { Restorer } from '../model/restorer';
import type { StateTensor } from '../model/parameters';
import { restorerChange, type RestorerTile } from './learned-restore';

await initBackend('wasm');
const restorer = Restorer.fromStateDict(workerData as Map<string, StateTensor>);
// Tiles come one at a time (core/tile-threads.ts waits for each answer), so they never overlap here.
parentPort!.on('message', async (tile: RestorerTile) => {
  const change = await restorerChange(restorer, tile);
  parentPort!.postMessage(change, [change.buffer as ArrayBuffer]);
});
