// A sharp/blurry photo pair for kernel tests: an awkward size (not a multiple of 128) cut from the street
// test photo, and a Gaussian-blurred copy of it.
import path from 'node:path';
import sharp from 'sharp';
import { STREET } from './test-images';

export async function writePhotoPair(dir: string): Promise<{ sharpPath: string; blurryPath: string }> {
  const sharpPath = path.join(dir, 'sharp.png');
  const blurryPath = path.join(dir, 'blurry.png');
  const source = sharp(STREET).extract({
    left: 10,
    top: 20,
    width: 301,
    height: 283,
  });
  await source.clone().png().toFile(sharpPath);
  await source.clone().blur(2.5).png().toFile(blurryPath);
  return { sharpPath, blurryPath };
}
