// Writes the synthetic test photos and blur kernels in test/fixtures/images and test/fixtures/kernels, so the
// unit tests run without ../shared/data. Deterministic: run from the repository root with
// `node scripts/make-test-images.js`; the files are committed, so this only needs rerunning to change them.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');
const IMAGES = path.join(FIXTURES, 'images');
const KERNELS = path.join(FIXTURES, 'kernels');

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Smoothly interpolated random values on a grid of `cell` pixels, in [-1, 1]. */
function valueNoise(width, height, cell, rand) {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => rand() * 2 - 1);
  const smooth = (t) => t * t * (3 - 2 * t);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = Math.floor(y / cell);
    const ty = smooth(y / cell - gy);
    for (let x = 0; x < width; x++) {
      const gx = Math.floor(x / cell);
      const tx = smooth(x / cell - gx);
      const i = gy * gw + gx;
      const top = grid[i] + (grid[i + 1] - grid[i]) * tx;
      const bottom = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * tx;
      out[y * width + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}

/** Octaves of value noise with amplitude cell^power: power ~1 gives a photograph's 1/f spectrum. */
function fractal(width, height, rand, cells, power = 1) {
  const out = new Float32Array(width * height);
  for (const cell of cells) {
    const layer = valueNoise(width, height, cell, rand);
    const amplitude = cell ** power;
    for (let i = 0; i < out.length; i++) out[i] += amplitude * layer[i];
  }
  let sq = 0;
  for (const v of out) sq += v * v;
  const scale = 1 / Math.sqrt(sq / out.length);
  return out.map((v) => v * scale);
}

/** Interleaved RGB floats in [0, 1] from per-pixel functions. */
function rgb(width, height, pixel) {
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const [r, g, b] = pixel(p);
    out[3 * p] = r;
    out[3 * p + 1] = g;
    out[3 * p + 2] = b;
  }
  return out;
}

const toBytes = (data) => Uint8Array.from(data, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
const raw = (data, width, height) => sharp(toBytes(data), { raw: { width, height, channels: 3 } });

/** Stones and moss: multi-scale texture with hard-edged regions, like a close-up of the ground. */
function texture(width, height) {
  const rand = random(1);
  const light = fractal(width, height, rand, [96, 48, 24, 12, 6, 3, 1.5], 0.6);
  const hue = fractal(width, height, rand, [120, 60]);
  const stones = fractal(width, height, rand, [48, 24, 12], 1.2);
  const grain = fractal(width, height, rand, [2, 1]);
  return rgb(width, height, (p) => {
    const stone = stones[p] > 0.5;
    const l = (stone ? 0.6 : 0.36) + 0.12 * light[p] + 0.04 * grain[p];
    const h = 0.06 * hue[p];
    return stone ? [l + 0.04, l + 0.02 - h, l - 0.02] : [l - 0.1 + h, l + 0.05, l - 0.15 - h];
  });
}

/** A street-like scene: a sky gradient, blocks, windows, poles and discs, with fine grain over it. */
async function shapes(width, height) {
  const rand = random(2);
  const pick = (lo, hi) => Math.round(lo + rand() * (hi - lo));
  const colour = () => `rgb(${pick(20, 235)},${pick(20, 235)},${pick(20, 235)})`;
  const parts = [
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0.3" y2="1">` +
      `<stop offset="0" stop-color="#6f9fd8"/><stop offset="1" stop-color="#e8d9b0"/></linearGradient></defs>`,
    `<rect width="${width}" height="${height}" fill="url(#sky)"/>`,
  ];
  for (let x = -10; x < width; x += pick(30, 70)) {
    const w = pick(36, 90);
    const h = pick(height * 0.3, height * 0.85);
    const top = height - h;
    parts.push(`<rect x="${x}" y="${top}" width="${w}" height="${h}" fill="${colour()}"/>`);
    const windows = colour();
    for (let wy = top + 8; wy < height - 14; wy += pick(14, 22)) {
      for (let wx = x + 5; wx < x + w - 9; wx += pick(10, 16))
        parts.push(`<rect x="${wx}" y="${wy}" width="6" height="9" fill="${windows}"/>`);
    }
  }
  for (let i = 0; i < 6; i++)
    parts.push(
      `<circle cx="${pick(0, width)}" cy="${pick(0, height)}" r="${pick(5, 24)}" fill="${colour()}"/>`,
    );
  for (let i = 0; i < 6; i++) {
    const x = pick(0, width);
    parts.push(
      `<line x1="${x}" y1="${pick(0, height / 2)}" x2="${x + pick(-40, 40)}" y2="${height}" ` +
        `stroke="${colour()}" stroke-width="${pick(1, 5)}"/>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  const drawn = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer();
  const grain = fractal(width, height, rand, [4, 2, 1]);
  return Float32Array.from(drawn, (v, i) => v / 255 + 0.025 * grain[Math.floor(i / 3)]);
}

/** Blades of grass: dense fine strokes with no structure larger than a blade. */
async function grass(width, height) {
  const rand = random(3);
  const parts = [`<rect width="${width}" height="${height}" fill="#2f4a1c"/>`];
  for (let i = 0; i < 2600; i++) {
    const x = rand() * width;
    const y = rand() * height;
    const angle = (rand() - 0.5) * 1.2;
    const length = 6 + rand() * 12;
    const g = Math.round(90 + rand() * 120);
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="${y.toFixed(1)}" x2="${(x + length * Math.sin(angle)).toFixed(1)}" ` +
        `y2="${(y - length * Math.cos(angle)).toFixed(1)}" stroke="rgb(${Math.round(g * 0.55)},${g},${Math.round(g * 0.3)})" ` +
        `stroke-width="${(0.8 + rand()).toFixed(1)}"/>`,
    );
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
  return sharp(Buffer.from(svg)).removeAlpha().jpeg({ quality: 88 });
}

/** A kernel from points along a path, splatted bilinearly into a size x size grid and normalised. */
function pathKernel(size, points) {
  const k = new Float64Array(size * size);
  const c = (size - 1) / 2;
  for (const [px, py] of points) {
    const x = c + px;
    const y = c + py;
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    for (const [dx, dy] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ]) {
      const w = (dx ? x - x0 : 1 - x + x0) * (dy ? y - y0 : 1 - y + y0);
      if (x0 + dx >= 0 && x0 + dx < size && y0 + dy >= 0 && y0 + dy < size)
        k[(y0 + dy) * size + x0 + dx] += w;
    }
  }
  return normalised(k);
}

function gaussianKernel(size, sx, sy, angle) {
  const k = new Float64Array(size * size);
  const c = (size - 1) / 2;
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x - c) * cos + (y - c) * sin;
      const v = -(x - c) * sin + (y - c) * cos;
      k[y * size + x] = Math.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2));
    }
  }
  return normalised(k);
}

function normalised(k) {
  const sum = k.reduce((a, b) => a + b, 0);
  return Array.from(k, (v) => Number((v / sum).toPrecision(6)));
}

/** Points along a curve t -> (x(t), y(t)), t in [0, 1]: a hand-shake trail, uneven in speed. */
const curve = (steps, f) => Array.from({ length: steps }, (_, i) => f(i / (steps - 1)));

const kernels = [
  { id: 'gauss_1', size: 25, data: gaussianKernel(25, 1.2, 1.2, 0) },
  { id: 'gauss_3', size: 25, data: gaussianKernel(25, 3, 3, 0) },
  { id: 'aniso_gauss', size: 25, data: gaussianKernel(25, 4, 1.3, 0.6) },
  {
    id: 'motion_line',
    size: 25,
    data: pathKernel(
      25,
      curve(60, (t) => [9 * (t - 0.5) * 2, 4 * (t - 0.5) * 2]),
    ),
  },
  {
    id: 'motion_arc',
    size: 25,
    data: pathKernel(
      25,
      curve(80, (t) => {
        const a = Math.PI * (0.55 + 0.9 * t);
        return [5 * Math.cos(a) + 2, 9 * Math.sin(a)];
      }),
    ),
  },
  {
    id: 'motion_large',
    size: 67,
    data: pathKernel(
      67,
      curve(300, (t) => [-28 + 50 * t + 6 * Math.sin(9 * t), 20 - 38 * t ** 1.5 + 8 * Math.sin(4 * t)]),
    ),
  },
];

mkdirSync(IMAGES, { recursive: true });
mkdirSync(KERNELS, { recursive: true });
writeFileSync(
  path.join(KERNELS, 'kernels.json'),
  JSON.stringify({
    note: 'Synthetic test kernels (scripts/make-test-images.js), row-major, each summing to 1: blurry = correlate(sharp, k).',
    kernels: kernels.map((k) => ({ id: k.id, shape: [k.size, k.size], data: k.data })),
  }) + '\n',
);

const [W, H] = [480, 360];
await raw(texture(W, H), W, H).jpeg({ quality: 90 }).toFile(path.join(IMAGES, 'texture.jpg'));
const street = await shapes(W, H);
await raw(street, W, H).jpeg({ quality: 92 }).toFile(path.join(IMAGES, 'street.jpg'));
await (await grass(320, 240)).toFile(path.join(IMAGES, 'grass.jpg'));

// A 256 px crop of the street moved along the arc-shaped trail in linear light, with a little sensor noise:
// a motion-blurred photo with no sharp original beside it.
const arc = kernels.find((k) => k.id === 'motion_arc');
const side = 256;
const [ox, oy] = [(W - side) >> 1, (H - side) >> 1];
const toLinear = (v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toSrgb = (v) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
const noise = random(4);
const blurred = new Float32Array(side * side * 3);
for (let y = 0; y < side; y++) {
  for (let x = 0; x < side; x++) {
    for (let ch = 0; ch < 3; ch++) {
      let sum = 0;
      for (let i = 0; i < arc.size; i++) {
        for (let j = 0; j < arc.size; j++) {
          const w = arc.data[i * arc.size + j];
          if (w === 0) continue;
          const sy = Math.min(H - 1, Math.max(0, oy + y + i - 12));
          const sx = Math.min(W - 1, Math.max(0, ox + x + j - 12));
          sum += w * toLinear(Math.min(1, Math.max(0, street[(sy * W + sx) * 3 + ch])));
        }
      }
      blurred[(y * side + x) * 3 + ch] = toSrgb(sum) + 0.01 * (noise() - 0.5);
    }
  }
}
await raw(blurred, side, side).jpeg({ quality: 95 }).toFile(path.join(IMAGES, 'motion-blurred.jpg'));
