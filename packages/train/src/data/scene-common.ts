/**
 * What the two synthetic scene generators share: their options and output, the option check, and the colour
 * helpers both draw with. Everything here is deterministic arithmetic (see rng.ts for why that matters).
 */
import type { SeededRng } from './rng.ts';

/** Common options of the scene generators. */
export interface SyntheticSceneOptions {
  /** Any safe integer; the same seed gives byte-identical output. */
  seed: number;
  /** Image width in pixels, an integer >= 32. */
  width: number;
  /** Image height in pixels, an integer >= 32. */
  height: number;
}

/** One generated image with its binary mask. */
export interface SyntheticSample {
  width: number;
  height: number;
  /** RGB, row-major HWC, 8 bits per channel: `width * height * 3` bytes. */
  image: Uint8Array;
  /** One byte per pixel, 0 or 1 (1 = building for aerial scenes, car for car scenes). */
  mask: Uint8Array;
}

export type Rgb = readonly [number, number, number];

export const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
export const TAU = 6.283185307179586;

export function checkOptions({ seed, width, height }: SyntheticSceneOptions): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 32 || v > 8192)
      throw new RangeError(`${name} must be an integer in [32, 8192], got ${v}`);
  }
}

export function jitter(rng: SeededRng, c: Rgb, amount: number): Rgb {
  const g = 1 + rng.range(-amount, amount);
  return [
    clamp01(c[0] * g * (1 + rng.range(-amount, amount) * 0.4)),
    clamp01(c[1] * g * (1 + rng.range(-amount, amount) * 0.4)),
    clamp01(c[2] * g * (1 + rng.range(-amount, amount) * 0.4)),
  ];
}

// Exponentiation is not required to be correctly rounded, so squares are spelled out.
export const sq = (v: number) => v * v;
export const mod = (a: number, p: number) => ((a % p) + p) % p;
export const grey = (v: number, tint = 0): Rgb => [v * (1 + tint), v, v * (1 - tint)];
