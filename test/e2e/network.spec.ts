// Learned mode's network behind fast mode's guided estimate (Deblur panel, Batch preset) and kernels read
// from a blurry photo alone (Kernel panel): the options reach their jobs, and without the network they are
// shown disabled, saying why. The calls between the page and the engine are watched (and, for "without",
// the engine's word on the network changed) on their WebSocket.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import sharp from 'sharp';
import type { JobSpecInput } from '../../src/common/api';
import { STREET } from '../helpers/test-images';
import { saveTinyCheckpoint } from '../helpers/tiny-model';
import { expect, test } from './fixtures';
import { openPanel, openPhotos, useCheckpoint } from './flow';

let dir: string;
/** Small, so that the network has one tile to restore for each estimate. */
let photo: string;
let checkpoint: string;

test.beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-e2e-network-'));
  photo = path.join(dir, 'street blurry.png');
  await sharp(STREET).resize(240, 180).blur(1.5).png().toFile(photo);
  checkpoint = path.join(dir, 'tiny.safetensors');
  await saveTinyCheckpoint(checkpoint, 5);
});
test.afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Passes the page's calls on to the engine and returns the jobs it starts; with `withoutNetwork`, the engine
 * says the network is not installed.
 */
async function watchCalls(page: Page, withoutNetwork = false): Promise<JobSpecInput[]> {
  const started: JobSpecInput[] = [];
  await page.routeWebSocket(/\/api\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const call = JSON.parse(String(message)) as { method: string; params: unknown };
      if (call.method === 'startJob') started.push(call.params as JobSpecInput);
      server.send(message);
    });
    server.onMessage((message) => {
      if (!withoutNetwork) return ws.send(message);
      const missing = { available: false, note: 'The network is not installed here (test).' };
      ws.send(
        JSON.stringify(JSON.parse(String(message)), (key, v) => (key === 'learnedNetwork' ? missing : v)),
      );
    });
  });
  return started;
}

test.beforeEach(async ({ engine }) => {
  engine.grantOutputFolder(dir);
});

test('with the network: the guided estimate and a kernel from the blurry photo alone reach their jobs', async ({
  page,
  bridge,
}) => {
  test.setTimeout(300_000);
  const started = await watchCalls(page);
  await page.goto(bridge.openUrl);
  await expect(page.getByTestId('status-bar')).toContainText('engine: ready');
  await useCheckpoint(page, checkpoint);
  await openPhotos(page, [photo]);

  // Deblur, fast mode: the guided estimate runs the network on the window, then restores the photo.
  await openPanel(page, 'Deblur');
  const guided = page.getByTestId('deblur-guided');
  await expect(guided).toBeEnabled();
  await guided.check();
  await page.getByTestId('run-deblur').click();
  await expect(page.getByTestId('deblur-job')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
  expect(started.at(-1)).toMatchObject({ kind: 'deblur', mode: 'fast', guided: true });
  await expect(page.getByTestId('deblur-estimate')).toHaveAttribute('data-reliability', 'reliable');
  await expect(page.getByTestId('versions')).toContainText('deblurred (fast guided, 100 %)');
  // Applying the blur found with new settings estimates nothing: the network does not run again.
  await page.getByTestId('deblur-strength').fill('0.5');
  await page.getByTestId('apply-deblur').click();
  await expect(page.getByTestId('deblur-job')).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  expect(started.at(-1)).toMatchObject({ kind: 'deblur', guided: false, kernel: expect.anything() });
  await expect(page.getByTestId('versions')).toContainText('deblurred (fast, 50 %)');

  // Blur kernel: no sharp photo, the network stands in for it.
  await openPanel(page, 'Blur kernel');
  await page.getByTestId('kernel-alone').check();
  await expect(page.getByTestId('kernel-sharp')).toBeDisabled();
  await expect(page.getByTestId('kernel-alone-hint')).toContainText('a few minutes on a laptop CPU');
  await page.getByTestId('kernel-blurry').selectOption({ label: path.basename(photo) });
  const extract = page.getByTestId('extract-kernel');
  await expect(extract).toHaveText('Read blur from the blurry photo');
  await extract.click();
  await expect(page.getByTestId('kernel-entry')).toHaveCount(1, { timeout: 120_000 });
  const kernelJob = started.at(-1)!;
  expect(kernelJob).toMatchObject({ kind: 'extractKernel' });
  expect(kernelJob).not.toHaveProperty('sharpPath');
  await expect(page.getByTestId('kernel-explicit-caption')).toContainText('network’s restoration');

  // Batch, deblur preset: the guided estimate belongs to fast mode.
  await openPanel(page, 'Batch');
  await page.getByTestId('batch-outdir').fill(path.join(dir, 'batch'));
  await page.getByTestId('batch-preset').selectOption('deblur');
  await page.getByTestId('batch-method').selectOption('learned');
  await expect(page.getByTestId('batch-guided')).toHaveCount(0);
  await page.getByTestId('batch-method').selectOption('fast');
  await page.getByTestId('batch-guided').check();
  await page.getByTestId('batch-run').click();
  await expect(page.getByTestId('batch-summary')).toContainText('1 photo: 1 done', { timeout: 120_000 });
  expect(started.at(-1)).toMatchObject({
    kind: 'batch',
    preset: { kind: 'deblur', mode: 'fast', guided: true },
  });
});

test('without the network: its options are shown disabled, saying why', async ({ page, bridge }) => {
  await watchCalls(page, true);
  await page.goto(bridge.openUrl);
  await expect(page.getByTestId('status-bar')).toContainText('engine: ready');
  await openPhotos(page, [photo]);

  const why = 'The network is not installed here (test).';
  const guided = page.getByTestId('deblur-guided');
  await expect(guided).toBeDisabled();
  await expect(page.locator('label', { has: guided })).toHaveAttribute('title', why);

  await openPanel(page, 'Blur kernel');
  const alone = page.getByTestId('kernel-alone');
  await expect(alone).toBeDisabled();
  await expect(page.locator('label', { has: alone })).toHaveAttribute('title', why);
  await expect(page.getByTestId('kernel-sharp')).toBeEnabled();
  await expect(page.getByTestId('extract-kernel')).toHaveText('Read blur from pair');

  await openPanel(page, 'Batch');
  await page.getByTestId('batch-preset').selectOption('deblur');
  await expect(page.getByTestId('batch-guided')).toBeDisabled();
  await expect(page.locator('[data-testid="batch-method"] option[value="learned"]')).toBeDisabled();
});
