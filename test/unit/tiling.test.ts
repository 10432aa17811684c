import { describe, expect, it } from 'vitest';
import {
  TileBlender,
  crop,
  planTiles,
  reflectPad,
  roundUpToGrid,
  type FloatImage,
} from '../../src/engine/core/tiling';

function ramp(width: number, height: number): FloatImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i % 997) / 997;
  return { width, height, channels: 3, data };
}

describe('tiling', () => {
  it('rounds sizes up to the 128-pixel grid', () => {
    expect(roundUpToGrid(1)).toBe(128);
    expect(roundUpToGrid(128)).toBe(128);
    expect(roundUpToGrid(6001)).toBe(6016);
  });

  it('reflect-pads without repeating the edge and keeps the original pixels', () => {
    const image = ramp(5, 3);
    const padded = reflectPad(image, 8, 6);
    expect(crop(padded, 0, 0, 5, 3).data).toEqual(image.data);
    // Column 5 mirrors column 3, row 3 mirrors row 1.
    expect(padded.data[(0 * 8 + 5) * 3]).toBe(image.data[(0 * 5 + 3) * 3]);
    expect(padded.data[(3 * 8 + 0) * 3]).toBe(image.data[(1 * 5 + 0) * 3]);
  });

  it('plans grid-aligned tiles that cover the image with the requested overlap', () => {
    const width = 1280;
    const height = 640;
    const tiles = planTiles(width, height, 512, 128);
    const covered = new Uint8Array(width * height);
    for (const t of tiles) {
      expect(t.x % 128).toBe(0);
      expect(t.y % 128).toBe(0);
      expect(t.x + t.width).toBeLessThanOrEqual(width);
      for (let y = t.y; y < t.y + t.height; y++) covered.fill(1, y * width + t.x, y * width + t.x + t.width);
    }
    expect(covered.every((v) => v === 1)).toBe(true);
    const row = tiles.filter((t) => t.y === 0).map((t) => t.x);
    for (let i = 1; i < row.length; i++) expect(row[i - 1]! + 512 - row[i]!).toBeGreaterThanOrEqual(128);
    expect(planTiles(256, 256, 512, 128)).toEqual([{ x: 0, y: 0, width: 256, height: 256 }]);
  });

  it('blends identical tiles back into the exact image', () => {
    const image = ramp(768, 512);
    const blender = new TileBlender(700, 500, 3, 64, 768, 512);
    for (const t of planTiles(768, 512, 384, 128))
      blender.add(t, crop(image, t.x, t.y, t.width, t.height).data);
    const out = blender.result();
    expect(out.width).toBe(700);
    const expected = crop(image, 0, 0, 700, 500).data;
    let maxError = 0;
    for (let i = 0; i < expected.length; i++)
      maxError = Math.max(maxError, Math.abs(out.data[i]! - expected[i]!));
    expect(maxError).toBeLessThan(1e-5);
  });
});
