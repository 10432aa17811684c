// Where the built files are, for entry points bundled into out/main/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const WORKER_PATH = path.join(here, 'engine-worker.js');
export const RENDERER_DIR = path.join(here, '..', 'renderer');
export const PRELOAD_PATH = path.join(here, '..', 'preload', 'index.cjs');
