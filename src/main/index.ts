// Electron main process: one window, the engine host, and the IPC wiring between them.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { app, BrowserWindow, ipcMain, session } from 'electron';
import type { EngineEvent } from '../common/api';
import { answerDialog, isDialogCall } from './dialogs';
import { EngineHost } from '../host/engine-host';
import { PRELOAD_PATH, RENDERER_DIR, WORKER_PATH } from '../host/paths';
import { SettingsStore } from '../host/settings';

const CALL_CHANNEL = 'blurspace:call';
const EVENT_CHANNEL = 'blurspace:event';

function createWindow(engine: EngineHost): BrowserWindow {
  const window = new BrowserWindow({
    width: 1400,
    height: 900,
    backgroundColor: '#1e1e1e',
    title: 'Blurspace',
    show: false,
    webPreferences: {
      preload: PRELOAD_PATH,
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      spellcheck: false,
      // Middle-click must not open new windows either.
      disableBlinkFeatures: 'Auxclick',
    },
  });
  window.once('ready-to-show', () => window.show());
  // No navigation away from the app and no new windows: nothing outside the app is ever loaded.
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const unsubscribe = engine.onEvent((event: EngineEvent) => {
    if (!window.isDestroyed()) window.webContents.send(EVENT_CHANNEL, event);
  });
  window.on('closed', unsubscribe);
  const devUrl = process.env.ELECTRON_RENDERER_URL;
  if (devUrl && !app.isPackaged) void window.loadURL(devUrl);
  else void window.loadFile(path.join(RENDERER_DIR, 'index.html'));
  return window;
}

void app.whenReady().then(() => {
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  const settings = SettingsStore.load(path.join(app.getPath('userData'), 'settings.json'));
  const engine = new EngineHost({
    workerPath: WORKER_PATH,
    settings,
    workspaceDir: path.join(app.getPath('userData'), 'workspace'),
    // Jobs write into the workspace and the folders the user picks in a native dialog (or names here).
    outputDirs: outputDirsFromCommandLine(),
    outputHint: () => 'Pick the destination with the app’s folder or save dialog: that allows its folder.',
  });
  // Only our own window's top frame may call the engine; the payload is validated by the host.
  ipcMain.handle(CALL_CHANNEL, (event, method: unknown, params: unknown) => {
    const frame = event.senderFrame;
    if (!frame || frame !== event.sender.mainFrame)
      throw new Error('Calls are accepted from the app window only.');
    const window = BrowserWindow.fromWebContents(event.sender);
    if (window && isDialogCall(method)) return answerDialog(window, engine, method, params);
    return engine.call(method, params);
  });
  createWindow(engine);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow(engine);
  });
  app.on('window-all-closed', () => {
    void engine.close().then(() => app.quit());
  });
});

/** `--output-dir DIR` (repeatable) allows a folder from the start, as `npm run serve` does. */
function outputDirsFromCommandLine(): string[] {
  const { values } = parseArgs({
    args: process.argv.slice(app.isPackaged ? 1 : 2),
    options: { 'output-dir': { type: 'string', multiple: true } },
    strict: false,
    allowPositionals: true,
  });
  return [values['output-dir'] ?? []].flat().filter((dir) => typeof dir === 'string');
}
