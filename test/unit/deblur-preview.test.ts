// Fast mode's live preview: a region restored with the kernel an earlier run found and the sliders'
// settings gives the pixels the full-size run with those settings gives there, and so does the preview a
// job sends while it runs.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calls, JobSpec, type BlurKernel, type Region } from '../../src/common/api';
import { Engine } from '../../src/engine/engine';
import { REGION_PREVIEW_QUALITY } from '../../src/engine/jobs/deblur-job';
import { writeShakenPhoto } from '../helpers/test-images';

/**
 * Mean absolute difference (0..255) between a preview (a JPEG data URL) and a region of a photo file, that
 * region encoded as the preview is: 0 for the same pixels.
 */
async function difference(dataUrl: string, file: string, region: Region): Promise<number> {
  const a = await sharp(Buffer.from(dataUrl.split(',')[1]!, 'base64'))
    .raw()
    .toBuffer();
  const extracted = sharp(file).extract({
    left: region.x,
    top: region.y,
    width: region.width,
    height: region.height,
  });
  const b = await sharp(await extracted.removeAlpha().jpeg({ quality: REGION_PREVIEW_QUALITY }).toBuffer())
    .raw()
    .toBuffer();
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('the live deblur preview', () => {
  let dir: string;
  let engine: Engine;
  let photo: string;
  const region: Region = { x: 300, y: 150, width: 320, height: 240 };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'blurspace-preview-'));
    photo = path.join(dir, 'shaken.png');
    await writeShakenPhoto(photo, 960, 640);
    engine = await Engine.create({ backend: 'wasm', checkpointPath: null, defaultCheckpointPath: '' });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const deblur = async (spec: Record<string, unknown>) => {
    const previews: string[] = [];
    const outputPath = path.join(dir, `result-${Math.random().toString(36).slice(2)}.png`);
    const result = await engine.runJob(
      JobSpec.parse({ kind: 'deblur', photoPath: photo, outputPath, ...spec }),
      new AbortController().signal,
      (update) => update.preview && previews.push(update.preview),
    );
    if (result.kind !== 'deblur') throw new Error('not a deblur result');
    return { result, previews, outputPath };
  };

  it('matches the final result: during the run, and with new settings on the kernel found', async () => {
    const first = await deblur({ previewRegion: region });
    const estimate = first.result.estimate!;
    expect(estimate.reliability).toBe('reliable');
    // The preview sent once the kernel was known is the region on screen, as the result has it.
    expect(first.previews).toHaveLength(1);
    const original = await difference(first.previews[0]!, photo, region);
    expect(await difference(first.previews[0]!, first.outputPath, region)).toBeLessThan(0.25);
    // ...and the comparison can tell: the result differs from the photo there.
    expect(original).toBeGreaterThan(4);

    // The sliders: half strength, a stronger prior. The preview call and a run with the kernel found agree.
    const settings = { strength: 0.5, priorWeight: 4 };
    const kernel: BlurKernel = estimate.kernel;
    const params = calls.previewDeblur.params.parse({ photoPath: photo, kernel, region, ...settings });
    const { dataUrl } = await engine.previewDeblur(params);
    const again = await deblur({ kernel, ...settings, previewRegion: region });
    expect(again.result.estimate).toBeUndefined();
    expect(await difference(dataUrl, again.outputPath, region)).toBeLessThan(0.25);
    expect(await difference(again.previews[0]!, again.outputPath, region)).toBeLessThan(0.25);
    // The new settings made another result.
    expect(await difference(dataUrl, first.outputPath, region)).toBeGreaterThan(2);
  });

  it('refuses a kernel that is not one', () => {
    const region16 = { x: 0, y: 0, width: 16, height: 16 };
    const base = { photoPath: photo, region: region16 };
    for (const kernel of [
      { size: 4, weights: Array(16).fill(1) },
      { size: 3, weights: Array(8).fill(1) },
      { size: 3, weights: Array(9).fill(0) },
      { size: 3, weights: [...Array(8).fill(0), -1] },
    ]) {
      expect(calls.previewDeblur.params.safeParse({ ...base, kernel }).success, JSON.stringify(kernel)).toBe(
        false,
      );
    }
    const ok = calls.previewDeblur.params.parse({ ...base, kernel: { size: 1, weights: [1] } });
    expect(ok).toMatchObject({ strength: 1, priorWeight: 1 });
  });
});
