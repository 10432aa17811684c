import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILT_WORKER = path.join(REPO_ROOT, 'out', 'main', 'engine-worker.js');
export const BUILT_RENDERER = path.join(REPO_ROOT, 'out', 'renderer');
/**
 * ../shared/data beside the project, or BLURSPACE_DATA as for the app; the few tests about that data skip with
 * a clear message when it is absent (BLURSPACE_DATA=/nonexistent shows which).
 */
export const SHARED_DATA = process.env.BLURSPACE_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
export const HAS_SHARED_DATA = existsSync(SHARED_DATA);
export const SHARED_DATA_MISSING = `../shared/data not found at ${SHARED_DATA}`;
