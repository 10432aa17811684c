// The same core flow in the real desktop app. Needs Electron's binary, which cannot be downloaded offline.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import sharp from 'sharp';
import { ELECTRON_MISSING, findElectronBinary } from '../helpers/electron';
import { REPO_ROOT } from '../helpers/paths';
import { kernelFlow, makeFixtures, useCheckpoint } from './flow';

const binary = findElectronBinary();

test('desktop app: opens photos (native dialog), reads and applies a kernel, compares and exports', async () => {
  test.skip(binary === null, ELECTRON_MISSING);
  test.setTimeout(180_000);
  const files = await makeFixtures();
  const app = await electron.launch({
    executablePath: binary!,
    // Exports go beside the test photos: allow that folder (a dialog cannot be clicked in a test).
    args: [path.join(REPO_ROOT, 'out', 'main', 'index.js'), '--no-sandbox', '--output-dir', files.dir],
    // A fresh profile (userData: settings, workspace, the saved library), so no earlier run is restored.
    env: { ...(process.env as Record<string, string>), XDG_CONFIG_HOME: path.join(files.dir, 'config') },
  });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId('backend')).toHaveText(/wasm|cpu|tensorflow/);
    // The renderer has no Node: the preload's one global is all it sees.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    await useCheckpoint(page, files.checkpoint);
    // "Open photos…" is the native dialog here: answer it from the main process as the user would.
    const photos = [files.sharp, files.blurry, files.other];
    await app.evaluate(({ dialog }, filePaths) => {
      Object.assign(dialog, { showOpenDialog: async () => ({ canceled: false, filePaths }) });
    }, photos);
    await expect(page.getByTestId('open-photos')).toHaveCount(0);
    await page.getByTestId('choose-photos').click();
    await expect(page.getByTestId('thumb')).toHaveCount(photos.length, { timeout: 30_000 });
    const exported = await kernelFlow(page, test.info(), files);
    expect(await sharp(exported).metadata()).toMatchObject({ width: 301, height: 283, depth: 'ushort' });
    await expect(page.getByTestId('export-save-as')).toBeVisible();
    // "Show in folder" opens the system's file manager on the exported file (recorded, not opened).
    await app.evaluate(({ shell }) => {
      Object.assign(shell, {
        showItemInFolder: (file: string) => ((globalThis as { shown?: string }).shown = file),
      });
    });
    await page.getByTestId('export-show').click();
    await expect.poll(() => app.evaluate(() => (globalThis as { shown?: string }).shown)).toBe(exported);
    await expect(page.getByTestId('export-allowed')).toHaveCount(0);
  } finally {
    await app.close();
    await rm(files.dir, { recursive: true, force: true });
  }
});
