// The renderer's handle on the engine: Electron's preload global when present, else the web bridge.
import type { BlurspaceApi } from '../../../common/api';
import { connectWebBridge } from './web-transport';

declare global {
  interface Window {
    blurspace?: BlurspaceApi;
  }
}

export const api: BlurspaceApi = window.blurspace ?? connectWebBridge();
