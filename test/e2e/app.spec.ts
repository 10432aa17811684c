import path from 'node:path';
import { HAS_SHARED_DATA, SHARED_DATA, SHARED_DATA_MISSING } from '../helpers/paths';
import { expect, test } from './fixtures';

test('the app loads, shows the backend, and displays a photo opened from disk', async ({ page, bridge }) => {
  test.skip(!HAS_SHARED_DATA, SHARED_DATA_MISSING);
  await page.goto(bridge.openUrl);
  await expect(page.getByTestId('backend')).toHaveText(/wasm|cpu|tensorflow/);
  await expect(page.getByTestId('status-bar')).toContainText('engine: ready');

  await page.getByTestId('open-photos').setInputFiles(path.join(SHARED_DATA, 'real-blurry', 'blur1.png'));
  const view = page.getByTestId('photo-view');
  await expect(view).toBeVisible();
  await expect(page.locator('figcaption')).toContainText('blur1.png · 256 × 256');
  // The image really decoded: its natural size is the photo's.
  expect(await view.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(256);
  await page.screenshot({ path: test.info().outputPath('photo-open.png') });
});

test('the page and the API refuse requests without the token', async ({ page, bridge }) => {
  const response = await page.request.get(`${bridge.url}/`);
  expect(response.status()).toBe(401);
});
