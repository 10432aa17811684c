// Shared bits of the benchmarks: PSNR and a plain-text table.

/** PSNR in dB of two images with values in [0, 1] (the first is clipped to that range). */
export function psnr(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.min(1, Math.max(0, a[i])) - b[i];
    sum += d * d;
  }
  return 10 * Math.log10(1 / Math.max(sum / a.length, 1e-12));
}

/**
 * x mapped by the per-channel cubic curve that brings it closest to y (least squares): what a model that
 * learned only the capture's tone curve, and none of the blur, could reach at best.
 */
export function bestToneCurve(x: Float32Array, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let c = 0; c < 3; c++) {
    // Normal equations of y ≈ sum_j w_j x^j, j = 0..3, as a 4 x 5 augmented matrix.
    const m = Array.from({ length: 4 }, () => new Array<number>(5).fill(0));
    for (let i = c; i < x.length; i += 3) {
      const powers = [1, x[i]!, x[i]! ** 2, x[i]! ** 3];
      for (let r = 0; r < 4; r++) {
        m[r]![4]! += powers[r]! * y[i]!;
        for (let k = 0; k < 4; k++) m[r]![k]! += powers[r]! * powers[k]!;
      }
    }
    for (let r = 0; r < 4; r++) {
      const pivot = m
        .slice(r)
        .reduce((best, row, i) => (Math.abs(row[r]!) > Math.abs(m[best]![r]!) ? r + i : best), r);
      [m[r], m[pivot]] = [m[pivot]!, m[r]!];
      for (let other = 0; other < 4; other++) {
        if (other === r) continue;
        const f = m[other]![r]! / m[r]![r]!;
        for (let k = r; k < 5; k++) m[other]![k]! -= f * m[r]![k]!;
      }
    }
    const w = m.map((row, r) => row[4]! / row[r]!);
    for (let i = c; i < x.length; i += 3) out[i] = w[0]! + x[i]! * (w[1]! + x[i]! * (w[2]! + x[i]! * w[3]!));
  }
  return out;
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** Mean SSIM of the luma (8x8 windows, stride 4): a cheap, dependency-free structural score. */
export function ssim(
  a: { width: number; height: number; data: Float32Array },
  b: { data: Float32Array },
): number {
  const { width, height } = a;
  const lumaAt = (data: Float32Array, i: number): number =>
    0.299 * Math.min(1, Math.max(0, data[3 * i])) +
    0.587 * Math.min(1, Math.max(0, data[3 * i + 1])) +
    0.114 * Math.min(1, Math.max(0, data[3 * i + 2]));
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  let total = 0;
  let windows = 0;
  for (let y = 0; y + 8 <= height; y += 4) {
    for (let x = 0; x + 8 <= width; x += 4) {
      let ma = 0,
        mb = 0,
        va = 0,
        vb = 0,
        cov = 0;
      for (let j = 0; j < 8; j++) {
        for (let i = 0; i < 8; i++) {
          const p = (y + j) * width + x + i;
          const u = lumaAt(a.data, p);
          const v = lumaAt(b.data, p);
          ma += u;
          mb += v;
          va += u * u;
          vb += v * v;
          cov += u * v;
        }
      }
      ma /= 64;
      mb /= 64;
      va = va / 64 - ma * ma;
      vb = vb / 64 - mb * mb;
      cov = cov / 64 - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      windows++;
    }
  }
  return total / windows;
}
