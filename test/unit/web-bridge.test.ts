import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { EngineHost } from '../../src/host/engine-host';
import { startWebBridge, type WebBridge } from '../../src/bridge/web-bridge';
import { startTestEngine, TEST_WORKSPACE } from '../helpers/engine';
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

  it('refuses jobs writing outside the allowed folders (nothing written) and runs them inside', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'blurspace-bridge-outputs-'));
    try {
      const photo = path.join(work, 'photo.png');
      await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } })
        .png()
        .toFile(photo);
      const allowed = path.join(work, 'allowed');
      const outside = path.join(work, 'outside');
      await mkdir(allowed);
      await mkdir(outside);
      engine.grantOutputFolder(allowed);
      const ws = await openSocket(`${wsUrl()}?token=${bridge.token}`);
      const ended = new Map<string, { type: string }>();
      ws.on('message', (data) => {
        const message = JSON.parse(String(data));
        if (message.kind === 'event' && /jobDone|jobFailed/.test(message.event.type))
          ended.set(message.event.jobId, message.event);
      });
      const startJob = (id: number, params: object) => request(ws, { id, method: 'startJob', params });

      const escapes = [
        { kind: 'exportPhoto', sourcePath: photo, outputPath: path.join(outside, 'x.png') },
        { kind: 'exportPhoto', sourcePath: photo, outputPath: `${allowed}/../outside/x.png` },
        { kind: 'batch', inputs: [photo], outDir: outside, preset: { kind: 'export' } },
      ];
      for (const [i, params] of escapes.entries()) {
        const reply = await startJob(10 + i, params);
        expect(reply).toMatchObject({ ok: false });
        expect(reply.error).toMatch(
          /did not write .*only writes into its workspace and the folders you allowed/,
        );
      }
      const dialog = await request(ws, { id: 20, method: 'chooseOutputFolder', params: {} });
      expect(dialog.error).toMatch(/Native dialogs are only in the desktop app/);
      // The browser learns where it may write (to suggest paths and to say how to add a folder).
      const outputs = await request(ws, { id: 21, method: 'outputFolders', params: {} });
      expect(outputs.ok).toBe(true);
      expect(outputs.value).toEqual({ folders: [allowed], workspace: TEST_WORKSPACE });

      const inside = [
        { kind: 'exportPhoto', sourcePath: photo, outputPath: path.join(allowed, 'x.png') },
        {
          kind: 'batch',
          inputs: [photo],
          outDir: path.join(allowed, 'new', 'batch'),
          preset: { kind: 'export' },
        },
      ];
      for (const [i, params] of inside.entries()) {
        const reply = await startJob(30 + i, params);
        expect(reply.ok).toBe(true);
        const { jobId } = reply.value as { jobId: string };
        await vi.waitFor(() => expect(ended.get(jobId)).toMatchObject({ type: 'jobDone' }), {
          timeout: 60_000,
          interval: 100,
        });
      }
      ws.close();
      expect(await readdir(outside)).toEqual([]);
      expect((await sharp(path.join(allowed, 'x.png')).metadata()).width).toBe(40);
      expect(await readdir(path.join(allowed, 'new', 'batch'))).toContain('photo-export.png');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
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
