// The synthetic photos and blur kernels committed under test/fixtures (made by scripts/make-test-images.js),
// so tests run without ../shared/data; and what tests build from them: large photos and a small data folder
// in the shared data's layout, for the training code.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions, type ResizeOptions, type Sharp } from 'sharp';
import { linearToSrgb, srgbToLinear } from '../../src/engine/core/colour';
import type { FloatImage } from '../../src/engine/core/tiling';
import { correlate, Rng, shakeKernel, type Kernel } from '../../src/engine/training';
import { REPO_ROOT } from './paths';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
const IMAGES = path.join(FIXTURES, 'images');

/** A street: sky, buildings with rows of windows, poles and discs, fine grain (480 x 360 JPEG). */
export const STREET = path.join(IMAGES, 'street.jpg');
/** Stones on moss: texture at every scale and hard-edged regions (480 x 360 JPEG). */
export const TEXTURE = path.join(IMAGES, 'texture.jpg');
/** Dense blades of grass, nothing larger than a blade: its blur is hard to tell from its texture (320 x 240). */
export const GRASS = path.join(IMAGES, 'grass.jpg');
/** 256 x 256, blurred by the arc-shaped camera motion of kernel `motion_arc`; no sharp original. */
export const MOTION_BLURRED = path.join(IMAGES, 'motion-blurred.jpg');
/**
 * Data root for loadKernels (kernels/kernels.json): Gaussian `gauss_1`, `gauss_3`, `aniso_gauss` and motion
 * `motion_line`, `motion_arc` (25 x 25), `motion_large` (67 x 67; the motions are not symmetric).
 */
export const TEST_KERNELS_ROOT = FIXTURES;

/**
 * A sharp photo of any size at full detail (a resize would soften it): the street and the texture tiled,
 * mirrored so neighbouring tiles meet without a jump. The format follows the extension.
 */
export async function writeLargePhoto(file: string, width: number, height: number): Promise<void> {
  const [tileWidth, tileHeight] = [480, 360];
  const tiles: OverlayOptions[] = [];
  for (let row = 0; row * tileHeight < height; row++) {
    for (let col = 0; col * tileWidth < width; col++) {
      let tile = sharp((row + col) % 2 ? TEXTURE : STREET);
      if (col % 2) tile = tile.flop();
      if (row % 2) tile = tile.flip();
      tiles.push({ input: await tile.toBuffer(), left: col * tileWidth, top: row * tileHeight });
    }
  }
  const canvas = sharp({ create: { width, height, channels: 3, background: '#000' } }).composite(tiles);
  await mkdir(path.dirname(file), { recursive: true });
  await canvas.toFile(file);
}

/** The camera's blur: in linear light, then sRGB, 0.5 % noise and 8 bits. */
export function blurLikeACamera(sharp: FloatImage, kernel: Kernel, seed: number): FloatImage {
  const linear = sharp.data.map(srgbToLinear);
  const blurred = correlate(linear, sharp.width, sharp.height, 3, kernel);
  const rng = new Rng(seed);
  const data = blurred.map(
    (v) => Math.round(Math.min(1, Math.max(0, linearToSrgb(v) + 0.005 * rng.normal())) * 255) / 255,
  );
  return { ...sharp, data };
}

/** A photo shaken like a hand-held camera's by a `length` px camera-shake kernel (PNG, 8 bits). */
export async function writeShakenPhoto(
  file: string,
  width: number,
  height: number,
  length = 15,
): Promise<void> {
  const sharpFile = `${file}.sharp.png`;
  await writeLargePhoto(sharpFile, width, height);
  const pixels = await sharp(sharpFile).removeAlpha().raw().toBuffer();
  const photo: FloatImage = { width, height, channels: 3, data: Float32Array.from(pixels, (v) => v / 255) };
  const blurry = blurLikeACamera(photo, shakeKernel(new Rng(7, length), length), length);
  await sharp(Buffer.from(blurry.data.map((v) => Math.round(v * 255))), {
    raw: { width, height, channels: 3 },
  })
    .png()
    .toFile(file);
}

/** Frame numbers of the small GoPro sequence: two runs, one each side of the validation split at 250. */
export const TEST_FRAMES = { train: [1, 20], val: [250, 269] } as const;

/**
 * A data folder in the layout of ../shared/data, small: photos/ with its manifest (training photos in
 * package `fixtures`, validation ones in `enlightenment-data`, a package the split keeps for validation),
 * gopro_frames/ (320 x 256 frames of a scene panned a few pixels per frame), and kernels/.
 */
export async function makeDataRoot(root: string): Promise<string> {
  const manifest: { file: string; package: string }[] = [];
  const photo = async (pkg: string, name: string, image: Sharp) => {
    const file = path.join('photos', pkg, name);
    await mkdir(path.join(root, 'photos', pkg), { recursive: true });
    await image.jpeg({ quality: 92 }).toFile(path.join(root, file));
    manifest.push({ file, package: pkg });
  };
  await photo('fixtures', 'street.jpg', sharp(STREET));
  await photo('fixtures', 'texture.jpg', sharp(TEXTURE));
  await photo('fixtures', 'grass.jpg', sharp(GRASS));
  await photo('enlightenment-data', 'street-mirrored.jpg', sharp(STREET).flop());
  await photo('enlightenment-data', 'texture-upside-down.jpg', sharp(TEXTURE).flip());
  await writeFile(path.join(root, 'photos', 'manifest.json'), JSON.stringify(manifest, null, 1));

  await mkdir(path.join(root, 'kernels'), { recursive: true });
  await copyFile(
    path.join(TEST_KERNELS_ROOT, 'kernels', 'kernels.json'),
    path.join(root, 'kernels', 'kernels.json'),
  );

  // The street beside the texture, panned along a wavy path: averaging frames blurs as a moving camera does.
  const frames = path.join(root, 'gopro_frames', 'GOPR0477_11_00');
  await mkdir(frames, { recursive: true });
  const scene = await sharp(STREET)
    .extend({ right: 480, background: '#000' })
    .composite([{ input: TEXTURE, left: 480, top: 0 }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  for (const [first, last] of Object.values(TEST_FRAMES)) {
    for (let n = first; n <= last; n++) {
      const t = n - first;
      const left = Math.round((first === 1 ? 40 : 400) + 3 * t);
      const top = Math.round(50 + 6 * Math.sin(t / 3));
      await sharp(scene.data, { raw: scene.info })
        .extract({ left, top, width: 320, height: 256 })
        .jpeg({ quality: 95 })
        .toFile(path.join(frames, `${String(n).padStart(6, '0')}.jpg`));
    }
  }
  return root;
}

/** A photo file as a float image (0..1), resized as sharp's `resize` options say and without alpha. */
export async function readFloatImage(file: string, resize: ResizeOptions): Promise<FloatImage> {
  const { data, info } = await sharp(file)
    .resize(resize)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    channels: 3,
    data: Float32Array.from(data, (v) => v / 255),
  };
}
