// A photographer's session at 1440 x 900 through the web bridge (issue #24): the photo never enlarged by Fit,
// re-runs from the original unless stacking is asked for, live preview of new settings that the applied
// result matches, batches that keep the photos' formats and say each photo's verdict by its name, names in
// full. With BLURSPACE_DOC_SCREENSHOTS=1, each panel in use is saved at 1440 x 900 and 1024 x 700 in
// docs/screenshots (not on every run: they are committed files).
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import type { EngineHost } from '../../src/host/engine-host';
import { REGION_PREVIEW_QUALITY } from '../../src/engine/jobs/deblur-job';
import { REPO_ROOT } from '../helpers/paths';
import { STREET, writeShakenPhoto } from '../helpers/test-images';
import { expect, test } from './fixtures';
import { makeFixtures, openPanel, openPhotos, useCheckpoint, type Fixtures } from './flow';

const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');
const SAVE_SCREENSHOTS = process.env.BLURSPACE_DOC_SCREENSHOTS === '1';
const SIZES = [
  { width: 1440, height: 900 },
  { width: 1024, height: 700 },
];

test.use({ viewport: SIZES[0] });

let files: Fixtures;
let work: string;
/** 1600 x 1067, shaken by a 15 px camera-shake kernel: fast mode finds that blur reliably. */
let shaken: string;

test.beforeAll(async () => {
  files = await makeFixtures();
  work = await mkdtemp(path.join(os.tmpdir(), 'blurspace-e2e-workflow-'));
  shaken = path.join(work, 'photos', 'shaken.png');
  await mkdir(path.dirname(shaken), { recursive: true });
  await writeShakenPhoto(shaken, 1600, 1067);
  if (SAVE_SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
});
test.afterAll(async () => {
  if (files) await rm(files.dir, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

test.beforeEach(async ({ page, bridge, engine }) => {
  engine.grantOutputFolder(work);
  await page.goto(bridge.openUrl);
  await expect(page.getByTestId('status-bar')).toContainText('engine: ready');
});

/** The page as it is now, at both window sizes, for the docs (JPEG, small). */
async function docShots(page: Page, name: string): Promise<void> {
  if (!SAVE_SCREENSHOTS) return;
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await page.waitForTimeout(250); // the viewer fits the photo again
    await page.screenshot({
      path: path.join(SCREENSHOTS, `${name}-${size.width}.jpg`),
      type: 'jpeg',
      quality: 70,
    });
  }
  await page.setViewportSize(SIZES[0]);
}

/** The saved library's versions of the photo at `index` (paths and labels, oldest first). */
async function versionsOf(engine: EngineHost, count: number, index = 0) {
  let versions: { path: string; label: string }[] = [];
  await expect
    .poll(async () => {
      const { session } = await engine.invoke('loadSession', {});
      versions = session.photos[index]?.versions ?? [];
      return versions.length;
    })
    .toBe(count);
  return versions;
}

/** Mean absolute difference (0..255) between two images' pixels, or of `b` where `region` lies. */
async function difference(
  a: string | Buffer,
  b: string,
  region?: { x: number; y: number; width: number; height: number },
): Promise<number> {
  const left = await sharp(a).removeAlpha().raw().toBuffer();
  let right = sharp(b).removeAlpha();
  if (region) {
    // The preview is a JPEG: the result's region is compared encoded the same way.
    const crop = { left: region.x, top: region.y, width: region.width, height: region.height };
    right = sharp(await right.extract(crop).jpeg({ quality: REGION_PREVIEW_QUALITY }).toBuffer());
  }
  const pixels = await right.raw().toBuffer();
  expect(pixels.length).toBe(left.length);
  let sum = 0;
  for (let i = 0; i < left.length; i++) sum += Math.abs(left[i]! - pixels[i]!);
  return sum / left.length;
}

test('Fit shows small photos at 100 % at most, and shrinks large ones to the window', async ({ page }) => {
  await openPhotos(page, [files.sharp, shaken]);
  const stage = page.getByTestId('stage');
  // 1600 x 1067 in a viewer about 1100 px wide: shrunk to fit.
  await expect(page.getByTestId('photo-size')).toContainText('1600 × 1067');
  await expect(page.getByTestId('zoom-fit')).toHaveClass(/on/);
  expect(Number(await stage.getAttribute('data-zoom'))).toBeLessThan(0.8);
  // 301 x 283 would have filled the viewer at about 240 %: it is shown at its own size.
  await page.keyboard.press('ArrowLeft');
  await expect(page.getByTestId('photo-size')).toContainText('301 × 283');
  await expect(page.getByTestId('zoom-level')).toHaveText('100 %');
  expect(Number(await stage.getAttribute('data-zoom'))).toBe(1);
  const box = (await page.getByTestId('layer-single').boundingBox())!;
  expect([Math.round(box.width), Math.round(box.height)]).toEqual([301, 283]);
  // Zooming in is still the user's choice.
  await page.keyboard.press('+');
  await expect(page.getByTestId('zoom-level')).toHaveText('125 %');
});

test('deblur: runs start from the original, stacking only when asked; the live preview is the result applied', async ({
  page,
  engine,
}) => {
  test.setTimeout(300_000);
  // First launch: no tool panel open (Settings neither); an opened photo opens Deblur.
  await expect(page.locator('details[name="tools"][open]')).toHaveCount(0);
  await docShots(page, 'empty');
  await openPhotos(page, [shaken]);
  await expect(page.locator('details[name="tools"][open]')).toHaveAttribute('data-panel', 'deblur');
  await expect(page.getByTestId('deblur-source')).toContainText('the original');

  // The running job, its stage and its live chart are in view.
  await page.getByTestId('run-deblur').click();
  await expect(page.getByTestId('deblur-job')).toHaveAttribute('data-status', 'running');
  await expect(page.getByTestId('loss-chart').locator('canvas')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('deblur-job')).toBeInViewport();
  await expect(page.getByTestId('loss-chart')).toBeInViewport();
  await docShots(page, 'deblur-running');
  const job = page.getByTestId('deblur-job');
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const estimate = page.getByTestId('deblur-estimate');
  await expect(estimate).toHaveAttribute('data-reliability', 'reliable');
  await expect(estimate).toBeInViewport();
  await expect(page.getByTestId('versions')).toContainText('deblurred (fast, 100 %)');
  await docShots(page, 'deblur-done');

  // Deblur again with the result on screen: it starts from the original, so the same settings give the
  // same photo (not a second pass over the first result).
  await expect(page.getByTestId('deblur-source')).toContainText('the original');
  await page.getByTestId('run-deblur').click();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const [, first, second] = await versionsOf(engine, 3);
  expect(await difference(first!.path, second!.path)).toBeLessThan(0.05);

  // Stacking is an explicit choice: the version on screen is deblurred again.
  await page.getByTestId('deblur-stack').check();
  await expect(page.getByTestId('deblur-source')).toContainText('“deblurred (fast, 100 %)”');
  await page.getByTestId('run-deblur').click();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  const stacked = (await versionsOf(engine, 4))[3]!;
  expect(stacked.label).toContain('on “deblurred (fast, 100 %)”');
  expect(await difference(second!.path, stacked.path)).toBeGreaterThan(1);
  await page.getByTestId('undo-version').click();
  await page.getByTestId('deblur-stack').uncheck();

  // The sliders preview on the part of the photo on screen, with the blur found...
  await page.getByTestId('deblur-strength').fill('0.5');
  await page.getByTestId('deblur-prior').fill('2');
  await expect(page.getByTestId('deblur-prior-value')).toHaveText('×4');
  const preview = page.getByTestId('job-preview');
  await expect(preview).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('preview-tag')).toBeVisible();
  await expect(page.getByTestId('deblur-activity')).not.toHaveAttribute('data-previewing', 'true');
  await docShots(page, 'deblur-preview');
  const shown = await preview.evaluate((img) => {
    const style = (img as HTMLImageElement).style;
    return {
      src: (img as HTMLImageElement).src,
      region: {
        x: parseFloat(style.left),
        y: parseFloat(style.top),
        width: parseFloat(style.width),
        height: parseFloat(style.height),
      },
    };
  });
  // (the whole photo is on screen, at most a megapixel of it is previewed)
  expect(shown.region.width * shown.region.height).toBeLessThanOrEqual(1e6);
  expect(shown.region.width).toBeGreaterThan(500);

  // ...and applying them gives those pixels there: new settings on the same blur, from the original.
  await page.getByTestId('apply-deblur').click();
  await expect(job).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  await expect(preview).toHaveCount(0);
  await expect(page.getByTestId('preview-tag')).toHaveCount(0);
  const applied = (await versionsOf(engine, 4))[3]!;
  expect(applied.label).toBe('deblurred (fast, 50 %, smoothing ×4)');
  const jpeg = Buffer.from(shown.src.split(',')[1]!, 'base64');
  expect(await difference(jpeg, applied.path, shown.region)).toBeLessThan(0.25);
  // The comparison can tell results apart: the full-strength result differs there.
  expect(await difference(jpeg, second!.path, shown.region)).toBeGreaterThan(1);
  // The version made with the blur found keeps its verdict, for more changes.
  await expect(estimate).toHaveAttribute('data-reliability', 'reliable');
});

test('batch: results keep the photos’ formats; the summary names each photo with its verdict', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const photos = path.join(work, 'batch in');
  await mkdir(photos, { recursive: true });
  const inputs = [
    path.join(photos, 'shaken.png'),
    path.join(photos, 'street.jpg'),
    path.join(photos, 'grey card.png'),
  ];
  await copyFile(shaken, inputs[0]!);
  await copyFile(STREET, inputs[1]!);
  await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
    .png()
    .toFile(inputs[2]!);
  // Opened in the browser: the engine reads uploaded copies, which the summary must not name.
  await openPhotos(page, inputs);
  const outDir = path.join(work, 'batch out');
  await openPanel(page, 'Batch');
  await expect(page.getByTestId('batch-format')).toHaveValue('same');
  await page.getByTestId('batch-outdir').fill(outDir);
  await page.getByTestId('batch-preset').selectOption('deblur');
  // Fast mode by default; the learned restorer belongs to it alone.
  await expect(page.getByTestId('batch-method')).toHaveValue('fast');
  await page.getByTestId('batch-method').selectOption('learned');
  await expect(page.getByTestId('batch-learned')).toHaveCount(0);
  await page.getByTestId('batch-method').selectOption('fast');
  await expect(page.getByTestId('batch-learned')).toBeVisible();
  await page.getByTestId('batch-run').click();

  // While it runs, the settings make way for its progress and its Pause and Cancel.
  await expect(page.getByTestId('batch-item')).toContainText(/Photo \d of 3/, { timeout: 30_000 });
  await expect(page.getByTestId('batch-form')).toBeHidden();
  await expect(page.getByTestId('batch-pause')).toBeInViewport();
  await expect(page.getByTestId('batch-cancel')).toBeInViewport();
  await docShots(page, 'batch-running');

  const summary = page.getByTestId('batch-summary');
  await expect(summary).toContainText('3 photos: 3 done, 0 failed, 0 skipped', { timeout: 180_000 });
  await expect(summary).toBeInViewport();
  await expect(page.getByTestId('batch-report')).toBeInViewport();
  const verdicts = page.getByTestId('batch-verdict');
  await expect(verdicts).toHaveCount(3);
  const seen = await verdicts.evaluateAll((items) =>
    items.map((item) => [item.querySelector('.file')!.textContent, item.getAttribute('data-verdict')]),
  );
  expect(Object.fromEntries(seen)).toMatchObject({
    'shaken.png': 'reliable',
    'grey card.png': 'unchanged',
  });
  expect(seen.map(([name]) => name).sort()).toEqual(['grey card.png', 'shaken.png', 'street.jpg']);
  await expect(page.getByTestId('batch-verdict').filter({ hasText: 'grey card.png' })).toContainText(
    'left unchanged',
  );
  await docShots(page, 'batch-summary');

  // PNG in, PNG out; JPEG in, JPEG out.
  const results = (await readdir(outDir)).filter(
    (name) => !name.startsWith('.') && !name.startsWith('batch-'),
  );
  expect(results.sort()).toEqual(['grey card-deblur.png', 'shaken-deblur.png', 'street-deblur.jpg']);
  expect((await sharp(path.join(outDir, 'shaken-deblur.png')).metadata()).format).toBe('png');
  expect((await sharp(path.join(outDir, 'street-deblur.jpg')).metadata()).format).toBe('jpeg');
  // The report names the photos as the user knows them, not the uploads' temporary paths.
  const report = await readFile(path.join(outDir, 'batch-report.txt'), 'utf8');
  expect(report).toContain('done    shaken.png -> shaken-deblur.png');
  expect(report).not.toContain('blurspace-uploads');
});

test('names: the filmstrip and the pair pickers show whole file names; kernel, export and settings panels', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const names = ['IMG_2041 street at dusk sharp.png', 'IMG_2042 street at dusk blurry.png'];
  const pair = names.map((name) => path.join(work, name));
  await copyFile(files.sharp, pair[0]!);
  await copyFile(files.blurry, pair[1]!);
  await useCheckpoint(page, files.checkpoint);
  await docShots(page, 'settings');
  await openPhotos(page, pair);
  await expect(page.getByTestId('thumb-name')).toHaveText(names);
  await expect(page.getByTestId('thumb').first()).toHaveAttribute('aria-label', `${names[0]}, 1 version`);

  await openPanel(page, 'Blur kernel');
  await page.getByTestId('kernel-sharp').selectOption({ label: names[0]! });
  await page.getByTestId('kernel-blurry').selectOption({ label: names[1]! });
  // Each picker is wide enough for the whole name it shows.
  for (const testid of ['kernel-sharp', 'kernel-blurry']) {
    const fits = await page.getByTestId(testid).evaluate((select) => {
      const element = select as HTMLSelectElement;
      const context = document.createElement('canvas').getContext('2d')!;
      context.font = getComputedStyle(element).font;
      const text = context.measureText(element.selectedOptions[0]!.text).width;
      return { text, room: element.clientWidth - 28 };
    });
    expect(fits.text).toBeLessThan(fits.room);
  }
  await page.getByTestId('extract-kernel').click();
  await expect(page.getByTestId('kernel-entry')).toHaveCount(1, { timeout: 120_000 });
  await docShots(page, 'kernel');

  await page.getByTestId('thumb').nth(1).click();
  await openPanel(page, 'Export');
  const exported = path.join(work, 'IMG_2042 exported.png');
  await page.getByTestId('export-format').selectOption('png');
  await page.getByTestId('export-path').fill(exported);
  await page.getByTestId('export').click();
  await expect(page.getByTestId('export-done')).toContainText(exported, { timeout: 60_000 });
  await expect(page.getByTestId('export-done')).toBeInViewport();
  // No file manager to open from a browser: the path is shown instead of "Show in folder".
  await expect(page.getByTestId('export-show')).toHaveCount(0);
  await docShots(page, 'export');
});
