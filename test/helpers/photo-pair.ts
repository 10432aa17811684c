// A sharp/blurry photo pair for kernel tests: an awkward size (not a multiple of 128) cut from a real
// photo, and a Gaussian-blurred copy of it.
import path from 'node:path';
import sharp from 'sharp';
import { SHARED_DATA } from './paths';

export async function writePhotoPair(dir: string): Promise<{ sharpPath: string; blurryPath: string }> {
  const sharpPath = path.join(dir, 'sharp.png');
  const blurryPath = path.join(dir, 'blurry.png');
  const source = sharp(path.join(SHARED_DATA, 'photos-small', 'astronaut.png')).extract({
    left: 10,
    top: 20,
    width: 301,
    height: 283,
  });
  await source.clone().png().toFile(sharpPath);
  await source.clone().blur(2.5).png().toFile(blurryPath);
  return { sharpPath, blurryPath };
}
