// `npm start` (`node scripts/start.js preview`: builds and starts the desktop app) and `npm run dev`
// (`... dev`). Electron's package no longer downloads its binary when it is installed, and electron-vite does
// not download it either, so the first run fetches it here.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ELECTRON_PACKAGE, findElectronBinary } from './electron-binary.js';

function downloadElectron() {
  console.log("Downloading Electron's binary (first run only)...");
  // Electron's own installer; its stack trace on failure is replaced by one line of reason below.
  const result = spawnSync(process.execPath, [path.join(ELECTRON_PACKAGE, 'install.js')], {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
  });
  const binary = result.status === 0 ? findElectronBinary() : null;
  if (binary) return binary;
  const reason =
    (result.stderr ?? '').trim().split('\n')[0] || result.error?.message || `exit ${result.status}`;
  console.error(
    `Electron's binary could not be downloaded (no internet?). The same UI runs in a browser: npm run serve\n` +
      `  (${reason})`,
  );
  return null;
}

const binary = findElectronBinary() ?? downloadElectron();
if (binary === null) process.exit(1);

const electronVite = path.join(path.dirname(ELECTRON_PACKAGE), 'electron-vite', 'bin', 'electron-vite.js');
const app = spawnSync(process.execPath, [electronVite, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, ELECTRON_EXEC_PATH: binary },
});
process.exit(app.status ?? 1);
