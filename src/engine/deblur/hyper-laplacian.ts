// The w-step of half-quadratic splitting with a hyper-Laplacian prior (Krishnan & Fergus 2009):
// w* = argmin_w |w|^alpha + beta/2 (w - v)^2, tabulated per beta and interpolated.

const TABLE_SIZE = 4096;
const TABLE_RANGE = 2;

function solve(v: number, alpha: number, beta: number): number {
  const a = Math.abs(v);
  if (a === 0) return 0;
  // The non-zero minimiser lies in (0, |v|]; Newton from |v| decreases monotonically towards it.
  let w = a;
  for (let i = 0; i < 30; i++) {
    const g = alpha * w ** (alpha - 1) + beta * (w - a);
    const h = alpha * (alpha - 1) * w ** (alpha - 2) + beta;
    if (h <= 0) return 0;
    const next = w - g / h;
    if (next <= 0) return 0;
    if (Math.abs(next - w) < 1e-12) {
      w = next;
      break;
    }
    w = next;
  }
  const energy = w ** alpha + (beta / 2) * (w - a) ** 2;
  return energy < (beta / 2) * a * a ? Math.sign(v) * w : 0;
}

/** Shrinkage for one (alpha, beta): maps a gradient value to its split variable. */
export class Shrinkage {
  private readonly table = new Float64Array(TABLE_SIZE + 1);
  private readonly scale = TABLE_SIZE / TABLE_RANGE;

  constructor(
    readonly alpha: number,
    readonly beta: number,
  ) {
    for (let i = 0; i <= TABLE_SIZE; i++) this.table[i] = solve(i / this.scale, alpha, beta);
  }

  apply(v: number): number {
    const a = Math.abs(v) * this.scale;
    // Far out the shrinkage v - w(v) is nearly constant (it decays like |v|^(alpha - 1)).
    if (a >= TABLE_SIZE) return v - Math.sign(v) * (TABLE_RANGE - this.table[TABLE_SIZE]);
    const i = Math.floor(a);
    const f = a - i;
    const w = this.table[i] + f * (this.table[i + 1] - this.table[i]);
    return v < 0 ? -w : w;
  }
}

const cache = new Map<string, Shrinkage>();

/** A shared Shrinkage: its table costs more to build than to use on a small image. */
export function shrinkage(alpha: number, beta: number): Shrinkage {
  const key = `${alpha}:${beta}`;
  let s = cache.get(key);
  if (!s) {
    s = new Shrinkage(alpha, beta);
    cache.set(key, s);
  }
  return s;
}
