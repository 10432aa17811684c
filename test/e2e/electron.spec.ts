// The same flow in the real desktop app. Needs Electron's binary, which cannot be downloaded offline.
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import { ELECTRON_MISSING, findElectronBinary } from '../helpers/electron';
import { HAS_SHARED_DATA, REPO_ROOT, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';

const binary = findElectronBinary();

test('desktop app: loads, shows the backend, displays a photo opened from disk', async () => {
  test.skip(binary === null, ELECTRON_MISSING);
  test.skip(!HAS_SHARED_DATA, SHARED_DATA_MISSING);
  const app = await electron.launch({
    executablePath: binary!,
    args: [path.join(REPO_ROOT, 'out', 'main', 'index.js'), '--no-sandbox'],
  });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId('backend')).toHaveText(/wasm|cpu|tensorflow/);
    await page.getByTestId('open-photos').setInputFiles(path.join(SHARED_DATA, 'real-blurry', 'blur1.png'));
    await expect(page.locator('figcaption')).toContainText('blur1.png · 256 × 256');
    // The renderer has no Node: the preload's one global is all it sees.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  } finally {
    await app.close();
  }
});
