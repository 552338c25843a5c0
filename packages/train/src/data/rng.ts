/**
 * Seeded randomness and noise for the synthetic data generators.
 *
 * Everything here uses only integer ops, + - * / and Math.sqrt/floor, which IEEE 754 and the ECMAScript spec pin
 * down exactly; Math.sin, Math.exp and friends are implementation-approximated, so the few we need are computed
 * here by polynomial. That keeps a scene byte-identical for a given seed on every engine and CPU.
 */

/** Avalanche hash of one 32-bit word (the murmur3 finaliser). */
export function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash of an integer lattice point and a seed to a uniform 32-bit word. */
export function hash3(x: number, y: number, seed: number): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(x | 0, 0x27d4eb2d));
  return mix32(h ^ Math.imul(y | 0, 0x165667b1));
}

/** Reduces any safe-integer seed (negative or above 2^32 included) to a well-mixed 32-bit state. */
export function seedToU32(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return mix32(lo ^ mix32(hi + 0x632be5ab));
}

/**
 * A small seeded PRNG (mulberry32). `fork` derives independent streams, so one part of a scene can draw more numbers
 * without shifting everything drawn after it.
 */
export class SeededRng {
  private state: number;

  /** @param state32 an already mixed 32-bit state; use {@link SeededRng.fromSeed} for user seeds. */
  constructor(state32: number) {
    this.state = state32 >>> 0;
  }

  /** A generator for a user-facing integer seed. */
  static fromSeed(seed: number): SeededRng {
    return new SeededRng(seedToU32(seed));
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Approximately standard normal (Irwin–Hall sum of four uniforms: no transcendental functions needed). */
  normal(): number {
    return (this.next() + this.next() + this.next() + this.next() - 2) * 1.7320508075688772;
  }

  /** Uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Index drawn with probability proportional to `weights[i]` (non-negative, not all zero). */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** An independent generator; `salt` separates streams forked at the same point. */
  fork(salt = 0): SeededRng {
    return new SeededRng(mix32(this.nextU32() ^ mix32(salt + 0x51ed270b)));
  }
}

const TWO_PI = 6.283185307179586;
const HALF_PI = 1.5707963267948966;

/** sin(x) by range reduction and a degree-11 Taylor polynomial (abs error < 1e-7): exact same bits everywhere. */
export function detSin(x: number): number {
  // Reduce to [-pi, pi], then fold into [-pi/2, pi/2] where the series converges fast.
  let r = x - TWO_PI * Math.floor(x / TWO_PI + 0.5);
  if (r > HALF_PI) r = Math.PI - r;
  else if (r < -HALF_PI) r = -Math.PI - r;
  const r2 = r * r;
  return (
    r *
    (1 + r2 * (-1 / 6 + r2 * (1 / 120 + r2 * (-1 / 5040 + r2 * (1 / 362880 + r2 * (-1 / 39916800 + r2 / 6227020800))))))
  );
}

/** cos(x) through {@link detSin}. */
export function detCos(x: number): number {
  return detSin(x + HALF_PI);
}

/**
 * Fractal value noise over a whole raster: `octaves` layers of smoothly interpolated lattice noise, the first with
 * cells of `cellPx` pixels, each next one half the cell size and `gain` times the amplitude. Values lie in [0, 1]
 * and cluster around 0.5.
 */
export function fbmField(
  width: number,
  height: number,
  seed: number,
  cellPx: number,
  octaves: number,
  gain = 0.5,
): Float32Array {
  const out = new Float32Array(width * height);
  let amp = 1;
  let ampSum = 0;
  let cell = cellPx;
  const wx = new Float64Array(width);
  const ix = new Int32Array(width);
  for (let o = 0; o < octaves; o++) {
    const c = Math.max(cell, 1);
    const gw = Math.floor(width / c) + 2;
    const gh = Math.floor(height / c) + 2;
    const octSeed = mix32(seed + Math.imul(o + 1, 0x3c6ef372));
    const lattice = new Float32Array(gw * gh);
    for (let j = 0; j < gh; j++) {
      for (let i = 0; i < gw; i++) lattice[j * gw + i] = hash3(i, j, octSeed) / 4294967296;
    }
    // Per-column index and smoothstep weight are shared by every row.
    for (let x = 0; x < width; x++) {
      const fx = (x + 0.5) / c;
      const i0 = Math.floor(fx);
      const t = fx - i0;
      ix[x] = i0;
      wx[x] = t * t * (3 - 2 * t);
    }
    for (let y = 0; y < height; y++) {
      const fy = (y + 0.5) / c;
      const j0 = Math.floor(fy);
      const ty = fy - j0;
      const sy = ty * ty * (3 - 2 * ty);
      const row0 = j0 * gw;
      const row1 = row0 + gw;
      const base = y * width;
      for (let x = 0; x < width; x++) {
        const i0 = ix[x] as number;
        const sx = wx[x] as number;
        const a = lattice[row0 + i0] as number;
        const b = lattice[row0 + i0 + 1] as number;
        const cc = lattice[row1 + i0] as number;
        const d = lattice[row1 + i0 + 1] as number;
        const top = a + (b - a) * sx;
        const bot = cc + (d - cc) * sx;
        out[base + x] = (out[base + x] as number) + amp * (top + (bot - top) * sy);
      }
    }
    ampSum += amp;
    amp *= gain;
    cell /= 2;
  }
  const inv = 1 / ampSum;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) * inv;
  return out;
}
