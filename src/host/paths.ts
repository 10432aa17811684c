// Where the built files are, for entry points bundled into out/main/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The checkout (or the unpacked app): out/main is two levels below it. */
export const APP_ROOT = path.join(here, '..', '..');
export const WORKER_PATH = path.join(here, 'engine-worker.js');
export const RENDERER_DIR = path.join(here, '..', 'renderer');
export const PRELOAD_PATH = path.join(here, '..', 'preload', 'index.cjs');

/** The shipped models: resources/checkpoints in a checkout, the app's resources folder when packaged. */
const CHECKPOINT_DIR =
  (process as { resourcesPath?: string }).resourcesPath && !process.env.BLURSPACE_DEV
    ? path.join((process as { resourcesPath?: string }).resourcesPath!, 'checkpoints')
    : path.join(APP_ROOT, 'resources', 'checkpoints');
export const DEFAULT_CHECKPOINT = path.join(CHECKPOINT_DIR, 'blurspace-default.safetensors');
/** The same network with the VAE prior, for sampling new blurs (generate-blur). */
export const DEFAULT_VAE_CHECKPOINT = path.join(CHECKPOINT_DIR, 'blurspace-vae.safetensors');

/** The learned restorer fast mode runs when asked (`learned`). */
export const DEFAULT_RESTORER = path.join(CHECKPOINT_DIR, 'blurspace-restorer.safetensors');

/** Training and benchmark data: ../shared/data beside the checkout, or BLURSPACE_DATA. */
export const SHARED_DATA_DIR = process.env.BLURSPACE_DATA ?? path.join(APP_ROOT, '..', 'shared', 'data');
