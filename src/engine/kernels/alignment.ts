// Checks that a sharp/blurry pair shows the same framing before a kernel is read from it: phase
// correlation of the central region finds the global offset and how clearly the two match.
import { realToSpectrum, spectrumToReal } from '../core/fft';
import type { FloatImage } from '../core/tiling';
import { luma, taper } from './psf';

/** Offsets beyond this many pixels mean the pair was not shot from the same position. */
export const MAX_PAIR_OFFSET = 24;
/**
 * Below this phase-correlation confidence the two photos do not show the same scene: it lies between the
 * scores of heavily blurred copies of a photo and those of different photos (decision 0013).
 */
export const MIN_PAIR_CONFIDENCE = 7.5;

export interface Alignment {
  /** Offset of the blurry photo relative to the sharp one, in pixels. */
  dx: number;
  dy: number;
  /** Correlation peak over the RMS of the correlation surface. */
  confidence: number;
}

/** Side of the (downscaled) square that is compared. */
const WINDOW = 128;
/** Half-whitening: flat enough for a sharp peak, without amplifying the noise of blurred-out frequencies. */
const WHITENING = 0.5;

/** Box-downscaled luma of the central square, mean removed and tapered. */
function centralLuma(image: FloatImage, factor: number, side: number): Float64Array {
  const x0 = Math.floor((image.width - side * factor) / 2);
  const y0 = Math.floor((image.height - side * factor) / 2);
  const out = new Float64Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let sum = 0;
      for (let j = 0; j < factor; j++) {
        const rowStart = ((y0 + y * factor + j) * image.width + x0 + x * factor) * 3;
        sum += luma(image.data.subarray(rowStart, rowStart + factor * 3), factor).reduce((a, b) => a + b, 0);
      }
      out[y * side + x] = sum / (factor * factor);
    }
  }
  return taper(out, side, side);
}

export function measureAlignment(sharp: FloatImage, blurry: FloatImage): Alignment {
  const shortSide = Math.min(sharp.width, sharp.height);
  // Downscale so blur of tens of pixels shrinks to a few, and compare a square of the frame's centre.
  const factor = Math.max(1, Math.min(8, Math.floor(shortSide / WINDOW)));
  let side = WINDOW;
  while (side * factor > shortSide) side /= 2;
  const a = realToSpectrum(centralLuma(sharp, factor, side), side, side);
  const b = realToSpectrum(centralLuma(blurry, factor, side), side, side);
  const re = new Float64Array(a.re.length);
  const im = new Float64Array(a.re.length);
  for (let i = 0; i < re.length; i++) {
    // Cross-power spectrum B conj(A), partly whitened.
    const r = b.re[i] * a.re[i] + b.im[i] * a.im[i];
    const m = b.im[i] * a.re[i] - b.re[i] * a.im[i];
    const scale = (Math.hypot(r, m) + 1e-12) ** WHITENING;
    re[i] = r / scale;
    im[i] = m / scale;
  }
  const surface = spectrumToReal({ width: side, height: side, re, im });
  let peak = 0;
  let sumSquares = 0;
  for (let i = 0; i < surface.length; i++) {
    sumSquares += surface[i] ** 2;
    if (surface[i] > surface[peak]) peak = i;
  }
  const rms = Math.sqrt(sumSquares / surface.length) || 1;
  const wrap = (v: number): number => (v > side / 2 ? v - side : v);
  return {
    dx: wrap(peak % side) * factor,
    dy: wrap(Math.floor(peak / side)) * factor,
    confidence: surface[peak] / rms,
  };
}

/** Two photos of different sizes cannot be a pair: G compares them pixel by pixel. */
export function checkSameSize(sharp: FloatImage, blurry: FloatImage): void {
  if (sharp.width !== blurry.width || sharp.height !== blurry.height) {
    throw new Error(
      `The sharp photo is ${sharp.width}x${sharp.height} and the blurry one ${blurry.width}x${blurry.height}: ` +
        'a kernel can only be read from two photos of the same size and framing.',
    );
  }
}

/** What is wrong with a measured alignment (another scene, too large an offset), or null. */
export function alignmentProblem(alignment: Alignment): string | null {
  if (alignment.confidence < MIN_PAIR_CONFIDENCE) {
    return (
      'These two photos do not seem to show the same scene (their structures do not match). Pick a sharp ' +
      'and a blurry shot of the same subject, taken from the same position.'
    );
  }
  if (Math.hypot(alignment.dx, alignment.dy) > MAX_PAIR_OFFSET) {
    return (
      `The blurry photo is offset by ${alignment.dx}, ${alignment.dy} pixels from the sharp one. Align the two ` +
      `(within ${MAX_PAIR_OFFSET} pixels) before reading a kernel from them.`
    );
  }
  return null;
}

/**
 * Checks that a blur can be read from the pair: same size, same scene, offset within MAX_PAIR_OFFSET.
 * Throws a message saying what to fix; returns the measured alignment.
 */
export function checkPairAlignment(sharp: FloatImage, blurry: FloatImage): Alignment {
  checkSameSize(sharp, blurry);
  const alignment = measureAlignment(sharp, blurry);
  const problem = alignmentProblem(alignment);
  if (problem) throw new Error(problem);
  return alignment;
}
