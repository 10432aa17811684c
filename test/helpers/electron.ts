export { findElectronBinary } from '../../scripts/electron-binary.js';

export const ELECTRON_MISSING =
  'Electron binary absent (node_modules/electron/dist): `npm start` downloads it on first run, which needs internet';
