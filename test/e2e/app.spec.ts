import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { expect, test } from './fixtures';
import {
  kernelFlow,
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

test.describe('with photos', () => {
  test.beforeEach(async ({ page, bridge, engine }) => {
    // Exports go beside the test photos: allow that folder, as `npm run serve -- --output-dir` would.
    engine.grantOutputFolder(files.dir);
    await page.goto(bridge.openUrl);
    await expect(page.getByTestId('backend')).toHaveText(/wasm|cpu|tensorflow/);
    await expect(page.getByTestId('status-bar')).toContainText('engine: ready');
    // Records main-thread tasks over 50 ms from here on.
    await page.evaluate(() => {
      const tasks: number[] = [];
      (window as unknown as { longTasks: number[] }).longTasks = tasks;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) tasks.push(entry.duration);
      }).observe({ type: 'longtask' });
    });
  });

  test('library and viewer: filmstrip, keys, zoom, pan and full-resolution tiles on 24 MP', async ({
    page,
  }) => {
    await openPhotos(page, [files.sharp, files.large]);
    await expect(page.getByTestId('photo-size')).toContainText('6000 × 4000 · jpeg');
    await page.keyboard.press('ArrowLeft');
    await expect(page.getByTestId('photo-size')).toContainText('301 × 283 · png');
    await page.keyboard.press('ArrowRight');
    await expect(page.getByTestId('photo-size')).toContainText('6000 × 4000');
    await shot(page, test.info(), 'library-fit');

    const stage = page.getByTestId('stage');
    const layer = page.getByTestId('layer-single');
    const fitZoom = Number(await stage.getAttribute('data-zoom'));
    expect(fitZoom).toBeLessThan(0.3);
    expect(Number(await layer.getAttribute('data-tiles'))).toBe(0);

    await page.keyboard.press('1');
    await expect(page.getByTestId('zoom-level')).toHaveText('100 %');
    await expect(layer).not.toHaveAttribute('data-tiles', '0', { timeout: 20_000 });
    const before = await layer.evaluate((element) => getComputedStyle(element).transform);

    const box = (await stage.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 - 300, box.y + box.height / 2 - 150, { steps: 8 });
    await page.mouse.up();
    expect(await layer.evaluate((element) => getComputedStyle(element).transform)).not.toBe(before);
    await expect(layer).not.toHaveAttribute('data-tiles', '0', { timeout: 20_000 });
    // The tiles are real full-resolution pixels: a tile image is as wide as its region at 100 %.
    const tile = layer.locator('img').nth(1);
    expect(await tile.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(512);
    await shot(page, test.info(), 'viewer-100-tiles');

    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 400);
    await expect(page.getByTestId('zoom-level')).not.toHaveText('100 %');
    await page.keyboard.press('+');
    await page.keyboard.press('0');
    expect(Number(await stage.getAttribute('data-zoom'))).toBeCloseTo(fitZoom, 4);

    // The 1:1 loupe follows the pointer.
    await page.keyboard.press('l');
    await page.mouse.move(box.x + box.width / 3, box.y + box.height / 3);
    await expect(page.getByTestId('loupe').locator('img')).toBeVisible({ timeout: 20_000 });
    await shot(page, test.info(), 'viewer-loupe');
  });

  test('kernel from a pair, applied as a new version, compared, exported; deblurred in fast mode, then paper mode', async ({
    page,
  }) => {
    test.setTimeout(180_000);
    await useCheckpoint(page, files.checkpoint);
    await openPhotos(page, [files.sharp, files.blurry, files.other]);
    const exported = await kernelFlow(page, test.info(), files);
    const meta = await sharp(exported).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 301, height: 283, depth: 'ushort' });
    // No native dialogs in the browser: the panel says where it may write and how to add a folder.
    await expect(page.getByTestId('export-save-as')).toHaveCount(0);
    await expect(page.getByTestId('export-allowed')).toContainText(files.dir);
    await expect(page.getByTestId('export-allowed')).toContainText('--output-dir');

    await expect(page.getByTestId('export-show')).toHaveCount(0);

    await page.getByTestId('undo-version').click();
    await expect(page.getByTestId('versions').locator('label')).toHaveCount(1);

    // Region drawn on the photo, then the engine's honest answer.
    await openPanel(page, 'Deblur');
    await page.getByTestId('draw-roi').click();
    const box = (await page.getByTestId('stage').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2 - 60);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 60, { steps: 4 });
    await page.mouse.up();
    await expect(page.getByTestId('roi-size')).toContainText('Region');
    // Fast mode (the default) estimates the blur on the region and shows the kernel it found.
    await page.getByTestId('run-deblur').click();
    await expect(page.getByTestId('deblur-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    const estimate = page.getByTestId('deblur-estimate');
    await expect(estimate.locator('img')).toBeVisible();
    await expect(estimate).toContainText(/The blur is about \d+ × \d+ px/);
    // A photo the estimate left unchanged gets no new version; otherwise the result is one.
    const unchanged = (await estimate.getAttribute('data-reliability')) === 'failed';
    await expect(page.getByTestId('versions').locator('label')).toHaveCount(unchanged ? 1 : 2);
    await shot(page, test.info(), 'deblur-fast');
    if (!unchanged) {
      // The kernel shown belongs to the version on screen: the original has none.
      await page.getByTestId('undo-version').click();
      await expect(estimate).toHaveCount(0);
    }
    await expect(page.getByTestId('versions').locator('label')).toHaveCount(1);

    // With the learned restorer the photo always changes: a new version, labelled so.
    await page.getByTestId('deblur-learned').check();
    await page.getByTestId('run-deblur').click();
    await expect(page.getByTestId('deblur-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
    await expect(page.getByTestId('versions').locator('label')).toHaveCount(2);
    await expect(page.getByTestId('versions')).toContainText('fast + learned');
    await page.getByTestId('undo-version').click();
    await page.getByTestId('deblur-learned').uncheck();

    // Thorough mode (the paper's), a few iterations: the live loss chart draws one series per term.
    await page.getByLabel('Thorough (slow, region)').check();
    await page.locator('summary', { hasText: 'Advanced' }).click();
    await page.getByTestId('deblur-iterations').fill('8');
    await page.getByTestId('run-deblur').click();
    // It finishes: the live chart drew its loss terms and the result is a new version.
    const job = page.getByTestId('deblur-job');
    await expect(job).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    // Once done, the chart is folded away; the terms' names are details, shown on request.
    await page.locator('summary', { hasText: 'How the fit went' }).click();
    await expect(page.getByTestId('loss-chart').locator('.u-legend')).toHaveCount(0);
    await page.getByTestId('loss-details').click();
    await expect(page.getByTestId('loss-chart').locator('.u-legend')).toContainText('total');
    await expect(page.getByTestId('loss-chart').locator('.u-legend')).toContainText('hyper-Laplacian');
    // The plot itself is laid out (uPlot sized its canvas), not just its legend.
    const plotHeight = await page
      .getByTestId('loss-chart')
      .locator('canvas')
      .evaluate((c) => c.clientHeight);
    expect(plotHeight).toBeGreaterThan(100);
    await expect(page.getByTestId('versions').locator('label')).toHaveCount(2);
    await shot(page, test.info(), 'deblur-paper');
  });

  test('batch: the open photos and a typed bad file exported to PNG in a folder, with a summary; then deblurred', async ({
    page,
    engine,
  }) => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'blurspace-e2e-batch-'));
    try {
      const outDir = path.join(work, 'batch out');
      const bad = path.join(work, 'notes.jpg');
      await writeFile(bad, 'this is a text file, not a JPEG\n');
      await openPhotos(page, [files.sharp, files.blurry, files.other]);

      await page.locator('summary', { hasText: 'Batch' }).click();
      await expect(page.getByTestId('batch-photo')).toHaveCount(3);
      await expect(page.getByTestId('batch-count')).toHaveText('3 of 3');
      await page.getByTestId('batch-folders').fill(bad);
      // Suggested: the first folder the engine was allowed to write to.
      await expect(page.getByTestId('batch-outdir')).toHaveValue(files.dir);
      await expect(page.getByTestId('batch-choose-outdir')).toHaveCount(0);
      await page.getByTestId('batch-outdir').fill(outDir);
      await page.getByTestId('batch-format').selectOption('png');
      await expect(page.getByTestId('batch-name')).toHaveValue('{name}-{preset}');
      // A folder that was not allowed: the engine host refuses the job and the panel says why.
      await page.getByTestId('batch-run').click();
      await expect(page.getByTestId('batch-job').getByRole('alert')).toContainText(
        'only writes into its workspace and the folders you allowed',
      );
      await shot(page, test.info(), 'batch-refused');
      expect(existsSync(outDir)).toBe(false);
      engine.grantOutputFolder(work);
      await page.getByTestId('batch-run').focus();
      await page.keyboard.press('Enter');

      const summary = page.getByTestId('batch-summary');
      await expect(summary).toContainText('4 photos: 3 done, 1 failed, 0 skipped', { timeout: 60_000 });
      await expect(page.getByTestId('batch-job')).toHaveAttribute('data-status', 'done');
      const problem = page.getByTestId('batch-problem');
      await expect(problem).toHaveCount(1);
      await expect(problem).toContainText('notes.jpg');
      await expect(problem).toContainText('is not an image file');
      await expect(page.getByTestId('batch-report')).toHaveText(path.join(outDir, 'batch-report.txt'));
      await summary.scrollIntoViewIfNeeded();
      await shot(page, test.info(), 'batch-summary');

      const names = [files.sharp, files.blurry, files.other].map(
        (file) => `${path.parse(file).name}-export.png`,
      );
      const results = (await readdir(outDir)).filter((f) => f.endsWith('.png'));
      expect(results.sort()).toEqual([...names].sort());
      for (const name of names) {
        const meta = await sharp(path.join(outDir, name)).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual(['png', 301, 283]);
      }

      // The same photos through the deblur preset (fast mode) at half strength, into another folder.
      const deblurDir = path.join(work, 'deblurred');
      await page.getByTestId('batch-folders').fill('');
      await page.getByTestId('batch-outdir').fill(deblurDir);
      await page.getByTestId('batch-preset').selectOption('deblur');
      await page.getByTestId('batch-strength').fill('0.5');
      await page.getByTestId('batch-run').click();
      await expect(page.getByTestId('batch-summary')).toContainText('3 photos: 3 done, 0 failed, 0 skipped', {
        timeout: 90_000,
      });
      const deblurred = (await readdir(deblurDir)).filter((f) => f.endsWith('.png'));
      expect(deblurred.sort()).toEqual(names.map((name) => name.replace('-export', '-deblur')).sort());
      await shot(page, test.info(), 'batch-deblur');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  test('batch: per-item progress and ETA, paused, resumed, paused again, resumed after a reload, every result written once', async ({
    page,
    bridge,
    engine,
  }) => {
    test.setTimeout(240_000);
    const work = await mkdtemp(path.join(os.tmpdir(), 'blurspace-e2e-pause-'));
    try {
      const input = path.join(work, 'photos');
      await mkdir(input);
      const names = Array.from({ length: 10 }, (_, i) => `shot ${i + 1}`);
      for (const [i, name] of names.entries()) {
        await sharp(files.large)
          .resize(2400 + i * 16, 1600, { fit: 'fill' })
          .jpeg({ quality: 90 })
          .toFile(path.join(input, `${name}.jpg`));
      }
      const outDir = path.join(work, 'out');
      const readQueue = async () =>
        (
          JSON.parse(await readFile(path.join(outDir, '.blurspace-batch.json'), 'utf8')) as {
            items: { output: string; status: string }[];
          }
        ).items;
      const mtimesOf = (items: { output: string }[]) =>
        Promise.all(items.map(async (item) => (await stat(path.join(outDir, item.output))).mtimeMs));
      engine.grantOutputFolder(work);
      await page.locator('summary', { hasText: 'Batch' }).click();
      await page.getByTestId('batch-folders').fill(input);
      await page.getByTestId('batch-outdir').fill(outDir);
      await page.getByTestId('batch-format').selectOption('png');
      await page.getByTestId('batch-depth').selectOption({ label: '16 bit' });
      await page.getByTestId('batch-run').click();

      // The photo being worked on, the whole batch's progress and its ETA; the first photo is done.
      await expect(page.getByTestId('batch-item')).toContainText(/Photo [2-4] of 10 — shot \d+\.jpg/, {
        timeout: 60_000,
      });
      await expect(page.getByTestId('batch-progress')).toBeVisible();
      await expect(page.getByTestId('batch-eta')).toContainText(/left|almost done/);
      await shot(page, test.info(), 'batch-running');
      await page.getByRole('button', { name: 'Pause the batch' }).click();

      const paused = page.getByTestId('batch-paused');
      await expect(paused).toContainText(/^Paused — \d of 10 done/, { timeout: 30_000 });
      await expect(page.getByTestId('batch-pause')).toHaveCount(0);
      const doneAtPause = (await readQueue()).filter((item) => item.status === 'done');
      expect(doneAtPause.length).toBeGreaterThanOrEqual(1);
      // Not done is not failed: the rest waits in the queue.
      expect((await readQueue()).filter((item) => item.status !== 'done').map((item) => item.status)).toEqual(
        Array(10 - doneAtPause.length).fill('pending'),
      );
      await expect(paused).toContainText(`Paused — ${doneAtPause.length} of 10 done`);
      const mtimes = await mtimesOf(doneAtPause);
      await shot(page, test.info(), 'batch-paused');

      // Resume from the keyboard: the same batch again, numbered on from the photos already done.
      await page.getByRole('button', { name: 'Resume the batch' }).focus();
      await page.keyboard.press('Enter');
      // Photos can finish faster than the line is sampled: wait for any number past the first resumed one.
      const photoNumber = async (): Promise<number> => {
        const text = await page
          .getByTestId('batch-item')
          .textContent({ timeout: 1_000 })
          .catch(() => '');
        return Number(/Photo (\d+) of 10/.exec(text ?? '')?.[1] ?? 0);
      };
      await expect.poll(photoNumber, { timeout: 60_000 }).toBeGreaterThanOrEqual(doneAtPause.length + 2);
      // Paused again, then the app goes away: the queue on disk offers the batch for resuming.
      await page.getByRole('button', { name: 'Pause the batch' }).click();
      await expect(paused).toContainText(/^Paused — \d+ of 10 done/, { timeout: 30_000 });
      const doneAtSecondPause = (await readQueue()).filter((item) => item.status === 'done');
      expect(doneAtSecondPause.length).toBeGreaterThan(doneAtPause.length);
      expect(doneAtSecondPause.length).toBeLessThan(10);
      await page.goto(bridge.openUrl);
      await page.locator('summary', { hasText: 'Batch' }).click();
      await page.getByTestId('batch-outdir').fill(outDir);
      await expect(paused).toContainText(
        `Unfinished batch in this folder — ${doneAtSecondPause.length} of 10 done`,
      );
      await page.getByRole('button', { name: 'Resume the batch' }).click();
      await expect(page.getByTestId('batch-summary')).toContainText(
        '10 photos: 10 done, 0 failed, 0 skipped',
        {
          timeout: 120_000,
        },
      );
      await expect(paused).toHaveCount(0);
      const listing = await readdir(outDir);
      expect(listing.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(listing.filter((f) => f.endsWith('.png')).sort()).toEqual(
        names.map((name) => `${name}-export.png`).sort(),
      );
      for (const name of names) {
        expect((await sharp(path.join(outDir, `${name}-export.png`)).metadata()).depth).toBe('ushort');
      }
      // The photos finished before the first pause were not done again.
      expect(await mtimesOf(doneAtPause)).toEqual(mtimes);
      // Nothing is left to resume in that folder.
      expect((await engine.invoke('batchStatus', { outDir })).resume).toBeNull();
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  test('the renderer stays responsive during a job (long tasks measured)', async ({ page }) => {
    await openPhotos(page, [files.large]);
    await page.keyboard.press('1');
    await openSettings(page);
    await page.evaluate(() => ((window as unknown as { longTasks: number[] }).longTasks.length = 0));
    await page.getByTestId('speed-test').click();
    await expect(page.getByTestId('job-state')).toContainText('Speed test');
    // Pan around the 24 MP photo while the job runs: tiles arrive and are drawn.
    const box = (await page.getByTestId('stage').boundingBox())!;
    for (let i = 0; i < 4; i++) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 - 200, box.y + box.height / 2 - 100, { steps: 10 });
      await page.mouse.up();
    }
    await expect(page.getByTestId('speed-result')).toContainText('GFLOP/s', { timeout: 60_000 });
    await page.waitForTimeout(300); // observer callbacks arrive asynchronously
    const tasks = await page.evaluate(() => [...(window as unknown as { longTasks: number[] }).longTasks]);
    const longest = Math.max(0, ...tasks);
    const note = `${tasks.length} main-thread tasks over 50 ms during the job; longest ${longest.toFixed(0)} ms`;
    test.info().annotations.push({ type: 'longest task', description: note });
    console.log(note);
    // The observer really sees long tasks: an 80 ms busy task (a real task, not CDP's evaluate) is recorded.
    await page.evaluate(() => ((window as unknown as { longTasks: number[] }).longTasks.length = 0));
    await page.evaluate(() =>
      setTimeout(() => {
        const start = performance.now();
        while (performance.now() - start < 80);
      }),
    );
    await page.waitForTimeout(300);
    const calibration = await page.evaluate(() =>
      Math.max(0, ...(window as unknown as { longTasks: number[] }).longTasks),
    );
    console.log(`observer calibration: an 80 ms task was seen as ${calibration.toFixed(0)} ms`);
    expect(calibration).toBeGreaterThanOrEqual(80);
    // Blocking work on this thread (decoding or drawing the 24 MP photo) takes hundreds of ms. A busy 2-core CI
    // machine stretches ordinary frames well past the 50 ms long-task line (58 ms seen on 2026-12-03, 103 ms on
    // 2026-12-07, both with the worker computing beside it), so the bar sits between the two: 250 ms.
    expect(longest).toBeLessThan(250);
  });
});

test('the page and the API refuse requests without the token', async ({ page, bridge }) => {
  const response = await page.request.get(`${bridge.url}/`);
  expect(response.status()).toBe(401);
});
