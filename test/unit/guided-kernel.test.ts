// Fast mode's guided estimate: a stand-in for the sharp window (the network's restoration in the app; here
// the true sharp photo or the blurry one itself, so that no network runs) and a kernel fitted non-blindly
// from the pair, then the whole photo restored as after a blind estimate. Its quality against the blind
// estimate is the benchmark's business (`npm run bench:deblur`, guided rows). In a job, the network's time
// is on the progress bar, so that the ETA counts it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, shakeKernel } from '../../src/engine/training';
import { crop, type FloatImage } from '../../src/engine/core/tiling';
import { cleanPsf, psfSimilarity } from '../../src/engine/deblur/blind-kernel';
import { FAST_DEFAULTS, fastDeblur, type KernelEstimator } from '../../src/engine/deblur/fast-mode';
import {
  BLIND_ESTIMATE_SECONDS,
  guidedEstimator,
  NETWORK_SHARE,
  withGuidedEstimate,
} from '../../src/engine/deblur/guided-kernel';
import type { NetworkRestore } from '../../src/engine/deblur/learned-mode';
import type { ProgressUpdate } from '../../src/engine/core/progress';
import { bestShift } from '../../src/engine/deblur/image-ops';
import { readPhoto } from '../../src/engine/image';
import { kernelToPsf } from '../../src/engine/training/kernels';
import { blurLikeACamera, writeLargePhoto } from '../helpers/test-images';

/** PSNR after the best whole-pixel shift: the fitted kernel is centred on its centroid, as the bench aligns. */
const psnr = (a: FloatImage, b: FloatImage) => -10 * Math.log10(bestShift(a, b).meanSquaredError);

describe('guided estimate', () => {
  let dir: string;
  let sharp: FloatImage;
  let blurry: FloatImage;
  const kernel = shakeKernel(new Rng(7, 15), 15);
  const ctx = { signal: new AbortController().signal, progress: () => undefined };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-guided-'));
    // 256 px: fast mode's window is then the whole photo, so the stand-in can be the whole sharp photo.
    const file = path.join(dir, 'scene.png');
    await writeLargePhoto(file, 480, 360);
    sharp = crop(await readPhoto(file), 100, 50, 256, 256);
    blurry = blurLikeACamera(sharp, kernel, 3);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('measures the blur against a sharp stand-in and restores the photo with it', async () => {
    const windows: FloatImage[] = [];
    const estimator = guidedEstimator(async (window) => {
      windows.push(window);
      return sharp;
    });
    const result = await fastDeblur(blurry, { ...FAST_DEFAULTS, estimator }, ctx);
    expect(windows.map((w) => [w.width, w.height])).toEqual([[256, 256]]);
    expect(result.window).toEqual({ x: 0, y: 0, width: 256, height: 256 });
    expect(result.reliability).toBe('reliable');
    expect(psfSimilarity(result.psf, cleanPsf(kernelToPsf(kernel), 0, 0))).toBeGreaterThan(0.8);
    expect(psnr(result.image, sharp)).toBeGreaterThan(psnr(blurry, sharp) + 2);
  });

  it('leaves the photo as it is when the stand-in is no sharper than the photo', async () => {
    const estimator = guidedEstimator(async (window) => window);
    const result = await fastDeblur(blurry, { ...FAST_DEFAULTS, estimator }, ctx);
    expect(result.reliability).toBe('failed');
    expect(result.image.data).toEqual(blurry.data);
  });

  it('in a job, puts the network’s expected time on the progress bar, so that the ETA holds', async () => {
    // The network: one tile (the window is 256 px), reported done, the sharp photo as its result.
    const restore: NetworkRestore = async (_image, _ctx, onTile) => {
      onTile(1, 1);
      return sharp;
    };
    // Where fast mode ends the estimate on its own bar: what it tells the estimator.
    let estimateEnd = 0;
    const told: KernelEstimator = (photo, window, c, end) => {
      estimateEnd = end;
      return guidedEstimator(restore)(photo, window, c, end);
    };
    await fastDeblur(blurry, { ...FAST_DEFAULTS, estimator: told }, ctx);
    // The restoration's expected time as fast mode weighs it against a blind estimate.
    const restoration = (BLIND_ESTIMATE_SECONDS * (1 - estimateEnd)) / estimateEnd;

    // A slow network (a laptop CPU) and a fast one (a GPU): seconds per tile.
    for (const secondsPerTile of [60, 0.5]) {
      const updates: ProgressUpdate[] = [];
      const job = withGuidedEstimate(restore, secondsPerTile, { ...ctx, progress: (u) => updates.push(u) });
      await fastDeblur(blurry, { ...FAST_DEFAULTS, estimator: job.estimator }, job.ctx);
      const shown = updates.map((u) => u.progress);
      for (let i = 1; i < shown.length; i++) expect(shown[i]).toBeGreaterThanOrEqual(shown[i - 1]!);
      expect(shown.at(-1)).toBe(1);
      // Had the tile taken the time expected, the ETA extrapolated when it is done (the elapsed time times
      // what is left over what is done) is what remains: the fit's share of the estimate, and the restoration.
      const tileDone = updates.find((u) => u.stage.includes('the network, tile 1 of 1'))!.progress;
      const eta = (secondsPerTile * (1 - tileDone)) / tileDone;
      const fit = secondsPerTile * (1 / NETWORK_SHARE - 1);
      expect(eta, `${secondsPerTile} s a tile`).toBeCloseTo(fit + restoration, 6);
    }
  });
});
