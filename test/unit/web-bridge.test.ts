import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EngineHost } from '../../src/main/engine-host';
import { startWebBridge, type WebBridge } from '../../src/main/web-bridge';
import { startTestEngine } from '../helpers/engine';
import { BUILT_RENDERER } from '../helpers/paths';

function openSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function request(ws: WebSocket, message: unknown): Promise<{ ok: boolean; value?: unknown; error?: string }> {
  return new Promise((resolve) => {
    ws.on('message', function onMessage(data) {
      const reply = JSON.parse(String(data));
      if (reply.kind !== 'result') return;
      ws.off('message', onMessage);
      resolve(reply);
    });
    ws.send(JSON.stringify(message));
  });
}

describe('web bridge', () => {
  let engine: EngineHost;
  let bridge: WebBridge;
  const wsUrl = (): string => `${bridge.url.replace('http', 'ws')}/api/ws`;

  beforeAll(async () => {
    engine = startTestEngine();
    bridge = await startWebBridge({ engine, rendererDir: BUILT_RENDERER });
  });
  afterAll(async () => {
    await bridge.close();
    await engine.close();
  });

  it('listens on loopback only', () => {
    expect(new URL(bridge.url).hostname).toBe('127.0.0.1');
  });

  it('answers 401 without the token, for pages, uploads and the socket', async () => {
    expect((await fetch(`${bridge.url}/`)).status).toBe(401);
    expect((await fetch(`${bridge.url}/?token=wrong`)).status).toBe(401);
    expect((await fetch(`${bridge.url}/api/upload?name=a.jpg`, { method: 'POST', body: 'x' })).status).toBe(
      401,
    );
    await expect(openSocket(wsUrl())).rejects.toThrow('HTTP 401');
  });

  it('serves the app with the token and sets a same-site cookie', async () => {
    const first = await fetch(bridge.openUrl, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict/);
    const page = await fetch(`${bridge.url}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<div id="app">');
  });

  it('refuses a foreign Host header (DNS rebinding) and a foreign Origin on the socket', async () => {
    // fetch() may not set Host, so this request goes through node:http.
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(bridge.openUrl, { headers: { host: 'evil.example' } }, (res) => resolve(res.statusCode ?? 0))
        .on('error', reject);
    });
    expect(status).toBe(403);
    await expect(
      openSocket(`${wsUrl()}?token=${bridge.token}`, { origin: 'https://evil.example' }),
    ).rejects.toThrow('HTTP 401');
  });

  it('refuses to bind a non-loopback address unless asked explicitly', async () => {
    await expect(startWebBridge({ engine, rendererDir: BUILT_RENDERER, host: '0.0.0.0' })).rejects.toThrow(
      /only listens on loopback.*--allow-remote/,
    );
    const open = await startWebBridge({
      engine,
      rendererDir: BUILT_RENDERER,
      host: '0.0.0.0',
      allowRemote: true,
    });
    expect(new URL(open.url).hostname).toBe('0.0.0.0');
    await open.close();
  });

  it('runs API calls over the socket and rejects invalid payloads', async () => {
    const ws = await openSocket(`${wsUrl()}?token=${bridge.token}`);
    const info = await request(ws, { id: 1, method: 'info', params: {} });
    expect(info.ok).toBe(true);
    expect(info.value).toMatchObject({ versions: { tfjs: '4.22.0' } });
    const bad = await request(ws, { id: 2, method: 'startJob', params: { kind: 'formatDisk' } });
    expect(bad).toMatchObject({ ok: false });
    expect(bad.error).toMatch(/Invalid parameters for "startJob"/);
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.send('not json');
    expect(await closed).toBe(1003);
  });

  it('keeps uploads inside its own folder whatever the file name says', async () => {
    const response = await fetch(`${bridge.url}/api/upload?name=${encodeURIComponent('../../etc/passwd')}`, {
      method: 'POST',
      body: 'hello',
      headers: { cookie: `blurspace_token=${bridge.token}` },
    });
    expect(response.status).toBe(200);
    const { path: saved } = (await response.json()) as { path: string };
    expect(saved.startsWith(bridge.uploadDir + path.sep)).toBe(true);
    expect(path.basename(saved)).toBe('passwd');
    expect(await readFile(saved, 'utf8')).toBe('hello');
  });
});
