/** sRGB transfer functions and the random camera response curves of the capture simulation. */

export function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}

export function linearToSrgb(v: number): number {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** f on [0, 1] from `entries` + 1 samples, interpolated linearly (inputs clamped): for hot loops. */
export function lookupTable(f: (v: number) => number, entries: number): (v: number) => number {
  const table = Float64Array.from({ length: entries + 1 }, (_, i) => f(i / entries));
  return (v) => {
    const a = Math.min(1, Math.max(0, v)) * entries;
    const i = Math.min(entries - 1, Math.floor(a));
    return table[i] + (a - i) * (table[i + 1] - table[i]);
  };
}

/** srgbToLinear from a table, for per-pixel loops. */
export const srgbToLinearTable = lookupTable(srgbToLinear, 4096);

/** Linear value of each 8-bit sRGB code. */
export const SRGB8_TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => srgbToLinear(i / 255));

/**
 * A camera response: sRGB encoding, then a power `gamma` and a cubic S-curve of strength `contrast`
 * (monotonic and fixing 0 and 1 for contrast in (-2, 2)). gamma 1, contrast 0 is plain sRGB.
 */
export interface ToneCurve {
  gamma: number;
  contrast: number;
}

export const SRGB_TONE: ToneCurve = { gamma: 1, contrast: 0 };

function tone(x: number, curve: ToneCurve): number {
  const v = Math.pow(linearToSrgb(x), curve.gamma);
  return v + curve.contrast * (v - 0.5) * v * (1 - v) * 4;
}

const LUT_SIZE = 4096;
const lutCache = new Map<string, Float32Array>();

function toneLut(curve: ToneCurve): Float32Array {
  const key = `${curve.gamma}/${curve.contrast}`;
  let lut = lutCache.get(key);
  if (!lut) {
    lut = Float32Array.from({ length: LUT_SIZE + 1 }, (_, i) => tone(i / LUT_SIZE, curve));
    // Random curves are used once per pair: keep only the last few.
    if (lutCache.size > 8) lutCache.delete(lutCache.keys().next().value as string);
    lutCache.set(key, lut);
  }
  return lut;
}

/** Clip linear values to [0, 1] and apply the response curve in place (piecewise-linear LUT, error < 3e-5). */
export function applyTone(data: Float32Array, curve: ToneCurve = SRGB_TONE): Float32Array {
  const lut = toneLut(curve);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (!(x > 0)) data[i] = lut[0];
    else if (x >= 1) data[i] = lut[LUT_SIZE];
    else {
      const f = x * LUT_SIZE;
      const j = f | 0;
      data[i] = lut[j] + (f - j) * (lut[j + 1] - lut[j]);
    }
  }
  return data;
}

/** 8-bit sRGB to linear float. */
export function decodeSrgb8(src: Uint8Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = SRGB8_TO_LINEAR[src[i]];
  return out;
}

/** 0..1 floats to 8-bit values, clipped (a plain loop: Uint8Array.from with a callback is far slower). */
export function quantise8(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, data[i])) * 255);
  return out;
}
