// The web bridge transport: calls and events over one WebSocket, uploads over HTTP. The access token
// lives in an HttpOnly cookie set when the page was first opened with ?token=.
import type { BlurspaceApi, EngineEvent, ServerMessage } from '../../../common/api';

export function connectWebBridge(): BlurspaceApi {
  const listeners = new Set<(event: EngineEvent) => void>();
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let socket: Promise<WebSocket> | null = null;

  const connect = (): Promise<WebSocket> => {
    socket ??= new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('Cannot reach the Blurspace engine. Is `npm run serve` running?'));
      ws.onclose = () => {
        socket = null;
        for (const call of pending.values()) call.reject(new Error('The connection to the engine was lost.'));
        pending.clear();
      };
      ws.onmessage = (message) => {
        const data = JSON.parse(String(message.data)) as ServerMessage;
        if (data.kind === 'event') {
          for (const listener of listeners) listener(data.event);
          return;
        }
        const call = pending.get(data.id);
        pending.delete(data.id);
        if (data.ok) call?.resolve(data.value);
        else call?.reject(new Error(data.error));
      };
    });
    return socket;
  };

  return {
    transport: 'web',
    async call(method, params) {
      const ws = await connect();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      void connect().catch(() => undefined);
      return () => void listeners.delete(listener);
    },
    async pathForFile(file) {
      const response = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        body: file,
      });
      if (!response.ok) throw new Error(`Upload of ${file.name} failed: ${await response.text()}`);
      return ((await response.json()) as { path: string }).path;
    },
  };
}
