import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import type { PairInfo } from './data';

export interface ContactSheetOptions {
  /** Pairs per row (default 4). */
  columns?: number;
  /** A line under each pair saying what was sampled (default true). */
  labels?: boolean;
}

interface SheetPair {
  sharp: Float32Array;
  blurry: Float32Array;
  width: number;
  height: number;
  info?: PairInfo;
}

const GAP = 4;
const LABEL_HEIGHT = 14;

function toBytes(data: Float32Array): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, data[i])) * 255);
  return out;
}

function describe(info: PairInfo): string {
  const what =
    info.kind === 'gopro'
      ? `frames ${info.frames?.[0]}-${info.frames?.at(-1)}`
      : info.kind === 'shake'
        ? `shake ${info.shake?.blurPx.toFixed(1)} px`
        : `${info.kernel?.id} s${info.kernel?.symmetry}`;
  return `#${info.index} ${what} ${info.source.split('/').at(-1)}`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A PNG grid of sharp | blurry pairs on a grey background. */
export async function writeContactSheet(
  pairs: readonly SheetPair[],
  outPath: string,
  opts: ContactSheetOptions = {},
): Promise<void> {
  if (pairs.length === 0) throw new RangeError('no pairs to draw');
  const columns = Math.max(1, Math.min(opts.columns ?? 4, pairs.length));
  const labels = opts.labels ?? true;
  const cellW = Math.max(...pairs.map((p) => p.width)) * 2 + GAP;
  const cellH = Math.max(...pairs.map((p) => p.height)) + (labels ? LABEL_HEIGHT : 0);
  const rows = Math.ceil(pairs.length / columns);
  const width = columns * (cellW + GAP) + GAP;
  const height = rows * (cellH + GAP) + GAP;
  const layers: OverlayOptions[] = [];
  pairs.forEach((p, i) => {
    const left = GAP + (i % columns) * (cellW + GAP);
    const top = GAP + Math.floor(i / columns) * (cellH + GAP);
    const raw = { width: p.width, height: p.height, channels: 3 as const };
    layers.push({ input: toBytes(p.sharp), raw, left, top });
    layers.push({ input: toBytes(p.blurry), raw, left: left + p.width + GAP, top });
    if (labels && p.info) {
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="${cellW}" height="${LABEL_HEIGHT}">` +
        `<text x="1" y="${LABEL_HEIGHT - 3}" font-family="sans-serif" font-size="11" fill="#fff">` +
        `${escapeXml(describe(p.info))}</text></svg>`;
      layers.push({ input: Buffer.from(svg), left, top: top + p.height });
    }
  });
  await mkdir(dirname(outPath), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: { r: 48, g: 48, b: 48 } } })
    .composite(layers)
    .toFile(outPath); // PNG or JPEG, by the path's extension
}
