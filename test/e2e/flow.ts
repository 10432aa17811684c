// Test photos, a tiny model, and the photographer's core flow, shared by the browser and Electron specs.
import { mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect, type Page, type TestInfo } from '@playwright/test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { STREET, TEXTURE, writeLargePhoto } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';

export interface Fixtures {
  dir: string;
  checkpoint: string;
  sharp: string;
  blurry: string;
  /** Same size as the pair but another scene: the engine refuses to read a kernel from it. */
  other: string;
  /** 24 MP, to exercise the full-resolution tiles. */
  large: string;
}

export async function makeFixtures(): Promise<Fixtures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-e2e-'));
  const files = {
    dir,
    checkpoint: path.join(dir, 'tiny.safetensors'),
    sharp: path.join(dir, 'street-sharp.png'),
    blurry: path.join(dir, 'street-blurry.png'),
    other: path.join(dir, 'coffee.png'),
    large: path.join(dir, 'mountain-24mp.jpg'),
  };
  await tf.setBackend('cpu');
  await saveTinyCheckpoint(files.checkpoint, 3);
  const crop = { left: 10, top: 20, width: 301, height: 283 };
  const source = sharp(STREET).extract(crop);
  await source.clone().png().toFile(files.sharp);
  await source.clone().blur(2.5).png().toFile(files.blurry);
  await sharp(TEXTURE).extract(crop).png().toFile(files.other);
  await writeLargePhoto(files.large, 6000, 4000);
  return files;
}

export async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: info.outputPath(`${name}.png`) });
}

/** Sets the model through the Settings panel and waits until the engine runs it. */
export async function openSettings(page: Page): Promise<void> {
  await openPanel(page, 'Settings');
}

export async function useCheckpoint(page: Page, checkpoint: string): Promise<void> {
  await openSettings(page);
  await page.getByTestId('settings-checkpoint').fill(checkpoint);
  await page.getByTestId('settings-save').click();
  await expect(page.getByTestId('settings-saved')).toBeVisible();
  await expect(page.getByTestId('status-bar')).toContainText(`model: ${path.basename(checkpoint)}`, {
    timeout: 30_000,
  });
}

const PANELS = {
  'Blur kernel': 'kernel',
  Deblur: 'deblur',
  Export: 'export',
  Batch: 'batch',
  Settings: 'settings',
} as const;

/** Opens a tool panel of the side bar (one is open at a time). */
export async function openPanel(page: Page, title: keyof typeof PANELS): Promise<void> {
  const panel = page.locator(`details[data-panel="${PANELS[title]}"]`);
  if (!(await panel.evaluate((details) => (details as HTMLDetailsElement).open))) {
    await panel.locator(':scope > summary').click();
  }
}

export async function openPhotos(page: Page, files: string[]): Promise<void> {
  await page.getByTestId('open-photos').setInputFiles(files);
  await expect(page.getByTestId('thumb')).toHaveCount(files.length, { timeout: 30_000 });
}

const option = (page: Page, testid: string, name: string) =>
  page.getByTestId(testid).selectOption({ label: name });

/** Extract a kernel from the pair, apply it to the sharp photo, compare, export; returns the export path. */
export async function kernelFlow(page: Page, info: TestInfo, files: Fixtures): Promise<string> {
  // A pair that does not match: the engine's own explanation is shown.
  await openPanel(page, 'Blur kernel');
  await option(page, 'kernel-sharp', path.basename(files.other));
  await option(page, 'kernel-blurry', path.basename(files.blurry));
  await page.getByTestId('extract-kernel').click();
  await expect(page.getByTestId('extract-job')).toContainText('do not seem to show the same scene', {
    timeout: 60_000,
  });

  await option(page, 'kernel-sharp', path.basename(files.sharp));
  await page.getByTestId('extract-kernel').click();
  await expect(page.getByTestId('kernel-trace')).toBeVisible({ timeout: 90_000 });
  expect(await page.getByTestId('kernel-trace').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
  await page.getByTestId('kernel-name').fill('street shake');

  // Apply to the sharp photo (select it in the filmstrip): a new version, shown in the wipe.
  await page.getByTestId('thumb').nth(0).click();
  await expect(page.getByTestId('photo-size')).toContainText('301 × 283');
  await page.getByTestId('apply-kernel').click();
  await expect(page.getByTestId('versions').locator('label')).toHaveCount(2, { timeout: 90_000 });
  await expect(page.getByTestId('versions')).toContainText('street shake (spatial, measured PSFs)');
  await expect(page.getByTestId('compare-split')).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('layer-before')).toBeVisible();
  await expect(page.getByTestId('layer-after')).toBeVisible();
  await shot(page, info, 'compare-split');

  await page.getByTestId('compare-side').click();
  await expect(page.locator('[data-pane="after"]')).toBeVisible();
  await page.keyboard.press('1');
  await expect(page.getByTestId('zoom-level')).toHaveText('100 %');
  await shot(page, info, 'compare-side-100');

  await page.getByTestId('compare-single').click();
  await page.keyboard.down('\\');
  await expect(page.getByTestId('layer-single').locator('img').first()).toHaveAttribute(
    'alt',
    path.basename(files.sharp),
  );
  await page.keyboard.up('\\');
  await expect(page.getByTestId('layer-single').locator('img').first()).not.toHaveAttribute(
    'alt',
    path.basename(files.sharp),
  );

  // Export the new version as 16-bit PNG: first to the suggested path, in the folder the app was allowed
  await openPanel(page, 'Export');
  // to write to (the original's name, not its folder), then to a path typed by the user.
  await page.getByTestId('export-format').selectOption('png');
  await page.getByTestId('export-depth').selectOption('16');
  const suggested = path.join(files.dir, `${path.parse(files.sharp).name}-blurspace.png`);
  await expect(page.getByTestId('export-path')).toHaveValue(suggested);
  await page.getByTestId('export').click();
  await expect(page.getByTestId('export-done')).toContainText(suggested, { timeout: 60_000 });
  expect((await sharp(suggested).metadata()).depth).toBe('ushort');

  // Exporting to the same path again keeps the file until the user says to replace it.
  const firstWrite = (await stat(suggested)).mtimeMs;
  await page.getByTestId('export').click();
  await expect(page.getByTestId('export-exists')).toContainText(`${suggested} already exists`);
  expect((await stat(suggested)).mtimeMs).toBe(firstWrite);
  await page.getByTestId('export-replace').click();
  await expect(page.getByTestId('export-done')).toContainText(suggested, { timeout: 60_000 });
  expect((await stat(suggested)).mtimeMs).toBeGreaterThan(firstWrite);

  const exported = path.join(files.dir, 'exported result.png');
  await page.getByTestId('export-path').fill(exported);
  await page.getByTestId('export').click();
  await expect(page.getByTestId('export-done')).toContainText(exported, { timeout: 60_000 });
  return exported;
}
