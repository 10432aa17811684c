// Where Electron's binary is, found without require('electron'): that require downloads the binary when it is
// absent. Used by `npm start` and the end-to-end tests.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ELECTRON_PACKAGE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'node_modules',
  'electron',
);

/** Electron's binary if its package has downloaded it (path.txt names it inside dist/), else null. */
export function findElectronBinary() {
  const pathFile = path.join(ELECTRON_PACKAGE, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = path.join(ELECTRON_PACKAGE, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}
