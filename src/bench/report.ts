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
