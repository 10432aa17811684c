// The web bridge: a loopback HTTP + WebSocket server that serves the renderer and exposes the same API
// as Electron's IPC, so the UI runs in any Chromium (and end-to-end tests run without Electron).
// A random token guards every request; the browser trades it for a same-site cookie on first load.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { ClientMessage, type ServerMessage } from '../common/api';
import type { EngineHost } from '../host/engine-host';
import { CONTENT_SECURITY_POLICY } from '../host/security';

export interface WebBridgeOptions {
  engine: EngineHost;
  rendererDir: string;
  host?: string;
  port?: number;
  /** Binding to anything but loopback exposes the engine to the network; it must be asked for. */
  allowRemote?: boolean;
  token?: string;
  maxUploadBytes?: number;
}

export interface WebBridge {
  url: string;
  /** The address to open, with the token. */
  openUrl: string;
  token: string;
  uploadDir: string;
  close(): Promise<void>;
}

const COOKIE = 'blurspace_token';
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

export async function startWebBridge(options: WebBridgeOptions): Promise<WebBridge> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host) && !options.allowRemote) {
    throw new Error(
      `Refusing to serve on ${host}: the web bridge only listens on loopback (127.0.0.1) unless ` +
        'you pass --allow-remote, which lets anyone on the network with the token use this engine.',
    );
  }
  const token = options.token ?? randomBytes(24).toString('base64url');
  const uploadDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'blurspace-uploads-'));
  const maxUploadBytes = options.maxUploadBytes ?? 2 * 1024 ** 3;
  const rendererDir = path.resolve(options.rendererDir);
  let origin = '';

  const authorised = (req: http.IncomingMessage, url: URL): boolean => {
    const offered = url.searchParams.get('token') ?? readCookie(req.headers.cookie, COOKIE);
    return offered !== null && safeEqual(offered, token);
  };
  // Blocks DNS-rebinding: a page on another site resolving its name to 127.0.0.1 sends its own Host.
  const hostAllowed = (req: http.IncomingMessage): boolean =>
    options.allowRemote === true || isLoopback(hostName(req.headers.host ?? ''));

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      if (!hostAllowed(req)) return send(res, 403, 'Forbidden host.');
      if (!authorised(req, url)) {
        return send(res, 401, 'Blurspace: this address needs the token printed by `npm run serve`.');
      }
      if (url.searchParams.has('token')) {
        res.setHeader('Set-Cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
        res.writeHead(303, { Location: '/' });
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/api/upload') {
        return upload(req, res, url, uploadDir, maxUploadBytes);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed.');
      return serveStatic(res, rendererDir, url.pathname);
    })().catch((error: Error) => send(res, 500, error.message));
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin);
    const sameOrigin = req.headers.origin === undefined || req.headers.origin === origin;
    if (url.pathname !== '/api/ws' || !hostAllowed(req) || !sameOrigin || !authorised(req, url)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => serveSocket(ws, options.engine));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('The web bridge could not bind.');
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${shownHost}:${address.port}`;

  return {
    url: origin,
    openUrl: `${origin}/?token=${token}`,
    token,
    uploadDir,
    async close() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fsp.rm(uploadDir, { recursive: true, force: true });
    },
  };
}

function serveSocket(ws: WebSocket, engine: EngineHost): void {
  const send = (message: ServerMessage): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const unsubscribe = engine.onEvent((event) => send({ kind: 'event', event }));
  ws.on('close', unsubscribe);
  ws.on('message', (data) => {
    let message: ClientMessage;
    try {
      message = ClientMessage.parse(JSON.parse(String(data)));
    } catch {
      ws.close(1003, 'Malformed message');
      return;
    }
    engine.call(message.method, message.params).then(
      (value) => send({ kind: 'result', id: message.id, ok: true, value }),
      (error: Error) => send({ kind: 'result', id: message.id, ok: false, error: error.message }),
    );
  });
}

async function upload(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  uploadDir: string,
  maxBytes: number,
): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (!Number.isFinite(declared)) return send(res, 411, 'Content-Length is required.');
  if (declared > maxBytes) return send(res, 413, `Files over ${maxBytes} bytes are not accepted.`);
  // Keep the user's file name (it shows in the UI) but never let it choose a folder.
  const name = path.basename(url.searchParams.get('name') ?? 'photo').replace(/[\0/\\]/g, '_') || 'photo';
  const folder = path.join(uploadDir, randomUUID());
  await fsp.mkdir(folder);
  const target = path.join(folder, name);
  await pipeline(req, fs.createWriteStream(target));
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ path: target }));
}

async function serveStatic(res: http.ServerResponse, root: string, pathname: string): Promise<void> {
  const relative = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  if (!file.startsWith(root + path.sep)) return send(res, 404, 'Not found.');
  const data = await fsp.readFile(file).catch(() => null);
  if (!data) return send(res, 404, 'Not found.');
  res.writeHead(200, {
    'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
  });
  res.end(data);
}

function send(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function readCookie(header: string | undefined, name: string): string | null {
  for (const part of header?.split(';') ?? []) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return null;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function hostName(hostHeader: string): string {
  return hostHeader.startsWith('[')
    ? hostHeader.slice(1, hostHeader.indexOf(']'))
    : hostHeader.split(':')[0]!;
}
