// Tests of the engine host and the web bridge run the real built worker: build once if it is missing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUILT_WORKER } from '../helpers/paths';

export default function setup(): void {
  if (!existsSync(BUILT_WORKER)) execFileSync('npx', ['electron-vite', 'build'], { stdio: 'inherit' });
}
