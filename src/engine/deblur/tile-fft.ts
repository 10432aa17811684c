// Real 2D FFTs for the deconvolution tiles and the blind kernel fit, on PFFFT compiled to WebAssembly with
// SIMD (@echogarden/pffft-wasm, single precision), several times faster than the JavaScript radix-2 FFT it
// replaced (docs/decisions/0005-pffft-for-ffts.md). Rows go through real transforms, the non-redundant
// columns through complex ones. Spectra stay transposed: the deconvolution only multiplies spectra
// pointwise, and every spectrum it uses comes from this class, so the layout never matters and saves a
// transpose per transform.
import createPffft from '@echogarden/pffft-wasm/simd';
import { nextPowerOfTwo } from '../core/fft';

const pffft = await createPffft();
const REAL = 0;
const COMPLEX = 1;
const FORWARD = 0;
const BACKWARD = 1;

/** Smallest tile side: PFFFT's SIMD real transforms need lengths that are multiples of 32. */
export const MIN_TILE_FFT = 32;

/** The FFT side for `n` samples: a power of two, at least MIN_TILE_FFT. */
export function tileFftSize(n: number): number {
  return Math.max(MIN_TILE_FFT, nextPowerOfTwo(n));
}

/**
 * A centred PSF's taps placed in a width x height plane as the kernel of a correlation (blurry =
 * correlate(sharp, psf)): tap (i, j) at offset (c - i, c - j), wrapped, so that the plane's spectrum K gives
 * the blurry spectrum as K times the sharp one.
 */
export function correlationKernelPlane<T extends Samples>(
  weights: ArrayLike<number>,
  size: number,
  width: number,
  height: number,
  plane: T,
): T {
  const c = size >> 1;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const x = (((c - i) % width) + width) % width;
      const y = (((c - j) % height) + height) % height;
      plane[y * width + x] += weights[j * size + i];
    }
  }
  return plane;
}

const setups = new Map<string, number>();
function setup(n: number, kind: typeof REAL | typeof COMPLEX): number {
  const key = `${n} ${kind}`;
  let handle = setups.get(key);
  if (handle === undefined) {
    handle = pffft._pffft_new_setup(n, kind);
    if (!handle) throw new RangeError(`no FFT of size ${n}`);
    setups.set(key, handle);
  }
  return handle;
}

// One scratch block per thread, grown when a larger tile comes: tiles are transformed one at a time.
let scratchPointer = 0;
let scratchFloats = 0;
/** Byte address of at least `floats` floats of WebAssembly memory (valid until the next call). */
function scratch(floats: number): number {
  if (floats > scratchFloats) {
    if (scratchPointer) pffft._pffft_aligned_free(scratchPointer);
    scratchPointer = pffft._pffft_aligned_malloc(floats * 4);
    if (!scratchPointer) throw new RangeError('out of WebAssembly memory for the FFT');
    scratchFloats = floats;
  }
  return scratchPointer;
}

/** Planes and spectra: single precision in the deconvolution (half the memory traffic), double elsewhere. */
export type Samples = Float32Array | Float64Array;

const BLOCK = 32;

/**
 * Visits the complex bins 0 < u < w / 2 of every row in cache-friendly blocks: `row` is the bin's float
 * offset in the rows area (y * w + 2u), `at` its float address in the transposed columns (2 (u h + y)).
 */
function forEachBin(w: number, h: number, visit: (row: number, at: number) => void, columns: number): void {
  const last = w / 2;
  for (let y0 = 0; y0 < h; y0 += BLOCK) {
    for (let u0 = 1; u0 < last; u0 += BLOCK) {
      const u1 = Math.min(last, u0 + BLOCK);
      for (let y = y0; y < y0 + BLOCK; y++) {
        for (let u = u0; u < u1; u++) visit(y * w + 2 * u, columns + 2 * (u * h + y));
      }
    }
  }
}

/**
 * 2D FFTs of real width x height tiles (powers of two, at least MIN_TILE_FFT). Spectra are
 * (width / 2 + 1) x height, transposed: index u * height + v for horizontal frequency u <= width / 2 and
 * vertical frequency v.
 */
export class RealTileFft {
  readonly spectrumSize: number;
  private readonly half: number;
  private readonly rowSetup: number;
  private readonly columnSetup: number;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    if (width < MIN_TILE_FFT || height < MIN_TILE_FFT)
      throw new RangeError(`FFT tiles need sides of at least ${MIN_TILE_FFT}`);
    this.half = width / 2 + 1;
    this.spectrumSize = this.half * height;
    this.rowSetup = setup(width, REAL);
    this.columnSetup = setup(height, COMPLEX);
  }

  /** Layout of the scratch block in floats: the rows, the columns (interleaved complex), PFFFT's work area. */
  private buffers(): { heap: Float32Array; rows: number; columns: number; work: number } {
    const { width: w, height: h, half } = this;
    const base = scratch(w * h + 2 * half * h + 2 * Math.max(w, h)) / 4;
    return { heap: pffft.HEAPF32, rows: base, columns: base + w * h, work: base + w * h + 2 * half * h };
  }

  /** Spectrum of a real row-major plane into (re, im), each of spectrumSize. */
  forward(plane: Samples, re: Samples, im: Samples): void {
    const { width: w, height: h, half } = this;
    const { heap, rows, columns, work } = this.buffers();
    heap.set(plane.subarray(0, w * h), rows);
    for (let y = 0; y < h; y++) {
      const row = (rows + y * w) * 4;
      pffft._pffft_transform_ordered(this.rowSetup, row, row, work * 4, FORWARD);
    }
    // Ordered real spectra are [X0, X(w/2), Re X1, Im X1, ...]: the two real bins share the first slot.
    for (let y = 0; y < h; y++) {
      const row = rows + y * w;
      heap[columns + 2 * y] = heap[row];
      heap[columns + 2 * y + 1] = 0;
      const nyquist = columns + 2 * ((half - 1) * h + y);
      heap[nyquist] = heap[row + 1];
      heap[nyquist + 1] = 0;
    }
    forEachBin(
      w,
      h,
      (row, at) => {
        heap[at] = heap[rows + row];
        heap[at + 1] = heap[rows + row + 1];
      },
      columns,
    );
    for (let u = 0; u < half; u++) {
      const column = (columns + 2 * u * h) * 4;
      pffft._pffft_transform_ordered(this.columnSetup, column, column, work * 4, FORWARD);
    }
    for (let i = 0; i < this.spectrumSize; i++) {
      re[i] = heap[columns + 2 * i];
      im[i] = heap[columns + 2 * i + 1];
    }
  }

  /** The real plane of a spectrum into `plane`; leaves the spectrum as it was. */
  inverse(re: Samples, im: Samples, plane: Samples): void {
    const { width: w, height: h, half } = this;
    const { heap, rows, columns, work } = this.buffers();
    for (let i = 0; i < this.spectrumSize; i++) {
      heap[columns + 2 * i] = re[i];
      heap[columns + 2 * i + 1] = im[i];
    }
    for (let u = 0; u < half; u++) {
      const column = (columns + 2 * u * h) * 4;
      pffft._pffft_transform_ordered(this.columnSetup, column, column, work * 4, BACKWARD);
    }
    // Columns u = 0 and w / 2 of a real plane's spectrum come back real: they share the rows' first slot.
    for (let y = 0; y < h; y++) {
      heap[rows + y * w] = heap[columns + 2 * y];
      heap[rows + y * w + 1] = heap[columns + 2 * ((half - 1) * h + y)];
    }
    forEachBin(
      w,
      h,
      (row, at) => {
        heap[rows + row] = heap[at];
        heap[rows + row + 1] = heap[at + 1];
      },
      columns,
    );
    const scale = 1 / (w * h);
    for (let y = 0; y < h; y++) {
      const row = (rows + y * w) * 4;
      pffft._pffft_transform_ordered(this.rowSetup, row, row, work * 4, BACKWARD);
    }
    for (let i = 0; i < w * h; i++) plane[i] = heap[rows + i] * scale;
  }
}
