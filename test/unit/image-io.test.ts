import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type SharpOptions } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePreview, PhotoError, readPhoto, writePhoto, type Photo } from '../../src/engine/image/index';
import { STREET, TEXTURE, writeLargePhoto } from '../helpers/test-images';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'image-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 16-bit RGB gradient plus noise, including 0 and 65535. */
function gradient16(width: number, height: number, channels: 3 | 4 = 3): Uint16Array {
  const out = new Uint16Array(width * height * channels);
  let seed = 12345;
  for (let i = 0; i < out.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const x = (i / channels) % width;
    out[i] = i % channels === 0 ? Math.round((x / (width - 1)) * 65535) : seed >>> 16;
  }
  return out;
}

async function raw8(input: string | Buffer, opts: SharpOptions = {}) {
  const { data, info } = await sharp(input, opts).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function raw16(input: string | Buffer): Promise<Uint16Array> {
  const buf = await sharp(input).toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer();
  return new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

/** Mean absolute difference in 8-bit units between a photo's RGB and 8-bit raw RGB(A) pixels. */
function meanDiff(photo: Photo, pixels: Uint8Array, channels = 3): number {
  let sum = 0;
  for (let p = 0; p < photo.width * photo.height; p++) {
    for (let c = 0; c < 3; c++) sum += Math.abs(photo.data[p * 3 + c] * 255 - pixels[p * channels + c]);
  }
  return sum / (photo.width * photo.height * 3);
}

async function expectPhotoError(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PhotoError);
  expect((err as PhotoError).code).toBe(code);
  expect((err as PhotoError).message).toMatch(message);
}

describe('16-bit precision', () => {
  const width = 97;
  const height = 61;
  const source = gradient16(width, height);

  it('reads a 16-bit PNG exactly and writes 16-bit PNG and TIFF (lzw, deflate) exactly', async () => {
    const png = await sharp(source, { raw: { width, height, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const photo = await readPhoto(png);
    expect(photo.sourceBitDepth).toBe(16);
    expect(photo.sourceFormat).toBe('png');
    expect(Array.from(photo.data, (v) => Math.round(v * 65535))).toEqual(Array.from(source));

    for (const [name, opts] of [
      ['out16.png', { format: 'png' }],
      ['out16-lzw.tif', { format: 'tiff', tiffCompression: 'lzw' }],
      ['out16-deflate.tif', { format: 'tiff', tiffCompression: 'deflate' }],
    ] as const) {
      const path = join(dir, name);
      await writePhoto(path, photo, { ...opts, bitDepth: 16 });
      const meta = await sharp(path).metadata();
      expect(meta.depth, name).toBe('ushort');
      expect(await raw16(path), name).toEqual(source);
      const again = await readPhoto(path);
      expect(again.sourceBitDepth).toBe(16);
      expect(again.data).toEqual(photo.data);
    }
  });

  it('rounds to nearest when quantising', async () => {
    const photo: Photo = {
      width: 2,
      height: 1,
      channels: 3,
      data: new Float32Array([0.4999 / 65535, 0.5001 / 65535, 1.2, -0.1, Number.NaN, 65534.6 / 65535]),
      sourceBitDepth: 16,
      sourceFormat: 'png',
      metadata: { space: 'rgb16', grayscale: false, orientation: 1, pages: 1 },
    };
    const path = join(dir, 'round.png');
    await writePhoto(path, photo, { format: 'png', bitDepth: 16 });
    expect(Array.from(await raw16(path))).toEqual([0, 1, 65535, 0, 0, 65535]);
  });

  it('reads a 16-bit TIFF tagged Display P3 as sRGB (sharp alone would give P3 values)', async () => {
    const srgb = await sharp(source, { raw: { width, height, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const p3 = await sharp(srgb)
      .pipelineColourspace('scrgb')
      .toColourspace('rgb16')
      .withIccProfile('p3')
      .tiff({ compression: 'lzw' })
      .toBuffer();
    expect((await sharp(p3).metadata()).icc).toBeDefined();
    const photo = await readPhoto(p3);
    const asSharpAlone = await raw16(p3);
    let ours = 0;
    let alone = 0;
    for (let i = 0; i < source.length; i++) {
      ours += Math.abs(photo.data[i] * 65535 - source[i]) / source.length;
      alone += Math.abs(asSharpAlone[i] - source[i]) / source.length;
    }
    // Saturated noise near black is where sRGB<->P3 at 16 bits is least precise; real photos do better.
    expect(ours / 65535).toBeLessThan(2e-3);
    expect(alone).toBeGreaterThan(10 * ours);
    const path = join(dir, 'p3-16.tif');
    await writePhoto(path, photo, { format: 'tiff' });
    expect((await sharp(path).metadata()).icc).toEqual((await sharp(p3).metadata()).icc);
    const back = await readPhoto(path);
    let meanErr = 0;
    for (let i = 0; i < source.length; i++) meanErr += Math.abs(back.data[i] - photo.data[i]);
    expect(meanErr / source.length).toBeLessThan(1e-3);
  });
});

describe('synthetic inputs', () => {
  it('carries alpha through PNG, TIFF and WebP and drops it for JPEG', async () => {
    const width = 40;
    const height = 30;
    const rgba = new Uint8Array(width * height * 4).map((_, i) => (i * 37 + (i >> 2)) % 256);
    const png = await sharp(rgba, { raw: { width, height, channels: 4 } })
      .png()
      .toBuffer();
    const photo = await readPhoto(png);
    expect(photo.alpha).toBeDefined();
    expect(Array.from(photo.alpha!, (v) => Math.round(v * 255))).toEqual(
      Array.from({ length: width * height }, (_, p) => rgba[p * 4 + 3]),
    );
    for (const format of ['png', 'tiff', 'webp'] as const) {
      const path = join(dir, `alpha.${format}`);
      await writePhoto(path, photo, { format, quality: 100 });
      const out = await raw8(path);
      expect(out.channels, format).toBe(4);
      let maxAlphaErr = 0;
      for (let p = 0; p < width * height; p++)
        maxAlphaErr = Math.max(maxAlphaErr, Math.abs(out.data[p * 4 + 3] - rgba[p * 4 + 3]));
      expect(maxAlphaErr, format).toBe(0);
    }
    await writePhoto(join(dir, 'alpha.jpg'), photo, { format: 'jpeg' });
    expect((await sharp(join(dir, 'alpha.jpg')).metadata()).channels).toBe(3);
  });

  it('reads the first frame of an animated GIF and reports the frame count', async () => {
    const frame = 16 * 16 * 3;
    const frames = new Uint8Array(frame * 3).map((_, i) => Math.floor(i / frame) * 100);
    const gif = await sharp(frames, { raw: { width: 16, height: 48, channels: 3, pageHeight: 16 } })
      .gif()
      .toBuffer();
    const photo = await readPhoto(gif);
    expect(photo.sourceFormat).toBe('gif');
    expect(photo.metadata.pages).toBe(3);
    expect([photo.width, photo.height]).toEqual([16, 16]);
    expect(Math.max(...photo.data)).toBeLessThan(0.05);
  });

  it('rejects an image above the pixel limit with a decompression-bomb message', async () => {
    const png = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    await expectPhotoError(
      readPhoto(png, { maxPixels: 10_000 }),
      'too-large',
      /200x100.*decompression bomb.*maxPixels/,
    );
    await expect(readPhoto(png, { maxPixels: 20_000 })).resolves.toMatchObject({ width: 200 });
  });

  it('gives a clear PhotoError for each kind of bad input', async () => {
    await expectPhotoError(readPhoto(join(dir, 'nope.jpg')), 'not-found', /nope\.jpg' does not exist/);
    await writeFile(join(dir, 'empty.jpg'), '');
    await expectPhotoError(readPhoto(join(dir, 'empty.jpg')), 'empty', /empty \(0 bytes\)/);
    await expectPhotoError(readPhoto(Buffer.alloc(0)), 'empty', /empty/);
    await writeFile(join(dir, 'notes.jpg'), 'these are my holiday notes, not a photo');
    await expectPhotoError(readPhoto(join(dir, 'notes.jpg')), 'not-an-image', /not an image file/);
    await expectPhotoError(readPhoto(dir), 'not-an-image', /is a folder/);
    const jpeg = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#345678' } })
      .composite([
        {
          input: Buffer.from(
            '<svg width="300" height="200"><circle cx="150" cy="100" r="80" fill="red"/></svg>',
          ),
        },
      ])
      .jpeg()
      .toBuffer();
    await expectPhotoError(readPhoto(jpeg.subarray(0, jpeg.length >> 1)), 'corrupt', /damaged or truncated/);
    await expectPhotoError(readPhoto(jpeg.subarray(0, 120)), 'corrupt', /damaged or truncated/);
    const bmp = Buffer.concat([Buffer.from('BM', 'latin1'), Buffer.alloc(60)]);
    await expectPhotoError(readPhoto(bmp), 'unsupported', /BMP.*Convert it/);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expectPhotoError(readPhoto(svg), 'unsupported', /SVG/);
    await writeFile(join(dir, 'shot.dng'), jpeg);
    await expectPhotoError(readPhoto(join(dir, 'shot.dng')), 'unsupported', /camera RAW.*16-bit TIFF/);
    await expectPhotoError(makePreview(join(dir, 'nope.jpg'), 100), 'not-found', /does not exist/);
  });

  it('writes atomically: no temp files left behind, failures leave nothing', async () => {
    const out = await mkdtemp(join(dir, 'atomic-'));
    const photo = await readPhoto(
      await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    );
    await writePhoto(join(out, 'a.png'), photo, { format: 'png' });
    await writePhoto(join(out, 'a.png'), photo, { format: 'png' });
    await writePhoto(join(out, 'b.tif'), photo, { format: 'tiff' });
    expect((await readdir(out)).sort()).toEqual(['a.png', 'b.tif']);
    await expectPhotoError(
      writePhoto(join(out, 'missing-folder', 'c.png'), photo, { format: 'png' }),
      'write-failed',
      /Cannot write .*c\.png.*ENOENT/,
    );
    await expect(writePhoto(join(out, 'd.jpg'), photo, { format: 'jpeg', bitDepth: 16 })).rejects.toThrow(
      RangeError,
    );
    expect((await readdir(out)).sort()).toEqual(['a.png', 'b.tif']);
  });

  it('decodes AVIF', async () => {
    const avif = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#4080c0' } })
      .avif()
      .toBuffer();
    const photo = await readPhoto(avif);
    expect(photo.sourceFormat).toBe('avif');
    expect(photo.data[2] * 255).toBeCloseTo(0xc0, -1);
  });
});

describe('photos', () => {
  // STREET (a 480 x 360 JPEG) is 360 x 480 once turned by an EXIF orientation of 6 or 8.

  it('reads and writes an 8-bit JPEG', async () => {
    const photo = await readPhoto(TEXTURE);
    const ref = await raw8(TEXTURE);
    expect([photo.width, photo.height, photo.sourceBitDepth, photo.sourceFormat]).toEqual([
      ref.width,
      ref.height,
      8,
      'jpeg',
    ]);
    expect(meanDiff(photo, ref.data)).toBeLessThan(0.01);
    const path = join(dir, 'TEXTURE-out.jpg');
    await writePhoto(path, photo, { format: 'jpeg', quality: 95 });
    expect(meanDiff(photo, (await raw8(path)).data)).toBeLessThan(1.5);
  });

  it('reads WebP and writes it back', async () => {
    const webp = await sharp(TEXTURE).webp({ quality: 95 }).toBuffer();
    const photo = await readPhoto(webp);
    expect(photo.sourceFormat).toBe('webp');
    expect(meanDiff(photo, (await raw8(TEXTURE)).data)).toBeLessThan(2);
  });

  it.each([
    [6, 90],
    [8, 270],
  ])(
    'applies EXIF orientation %i (rotate %i degrees) and writes orientation 1',
    async (orientation, angle) => {
      const tagged = await sharp(STREET).withMetadata({ orientation }).jpeg({ quality: 100 }).toBuffer();
      const photo = await readPhoto(tagged);
      expect(photo.metadata.orientation).toBe(orientation);
      expect([photo.width, photo.height]).toEqual([360, 480]);
      const right = await raw8(await sharp(STREET).rotate(angle).png().toBuffer());
      const wrong = await raw8(
        await sharp(STREET)
          .rotate(360 - angle)
          .png()
          .toBuffer(),
      );
      expect(meanDiff(photo, right.data)).toBeLessThan(2);
      expect(meanDiff(photo, wrong.data)).toBeGreaterThan(20);
      const path = join(dir, `oriented-${orientation}.jpg`);
      await writePhoto(path, photo, { format: 'jpeg' });
      const meta = await sharp(path).metadata();
      expect([meta.width, meta.height, meta.orientation]).toEqual([360, 480, 1]);
    },
  );

  it('converts a Display P3 photo to sRGB on read and converts back and re-attaches the profile on export', async () => {
    const p3 = await sharp(STREET).withIccProfile('p3').png().toBuffer();
    const p3Icc = (await sharp(p3).metadata()).icc!;
    const srgb = await raw8(STREET);
    const device = await raw8(p3, { ignoreIcc: true });
    const photo = await readPhoto(p3);
    expect(photo.metadata.icc).toEqual(p3Icc);
    expect(meanDiff(photo, srgb.data)).toBeLessThan(0.6);
    expect(meanDiff(photo, device.data)).toBeGreaterThan(3);
    for (const format of ['jpeg', 'png', 'tiff', 'webp'] as const) {
      const path = join(dir, `p3-out.${format}`);
      await writePhoto(path, photo, { format, quality: 100 });
      expect((await sharp(path).metadata()).icc, format).toEqual(p3Icc);
      const out = await raw8(path, { ignoreIcc: true });
      const asPhoto = { ...photo, data: Float32Array.from(device.data, (v) => v / 255) };
      expect(meanDiff(asPhoto, out.data), format).toBeLessThan(
        format === 'png' || format === 'tiff' ? 0.6 : 2.5,
      );
    }
    await writePhoto(join(dir, 'p3-stripped.png'), photo, { format: 'png', keepMetadata: false });
    const stripped = await sharp(join(dir, 'p3-stripped.png')).metadata();
    expect(stripped.icc).toBeUndefined();
    expect(meanDiff(photo, (await raw8(join(dir, 'p3-stripped.png'))).data)).toBeLessThan(0.6);
  });

  it('keeps EXIF (orientation reset), XMP and ICC where the format allows, strips all on request', async () => {
    const xmp =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6" tiff:Make="XmpCam"/>' +
      '</rdf:RDF></x:xmpmeta>';
    const src = await sharp(TEXTURE)
      .withExif({ IFD0: { Make: 'Blurspace Test Cam', Artist: 'Ada Lovelace' } })
      .withMetadata({ orientation: 6 })
      .withXmp(xmp)
      .jpeg({ quality: 95 })
      .toBuffer();
    const photo = await readPhoto(src);
    expect(photo.metadata.orientation).toBe(6);
    for (const format of ['jpeg', 'png', 'webp', 'tiff'] as const) {
      const path = join(dir, `meta.${format}`);
      await writePhoto(path, photo, { format });
      const meta = await sharp(path).metadata();
      expect(meta.orientation ?? 1, format).toBe(1);
      expect(meta.icc, format).toBeDefined();
      expect(meta.xmp?.toString(), format).toContain('tiff:Orientation="1"');
      if (format === 'tiff') {
        // libvips writes no EXIF to TIFF (sharp documents it); XMP and ICC survive.
        expect(meta.exif).toBeUndefined();
      } else {
        const exif = meta.exif!.toString('latin1');
        expect(exif, format).toContain('Blurspace Test Cam');
        expect(exif, format).toContain('Ada Lovelace');
      }
      const back = await readPhoto(path);
      expect([back.width, back.height]).toEqual([photo.width, photo.height]);
    }
    await writePhoto(join(dir, 'meta-stripped.jpg'), photo, { format: 'jpeg', keepMetadata: false });
    const stripped = await sharp(join(dir, 'meta-stripped.jpg')).metadata();
    expect([stripped.exif, stripped.icc, stripped.xmp, stripped.iptc]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('turns grayscale into RGB and can write it back as gray', async () => {
    const gray = await sharp(STREET).toColourspace('b-w').png().toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const photo = await readPhoto(gray);
    expect(photo.metadata.grayscale).toBe(true);
    expect(photo.data.length).toBe(photo.width * photo.height * 3);
    let notGray = 0;
    for (let i = 0; i < photo.data.length; i += 3) {
      if (photo.data[i + 1] !== photo.data[i] || photo.data[i + 2] !== photo.data[i]) notGray++;
    }
    expect(notGray).toBe(0);
    await writePhoto(join(dir, 'gray.png'), photo, { format: 'png' });
    expect((await sharp(join(dir, 'gray.png')).metadata()).channels).toBe(1);
    expect((await raw8(join(dir, 'gray.png'))).data.equals((await raw8(gray)).data)).toBe(true);
    await writePhoto(join(dir, 'gray-rgb.png'), photo, { format: 'png', grayscale: false });
    expect((await sharp(join(dir, 'gray-rgb.png')).metadata()).channels).toBe(3);
  });

  it('turns CMYK into RGB through its profile and exports RGB', async () => {
    const cmyk = await sharp(STREET).withIccProfile('cmyk').jpeg({ quality: 100 }).toBuffer();
    const meta = await sharp(cmyk).metadata();
    expect([meta.space, meta.channels]).toEqual(['cmyk', 4]);
    const photo = await readPhoto(cmyk);
    // CMYK's smaller gamut costs a few levels; the conversion itself must match sharp's own.
    expect(meanDiff(photo, (await raw8(STREET)).data)).toBeLessThan(12);
    expect(meanDiff(photo, (await raw8(cmyk)).data)).toBeLessThan(0.01);
    await writePhoto(join(dir, 'from-cmyk.jpg'), photo, { format: 'jpeg' });
    const out = await sharp(join(dir, 'from-cmyk.jpg')).metadata();
    expect([out.space, out.channels, out.icc]).toEqual(['srgb', 3, undefined]);
  });

  it('makes an oriented sRGB preview with shrink-on-load', async () => {
    const file = join(dir, 'large.jpg');
    await writeLargePhoto(file, 3000, 2000);
    const full = await sharp(file).metadata();
    const preview = await makePreview(file, 256);
    expect(Math.max(preview.width, preview.height)).toBe(256);
    expect([preview.fullWidth, preview.fullHeight]).toEqual([full.width, full.height]);
    expect((await sharp(preview.jpeg).metadata()).format).toBe('jpeg');

    const tagged = await sharp(STREET).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const rotated = await makePreview(tagged, 100);
    expect([rotated.width, rotated.height, rotated.fullWidth, rotated.fullHeight]).toEqual([
      75, 100, 360, 480,
    ]);
    const small = await makePreview(await readFile(STREET), 4000);
    expect([small.width, small.height]).toEqual([480, 360]);
  });
});
