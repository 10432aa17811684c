// The kernel library (export, delete, import), the blur trace grid over the photo, and the library
// surviving a reload: the real engine through the web bridge.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test } from './fixtures';
import {
  makeFixtures,
  openPanel,
  openPhotos,
  openSettings,
  shot,
  useCheckpoint,
  type Fixtures,
} from './flow';

let files: Fixtures;

test.beforeAll(async () => {
  files = await makeFixtures();
});
test.afterAll(async () => {
  if (files) await rm(files.dir, { recursive: true, force: true });
});

test('kernel library: export, delete, import (bad and foreign files refused), the trace grid over the photo, and the library after a reload', async ({
  page,
  bridge,
  engine,
}) => {
  test.setTimeout(180_000);
  const info = test.info();
  await page.goto(bridge.openUrl);
  await expect(page.getByTestId('status-bar')).toContainText('engine: ready');
  // The tile size setting, with its explanation; saved together with the model below.
  await openSettings(page);
  await page.getByTestId('settings-tile-size').selectOption('512');
  await expect(page.getByText('Smaller tiles need less memory')).toBeVisible();
  await useCheckpoint(page, files.checkpoint);
  await openPhotos(page, [files.sharp, files.blurry]);
  await openPanel(page, 'Blur kernel');
  await page.getByTestId('kernel-sharp').selectOption({ label: path.basename(files.sharp) });
  await page.getByTestId('kernel-blurry').selectOption({ label: path.basename(files.blurry) });
  await expect(page.getByTestId('trace-toggle')).toBeDisabled();
  await page.getByTestId('extract-kernel').click();
  await expect(page.getByTestId('kernel-entry')).toHaveCount(1, { timeout: 90_000 });
  await page.getByTestId('kernel-name').fill('street shake');
  // The blur measured from the pair, beside the model's code, with how far it can be trusted in words.
  await expect(page.getByTestId('kernel-trace-explicit')).toHaveAttribute('src', /^data:image\/png;base64,/);
  await expect(page.getByTestId('kernel-trace-large')).toBeVisible();
  const confidence = page.getByTestId('kernel-confidence');
  await expect(confidence).toHaveAttribute('data-reliability', 'reliable');
  await expect(confidence).toContainText(/The blur was measured reliably: about \d+ px long/);
  await shot(page, info, 'kernel-measured');
  // A version of the sharp photo blurred with the measured PSFs, for the reload below.
  await page.getByTestId('thumb').nth(0).click();
  await page.getByTestId('apply-using').selectOption('explicit');
  await page.getByTestId('apply-kernel').click();
  await expect(page.getByTestId('versions').locator('label')).toHaveCount(2, { timeout: 90_000 });
  await expect(page.getByTestId('versions')).toContainText('street shake (spatial, measured PSFs)');

  // Export: a download of the kernel file, under its new name.
  const downloaded = info.outputPath('street shake.blurkernel');
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export kernel street shake' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('street shake.blurkernel');
  await download.saveAs(downloaded);
  const json = JSON.parse(await readFile(downloaded, 'utf8'));
  expect(json).toMatchObject({ format: 'blurspace-kernel', version: 1, name: 'street shake' });
  const glyphs = json.explicitPsf.rows * json.explicitPsf.cols;

  // The trace grid over the photo: one glyph per region of the measured PSFs, following zoom and pan.
  await page.getByTestId('compare-single').click();
  await page.getByTestId('trace-toggle').click();
  await expect(page.getByTestId('trace-toggle')).toHaveAttribute('aria-pressed', 'true');
  const grid = page.getByTestId('trace-grid');
  await expect(grid).toHaveAttribute('data-source', 'explicit');
  await expect(grid).toHaveAttribute('data-rows', String(json.explicitPsf.rows));
  await expect(grid).toHaveAttribute('data-cols', String(json.explicitPsf.cols));
  await expect(grid.getByTestId('trace-glyph')).toHaveCount(glyphs);
  // Glyphs sit at the centres of their regions; the regions grow with the zoom and move with the pan.
  const box = async (testid: string) => (await grid.getByTestId(testid).first().boundingBox())!;
  const centred = async () => {
    const [cell, glyph] = [await box('trace-cell'), await box('trace-glyph-box')];
    expect(glyph.x + glyph.width / 2).toBeCloseTo(cell.x + cell.width / 2, 0);
    expect(glyph.y + glyph.height / 2).toBeCloseTo(cell.y + cell.height / 2, 0);
    return cell;
  };
  const fitted = await centred();
  await shot(page, info, 'trace-grid');
  await page.keyboard.press('+');
  await page.keyboard.press('+');
  await expect.poll(async () => (await box('trace-cell')).width).toBeGreaterThan(fitted.width * 1.5);
  const zoomed = await centred();
  const stage = (await page.getByTestId('stage').boundingBox())!;
  await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
  await page.mouse.down();
  await page.mouse.move(stage.x + stage.width / 2 + 80, stage.y + stage.height / 2 + 40, { steps: 4 });
  await page.mouse.up();
  await expect.poll(async () => Math.round((await box('trace-cell')).x - zoomed.x)).toBe(80);
  await centred();
  await shot(page, info, 'trace-grid-zoomed');
  // The key T toggles it too.
  await page.keyboard.press('t');
  await expect(grid).toHaveCount(0);
  await page.keyboard.press('t');
  await expect(page.getByTestId('trace-glyph')).toHaveCount(glyphs);

  // Delete: gone from the library, and the app's copy in the workspace is deleted.
  const saved = async () => (await engine.invoke('loadSession', {})).session;
  await expect.poll(async () => (await saved()).kernels.map((k) => k.name)).toEqual(['street shake']);
  const workspaceCopy = (await saved()).kernels[0]!.path;
  expect(existsSync(workspaceCopy)).toBe(true);
  await page.getByRole('button', { name: 'Delete kernel street shake' }).click();
  await expect(page.getByTestId('kernel-entry')).toHaveCount(0);
  await expect(page.getByTestId('trace-grid')).toHaveCount(0);
  await expect(page.getByTestId('trace-toggle')).toBeDisabled();
  await expect.poll(() => existsSync(workspaceCopy)).toBe(false);

  // Import: a text file and a kernel of another model are refused with the reason.
  const bad = info.outputPath('notes.blurkernel');
  await writeFile(bad, 'shopping list\n');
  const foreign = info.outputPath('other-model.blurkernel');
  await writeFile(
    foreign,
    JSON.stringify({ ...json, checkpoint: { sha256: '0'.repeat(64), description: 'their-model.pth' } }),
  );
  await page.getByTestId('import-kernel').setInputFiles([bad, foreign]);
  const messages = page.getByTestId('messages');
  await expect(messages).toContainText('Could not import notes.blurkernel');
  await expect(messages).toContainText('is not a Blurspace kernel file');
  await expect(messages).toContainText('read with another model (their-model.pth)');
  await expect(page.getByTestId('kernel-entry')).toHaveCount(0);
  await shot(page, info, 'kernel-import-refused');
  const dismiss = messages.getByRole('button', { name: 'Dismiss message' });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
  // The exported file comes back into the library, with its trace.
  await page.getByTestId('import-kernel').setInputFiles(downloaded);
  await expect(page.getByTestId('kernel-entry')).toHaveCount(1);
  await expect(page.getByTestId('kernel-name')).toHaveValue('street shake');
  await expect(page.getByTestId('kernel-trace')).toBeVisible();

  // Reload: the photos, their versions and the kernel library are back.
  await expect
    .poll(async () => {
      const session = await saved();
      return [session.photos.map((p) => p.versions.length), session.kernels.map((k) => k.name)];
    })
    .toEqual([[2, 1], ['street shake']]);
  await page.reload();
  await expect(page.getByTestId('thumb')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId('versions').locator('label')).toHaveCount(2);
  await expect(page.getByTestId('versions')).toContainText('street shake (spatial, measured PSFs)');
  await expect(page.getByTestId('kernel-name')).toHaveValue('street shake');
  await expect(page.getByTestId('notices')).toBeEmpty();
  await shot(page, info, 'library-after-reload');
  await openSettings(page);
  await expect(page.getByTestId('settings-tile-size')).toHaveValue('512');

  // A result deleted behind the app's back: left out, with a notice that blocks nothing.
  await rm((await saved()).photos[0]!.versions[1]!.path);
  await page.reload();
  await expect(page.getByTestId('thumb')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId('notices')).toContainText('could not be restored');
  await expect(page.getByTestId('notices')).toContainText('street shake (spatial, measured PSFs)');
  await expect(page.getByTestId('versions').locator('label')).toHaveCount(1);
  await expect(page.getByTestId('messages')).toHaveCount(0);
  await page.getByTestId('thumb').nth(1).click();
  await expect(page.getByTestId('photo-size')).toContainText('301 × 283');
  await shot(page, info, 'library-reload-notice');
});
