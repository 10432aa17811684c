import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths';

/** Electron's binary if its package has downloaded it; found without require('electron'), which would try. */
export function findElectronBinary(): string | null {
  const pkg = path.join(REPO_ROOT, 'node_modules', 'electron');
  const pathFile = path.join(pkg, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = path.join(pkg, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}

export const ELECTRON_MISSING =
  'Electron binary absent (node_modules/electron/dist): it is downloaded on first use, which needs internet';
