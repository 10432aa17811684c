import { SRGB8_TO_LINEAR } from '../core/colour';
import type { Rng } from '../core/rng';
import type { GoproFrame } from './sources';

/**
 * N consecutive frames (N odd, 7-13) from a list of frames of one split: a window never reaches frames of the
 * other split because only this split's frames are offered, and gaps in the numbering are never crossed.
 */
export function goproWindow(rng: Rng, frames: readonly GoproFrame[]): GoproFrame[] {
  const length = 7 + 2 * rng.int(0, 3);
  const starts: number[] = [];
  for (let i = 0; i + length <= frames.length; i++) {
    if (frames[i + length - 1].number - frames[i].number === length - 1) starts.push(i);
  }
  if (starts.length === 0) throw new Error(`no run of ${length} consecutive GoPro frames in this split`);
  const start = rng.pick(starts);
  return frames.slice(start, start + length);
}

/**
 * Mean in linear light of the same crop of several 8-bit sRGB frames (still linear: the caller encodes).
 */
export function averageFrames(
  frames: readonly Uint8Array[],
  frameWidth: number,
  x: number,
  y: number,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height * 3);
  const rowLen = width * 3;
  for (const data of frames) {
    for (let v = 0; v < height; v++) {
      const s = ((y + v) * frameWidth + x) * 3;
      const o = v * rowLen;
      for (let t = 0; t < rowLen; t++) out[o + t] += SRGB8_TO_LINEAR[data[s + t]];
    }
  }
  const inv = 1 / frames.length;
  for (let i = 0; i < out.length; i++) out[i] *= inv;
  return out;
}
