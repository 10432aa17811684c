// Fast mode's guided estimate: a stand-in for the sharp window (the network's restoration in the app; here
// the true sharp photo or the blurry one itself, so that no network runs) and a kernel fitted non-blindly
// from the pair, then the whole photo restored as after a blind estimate. Its quality against the blind
// estimate is the benchmark's business (`npm run bench:deblur`, guided rows).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, shakeKernel } from '../../src/engine/training';
import { crop, type FloatImage } from '../../src/engine/core/tiling';
import { cleanPsf, psfSimilarity } from '../../src/engine/deblur/blind-kernel';
import { FAST_DEFAULTS, fastDeblur } from '../../src/engine/deblur/fast-mode';
import { guidedEstimator } from '../../src/engine/deblur/guided-kernel';
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
});
