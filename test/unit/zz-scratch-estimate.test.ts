import path from 'node:path';
import os from 'node:os';
import sharp from 'sharp';
import { it } from 'vitest';
import { BLIND_KERNEL_DEFAULTS, estimateBlurKernel, psfSimilarity } from '../../src/engine/deblur/blind-kernel';
import { reliability } from '../../src/engine/deblur/fast-mode';
import { luma, type Psf } from '../../src/engine/kernels/psf';
import { correlate, kernelCentre, loadKernels } from '../../src/engine/training';
import { STREET, TEXTURE, TEST_KERNELS_ROOT, writeLargePhoto } from '../helpers/test-images';

it('scratch', async () => {
  const size = 512, window = 448;
  const large = path.join(os.tmpdir(), 'scratch-large.png');
  await writeLargePhoto(large, size, size);
  const sources: Record<string, Buffer> = {
    tiled: await sharp(large).removeAlpha().raw().toBuffer(),
    streetUp: await sharp(STREET).resize(size, size, { fit: 'cover' }).removeAlpha().raw().toBuffer(),
    textureUp: await sharp(TEXTURE).resize(size, size, { fit: 'cover' }).removeAlpha().raw().toBuffer(),
  };
  for (const id of ['motion_line', 'motion_hook']) {
    const kernel = (await loadKernels(TEST_KERNELS_ROOT)).find((k) => k.id === id)!;
    const side = Math.max(kernel.width, kernel.height) | 1;
    const c = side >> 1;
    const centre = kernelCentre(kernel);
    const truth: Psf = { size: side, weights: new Array<number>(side * side).fill(0) };
    for (let y = 0; y < kernel.height; y++)
      for (let x = 0; x < kernel.width; x++)
        truth.weights[(y - centre.y + c) * side + (x - centre.x + c)] = kernel.data[y * kernel.width + x]!;
    for (const [name, pixels] of Object.entries(sources)) {
      const grey = luma(correlate(Float32Array.from(pixels, (v) => v / 255), size, size, 3, kernel), size * size);
      const data = new Float64Array(window * window);
      const o = (size - window) / 2;
      for (let y = 0; y < window; y++) data.set(grey.subarray((y + o) * size + o, (y + o) * size + o + window), y * window);
      const estimate = await estimateBlurKernel({ width: window, height: window, data }, { ...BLIND_KERNEL_DEFAULTS, kernelSize: 41 });
      console.log(id, name, psfSimilarity(estimate.psf, truth).toFixed(3), reliability(estimate));
    }
  }
}, 300_000);
