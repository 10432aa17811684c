import sharp from 'sharp';
import { applyTone, quantise8, type ToneCurve } from '../core/colour';
import type { Rng } from '../core/rng';

/** Switch parts of the capture simulation off, e.g. to test the blur alone. All default to true. */
export interface CaptureOptions {
  noise?: boolean;
  jpeg?: boolean;
  /** Random camera response curves; off means plain sRGB. */
  tone?: boolean;
  /** Occasional over-exposure with boosted highlights that saturate (light streaks in the blurry image). */
  highlights?: boolean;
}

export interface CaptureParams {
  /** Linear gain on the whole scene. */
  exposure: number;
  /** Pixels whose brightest channel exceeds `threshold` (linear) are boosted up to `gain` times at white. */
  highlights: { threshold: number; gain: number } | null;
  tone: ToneCurve;
  /** Poisson-Gaussian: variance = shot * signal + read^2, signal in linear [0, 1]. */
  noise: { shot: number; read: number } | null;
  jpegQuality: number | null;
  chroma: '4:2:0' | '4:4:4';
}

export function sampleCapture(rng: Rng, opts: CaptureOptions = {}): CaptureParams {
  const bright = (opts.highlights ?? true) && rng.chance(0.3);
  const withTone = opts.tone ?? true;
  return {
    exposure: bright ? rng.uniform(1, 1.3) : 1,
    highlights: bright ? { threshold: rng.uniform(0.7, 0.95), gain: rng.uniform(2, 6) } : null,
    tone: withTone
      ? { gamma: rng.uniform(0.9, 1.1), contrast: rng.uniform(-0.1, 0.4) }
      : { gamma: 1, contrast: 0 },
    noise:
      (opts.noise ?? true) ? { shot: rng.logUniform(1e-4, 3e-3), read: rng.logUniform(5e-4, 5e-3) } : null,
    jpegQuality: (opts.jpeg ?? true) ? rng.int(70, 95) : null,
    chroma: rng.chance(0.7) ? '4:2:0' : '4:4:4',
  };
}

/** Scene radiance from the (display-referred) linear photo: exposure and boosted highlights, in place. */
export function expose(linear: Float32Array, p: CaptureParams): void {
  const { exposure, highlights } = p;
  if (exposure === 1 && !highlights) return;
  const t = highlights?.threshold ?? 1;
  const extra = highlights ? highlights.gain - 1 : 0;
  for (let i = 0; i < linear.length; i += 3) {
    const m = Math.max(linear[i], linear[i + 1], linear[i + 2]);
    const w = m > t ? ((m - t) / (1 - t)) ** 2 : 0;
    const g = exposure * (1 + extra * w);
    linear[i] *= g;
    linear[i + 1] *= g;
    linear[i + 2] *= g;
  }
}

/** Sensor: clip, Poisson-Gaussian noise (Gaussian approximation), clip again; in place. */
function addNoise(linear: Float32Array, noise: { shot: number; read: number }, rng: Rng): void {
  const read2 = noise.read * noise.read;
  for (let i = 0; i < linear.length; i++) {
    const s = Math.min(1, Math.max(0, linear[i]));
    const v = s + Math.sqrt(noise.shot * s + read2) * rng.normal();
    linear[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

async function jpegRoundTrip(
  data: Float32Array,
  width: number,
  height: number,
  quality: number,
  chroma: CaptureParams['chroma'],
): Promise<Float32Array> {
  const encoded = await sharp(quantise8(data), { raw: { width, height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: chroma })
    .toBuffer();
  const decoded = await sharp(encoded).raw().toBuffer();
  const out = new Float32Array(decoded.length);
  for (let i = 0; i < decoded.length; i++) out[i] = decoded[i] / 255;
  return out;
}

/**
 * Finish a pair given the exposed scene radiance: the sharp image only goes through the response curve;
 * the blurry one also gets sensor noise and JPEG compression. Both buffers are reused.
 */
export async function develop(
  sharpLinear: Float32Array,
  blurryLinear: Float32Array,
  width: number,
  height: number,
  p: CaptureParams,
  noiseRng: Rng,
): Promise<{ sharp: Float32Array; blurry: Float32Array }> {
  if (p.noise) addNoise(blurryLinear, p.noise, noiseRng);
  applyTone(sharpLinear, p.tone);
  applyTone(blurryLinear, p.tone);
  const blurry =
    p.jpegQuality === null
      ? blurryLinear
      : await jpegRoundTrip(blurryLinear, width, height, p.jpegQuality, p.chroma);
  return { sharp: sharpLinear, blurry };
}
