// The same core flow in the real desktop app. Needs Electron's binary, which cannot be downloaded offline.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import sharp from 'sharp';
import { ELECTRON_MISSING, findElectronBinary } from '../helpers/electron';
import { HAS_SHARED_DATA, REPO_ROOT, SHARED_DATA_MISSING } from '../helpers/paths';
import { kernelFlow, makeFixtures, openPhotos, useCheckpoint } from './flow';

const binary = findElectronBinary();

test('desktop app: opens photos, reads and applies a kernel, compares and exports', async () => {
  test.skip(binary === null, ELECTRON_MISSING);
  test.skip(!HAS_SHARED_DATA, SHARED_DATA_MISSING);
  test.setTimeout(180_000);
  const files = await makeFixtures();
  const app = await electron.launch({
    executablePath: binary!,
    args: [path.join(REPO_ROOT, 'out', 'main', 'index.js'), '--no-sandbox'],
  });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId('backend')).toHaveText(/wasm|cpu|tensorflow/);
    // The renderer has no Node: the preload's one global is all it sees.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    await useCheckpoint(page, files.checkpoint);
    await openPhotos(page, [files.sharp, files.blurry, files.other]);
    const exported = await kernelFlow(page, test.info(), files);
    expect(await sharp(exported).metadata()).toMatchObject({ width: 301, height: 283, depth: 'ushort' });
  } finally {
    await app.close();
    await rm(files.dir, { recursive: true, force: true });
  }
});
