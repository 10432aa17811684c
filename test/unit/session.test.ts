// The saved library (session.json in the workspace): what comes back after a restart, and how it is written.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/common/api';
import { EngineHost } from '../../src/host/engine-host';
import { SettingsStore } from '../../src/host/settings';
import { SESSION_FILE, loadSession, saveSession } from '../../src/engine/session';

describe('session store', () => {
  let dir: string;
  let file: string;
  const touch = async (name: string): Promise<string> => {
    const target = path.join(dir, name);
    await writeFile(target, 'x');
    return target;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-session-'));
    file = path.join(dir, 'workspace', SESSION_FILE);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('starts empty when nothing was saved', async () => {
    expect(await loadSession(file)).toEqual({
      session: { photos: [], selected: 0, kernels: [] },
      dropped: [],
    });
  });

  it('gives back what was saved', async () => {
    const session: Session = {
      photos: [
        {
          versions: [
            { path: await touch('a.jpg'), label: 'Original' },
            { path: await touch('a-sharp.png'), label: 'deblurred (paper)' },
          ],
          shown: 1,
        },
      ],
      selected: 0,
      kernels: [{ path: await touch('shake.blurkernel'), name: 'street shake' }],
    };
    await saveSession(file, session);
    expect(await loadSession(file)).toEqual({ session, dropped: [] });
  });

  it('leaves out photos, versions and kernels whose files are gone, and says which', async () => {
    const kept = await touch('kept.jpg');
    const keptResult = await touch('kept-k.png');
    const keptKernel = await touch('kept.blurkernel');
    await saveSession(file, {
      photos: [
        {
          // The original is gone: the photo goes, with its versions.
          versions: [
            { path: path.join(dir, 'moved.jpg'), label: 'Original' },
            { path: keptResult, label: 'orphan' },
          ],
          shown: 0,
        },
        {
          versions: [
            { path: kept, label: 'Original' },
            { path: path.join(dir, 'deleted-result.png'), label: 'shake (spatial)' },
            { path: keptResult, label: 'shake (uniform)' },
          ],
          // The version shown was the one still there: it stays shown, at its new index.
          shown: 2,
        },
      ],
      selected: 1,
      kernels: [
        { path: path.join(dir, 'gone.blurkernel'), name: 'gone' },
        { path: keptKernel, name: 'kept' },
      ],
    });
    const { session, dropped } = await loadSession(file);
    expect(session).toEqual({
      photos: [
        {
          versions: [
            { path: kept, label: 'Original' },
            { path: keptResult, label: 'shake (uniform)' },
          ],
          shown: 1,
        },
      ],
      selected: 0,
      kernels: [{ path: keptKernel, name: 'kept' }],
    });
    expect(dropped).toEqual([
      'moved.jpg (photo, with 1 versions)',
      'shake (spatial) of kept.jpg (version)',
      'gone (kernel)',
    ]);
  });

  it('starts empty, and says so, when the file is damaged', async () => {
    await saveSession(file, { photos: [], selected: 0, kernels: [] });
    await writeFile(file, '{"photos": [ {"versi');
    const { session, dropped } = await loadSession(file);
    expect(session).toEqual({ photos: [], selected: 0, kernels: [] });
    expect(dropped[0]).toMatch(/damaged/);
  });

  it('writes atomically: readers never see a partial file, no temporary files are left', async () => {
    const photo = await touch('p.jpg');
    const big = (n: number): Session => ({
      photos: Array.from({ length: 2000 }, (_, i) => ({
        versions: [{ path: photo, label: `Original ${n}-${i}` }],
        shown: 0,
      })),
      selected: 0,
      kernels: [],
    });
    await saveSession(file, big(0));
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        JSON.parse(await readFile(file, 'utf8')); // throws on a half-written file
        reads++;
      }
    })();
    for (let n = 1; n <= 15; n++) await saveSession(file, big(n));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await loadSession(file)).session.photos[0]!.versions[0]!.label).toBe('Original 15-0');
    expect(await readdir(path.dirname(file))).toEqual([SESSION_FILE]);
  });

  it('refuses an invalid session and keeps the saved one', async () => {
    const photo = await touch('p.jpg');
    const good: Session = {
      photos: [{ versions: [{ path: photo, label: 'Original' }], shown: 0 }],
      selected: 0,
      kernels: [],
    };
    await saveSession(file, good);
    await expect(
      saveSession(file, { photos: [{ versions: [], shown: 0 }], selected: 0, kernels: [] }),
    ).rejects.toThrow();
    expect((await loadSession(file)).session).toEqual(good);
  });
});

describe('engine host: session and kernel library calls (no worker needed)', () => {
  let dir: string;
  let workspace: string;
  let host: EngineHost;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-session-host-'));
    workspace = path.join(dir, 'workspace');
    host = new EngineHost({
      workerPath: '/nonexistent/worker.js',
      settings: SettingsStore.load(null),
      workspaceDir: workspace,
    });
  });
  afterEach(async () => {
    await host.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('saves and loads the session in the workspace, validating it', async () => {
    const photo = path.join(dir, 'photo.jpg');
    await writeFile(photo, 'x');
    const session: Session = {
      photos: [{ versions: [{ path: photo, label: 'Original' }], shown: 0 }],
      selected: 0,
      kernels: [{ path: path.join(dir, 'gone.blurkernel'), name: 'gone' }],
    };
    await host.invoke('saveSession', { session });
    expect(JSON.parse(await readFile(path.join(workspace, SESSION_FILE), 'utf8'))).toEqual(session);
    expect(await host.invoke('loadSession', {})).toEqual({
      session: { ...session, kernels: [] },
      dropped: ['gone (kernel)'],
    });
    await expect(host.call('saveSession', { session: { photos: 'all of them' } })).rejects.toThrow(
      /Invalid parameters for "saveSession"/,
    );
  });

  it('keeps the tile size setting; older settings files get "auto"', async () => {
    expect((await host.invoke('getSettings', {})).tileSize).toBe('auto');
    expect((await host.invoke('setSettings', { tileSize: 1024 })).tileSize).toBe(1024);
    // Changing another setting leaves it alone.
    expect(await host.invoke('setSettings', { backend: 'cpu' })).toMatchObject({
      backend: 'cpu',
      tileSize: 1024,
    });
    await expect(host.call('setSettings', { tileSize: 700 })).rejects.toThrow(/Invalid parameters/);
    const old = path.join(dir, 'settings.json');
    await writeFile(old, JSON.stringify({ backend: 'wasm', checkpointPath: null }));
    expect(SettingsStore.load(old).get()).toEqual({
      backend: 'wasm',
      checkpointPath: null,
      tileSize: 'auto',
    });
  });

  it('deletes kernel files in the workspace only', async () => {
    await host.invoke('workspacePath', { baseName: 'x', extension: '.blurkernel' }); // creates the folder
    const inside = path.join(workspace, 'mine.blurkernel');
    const outside = path.join(dir, 'users.blurkernel');
    const notKernel = path.join(workspace, 'photo.png');
    for (const file of [inside, outside, notKernel]) await writeFile(file, '{}');
    expect(await host.invoke('deleteKernel', { path: outside })).toEqual({ deleted: false });
    expect(await host.invoke('deleteKernel', { path: notKernel })).toEqual({ deleted: false });
    // A path that only looks inside.
    const sneaky = path.join(workspace, '..', 'users.blurkernel');
    expect(await host.invoke('deleteKernel', { path: sneaky })).toEqual({ deleted: false });
    expect(await host.invoke('deleteKernel', { path: inside })).toEqual({ deleted: true });
    expect((await readdir(dir)).sort()).toEqual(['users.blurkernel', 'workspace']);
    expect(await readdir(workspace)).toEqual(['photo.png']);
    expect(await host.invoke('deleteKernel', { path: inside })).toEqual({ deleted: false });
  });
});
