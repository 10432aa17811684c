// The renderer's only door to the app: one small global, `window.blurspace`. Types only are imported,
// so the sandboxed preload needs nothing but Electron's own modules.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { BlurspaceApi, EngineEvent } from '../common/api';

const api: BlurspaceApi = {
  transport: 'electron',
  call: (method, params) => ipcRenderer.invoke('blurspace:call', method, params),
  onEvent(listener) {
    const handler = (_event: unknown, payload: EngineEvent): void => listener(payload);
    ipcRenderer.on('blurspace:event', handler);
    return () => void ipcRenderer.removeListener('blurspace:event', handler);
  },
  pathForFile: async (file) => webUtils.getPathForFile(file),
};

contextBridge.exposeInMainWorld('blurspace', api);
