// Fast mode's second blur estimate on a thread of its own, beside the first (fast-mode.ts, `secondEstimate`).
import { parentPort, workerData } from 'node:worker_threads';
import { estimateBlur, type EstimateInput } from './fast-mode';

const quiet = { signal: new AbortController().signal, progress: () => undefined };
parentPort!.postMessage(await estimateBlur(workerData as EstimateInput, quiet));
