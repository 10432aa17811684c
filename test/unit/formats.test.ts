// The one table of photo formats and extensions that the engine, the CLI and the UI share.
import { describe, expect, it } from 'vitest';
import {
  extensionOf,
  FORMAT_EXTENSIONS,
  formatOfPath,
  isPhotoFile,
  OUTPUT_FORMATS,
  outputExtension,
} from '../../src/common/formats';

describe('formats', () => {
  it('round-trips every output format through its extension; reads the variants of each', () => {
    for (const format of OUTPUT_FORMATS) {
      expect(formatOfPath(`photo${FORMAT_EXTENSIONS[format]}`)).toBe(format);
      expect(outputExtension('photo.gif', format)).toBe(FORMAT_EXTENSIONS[format]);
    }
    for (const [name, format] of [
      ['a.JPEG', 'jpeg'],
      ['a.tiff', 'tiff'],
      ['C:\\photos\\b.Jpg', 'jpeg'],
    ] as const) {
      expect(formatOfPath(name)).toBe(format);
    }
  });

  it('keeps an input extension we can write, else writes PNG', () => {
    expect(outputExtension('/in/Photo.JPEG')).toBe('.jpeg');
    expect(outputExtension('/in/scan.tiff')).toBe('.tiff');
    for (const input of ['/in/anim.gif', '/in/raw.NEF', '/in/phone.heic', '/in/noext', '/in/.png']) {
      expect(outputExtension(input), input).toBe('.png');
    }
  });

  it('tells photos by extension, either separator, hidden names and folders with dots excepted', () => {
    expect(extensionOf('/a.b/photo')).toBe('');
    expect(extensionOf('C:\\a.b\\photo.WebP')).toBe('.webp');
    expect(extensionOf('.png')).toBe('');
    for (const name of ['x.jpg', 'x.avif', 'x.HEIF', 'x.dng', 'x.cr3'])
      expect(isPhotoFile(name), name).toBe(true);
    for (const name of ['x.txt', 'x.json', 'x', 'x.blurkernel']) expect(isPhotoFile(name), name).toBe(false);
  });
});
