/**
 * The embedded classification data set on which the stand-in "ImageNet" VGG11 encoder is pre-trained: seeded
 * images of one of ten object/texture classes (disc, ring, square, triangle, cross, star, crescent, stripes,
 * checkerboard, dots) in a random colour, size, position and rotation, over a textured two-colour background,
 * with pixel noise. A domain of its own: no aerial scenes, no cars — what transfers is what transfers from
 * ImageNet too (edges, corners, colour contrast, texture), not the segmentation task.
 *
 * Like the scene generators it uses only exactly-specified arithmetic (detSin/detCos, no atan2), so an image is
 * byte-identical for its seed on every engine and CPU.
 */
import { detCos, detSin, fbmField, SeededRng } from './rng.ts';

export const SHAPE_CLASSES = [
  'disc',
  'ring',
  'square',
  'triangle',
  'cross',
  'star',
  'crescent',
  'stripes',
  'checkerboard',
  'dots',
] as const;

export type ShapeClass = (typeof SHAPE_CLASSES)[number];

export interface ShapeImage {
  /** RGB, row-major HWC, 8 bits per channel. */
  image: Uint8Array;
  label: number;
  size: number;
}

type Rgb = [number, number, number];

/**
 * Coverage test of class `k` at shape-local coordinates (u, v) (the object's radius is 1) and image coordinates
 * (x', y') rotated into the pattern frame (for the three textures), with `period` their pattern period in pixels.
 */
function inside(k: number, u: number, v: number, xr: number, yr: number, period: number): boolean {
  const r2 = u * u + v * v;
  switch (SHAPE_CLASSES[k]) {
    case 'disc':
      return r2 < 1;
    case 'ring':
      return r2 < 1 && r2 > 0.36;
    case 'square':
      return Math.abs(u) < 0.78 && Math.abs(v) < 0.78;
    case 'triangle':
      // Three half-planes at 120°: an equilateral triangle with circumradius 1.
      return v < 0.5 && 0.866 * u - 0.5 * v < 0.5 && -0.866 * u - 0.5 * v < 0.5;
    case 'cross':
      return (Math.abs(u) < 0.3 && Math.abs(v) < 1) || (Math.abs(v) < 0.3 && Math.abs(u) < 1);
    case 'star': {
      if (r2 >= 1) return false;
      if (r2 < 0.16) return true;
      // cos 5φ from cos φ by Chebyshev's polynomial (no atan2): five points.
      const c = u / Math.sqrt(r2);
      const c5 = c * (5 + c * c * (-20 + 16 * c * c));
      const lobe = (1 + c5) / 2;
      return Math.sqrt(r2) < 0.4 + 0.6 * lobe * lobe;
    }
    case 'crescent':
      return r2 < 1 && (u - 0.5) * (u - 0.5) + v * v > 0.7;
    case 'stripes':
      return xr / period - Math.floor(xr / period) < 0.5;
    case 'checkerboard':
      return (Math.floor(xr / period) + Math.floor(yr / period)) % 2 === 0;
    case 'dots': {
      const fx = xr / period - Math.floor(xr / period) - 0.5;
      const fy = yr / period - Math.floor(yr / period) - 0.5;
      return fx * fx + fy * fy < 0.09;
    }
    default:
      throw new RangeError(`shape class ${k} does not exist (0..${SHAPE_CLASSES.length - 1})`);
  }
}

function randomColour(rng: SeededRng): Rgb {
  return [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
}

function distance(a: Rgb, b: Rgb): number {
  return Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
}

/** One image of `size`×`size` pixels for `seed`; its class is drawn from the seed too. */
export function generateShapeImage(seed: number, size: number): ShapeImage {
  if (!Number.isInteger(size) || size < 8) throw new RangeError(`shape image size must be an integer ≥ 8, got ${size}`);
  const rng = SeededRng.fromSeed(seed);
  const label = rng.int(0, SHAPE_CLASSES.length - 1);
  const bgA = randomColour(rng);
  const bgB = randomColour(rng);
  let fg = randomColour(rng);
  // The object must be visible against both background colours.
  for (let tries = 0; tries < 20 && Math.min(distance(fg, bgA), distance(fg, bgB)) < 120; tries++) {
    fg = randomColour(rng);
  }
  const texture = label >= SHAPE_CLASSES.indexOf('stripes');
  const radius = size * (texture ? rng.range(0.5, 0.75) : rng.range(0.22, 0.42));
  const cx = size * (texture ? 0.5 : rng.range(0.35, 0.65));
  const cy = size * (texture ? 0.5 : rng.range(0.35, 0.65));
  const angle = rng.range(0, 2 * Math.PI);
  const cos = detCos(angle);
  const sin = detSin(angle);
  const period = rng.range(size / 12, size / 5);
  const noise = fbmField(size, size, rng.nextU32(), size / rng.range(1.5, 4), 3);
  const grain = rng.range(4, 16);
  const image = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // 2×2 supersampling for anti-aliased edges.
      let cover = 0;
      for (let s = 0; s < 4; s++) {
        const px = x + 0.25 + 0.5 * (s & 1) - cx;
        const py = y + 0.25 + 0.5 * (s >> 1) - cy;
        const xr = cos * px + sin * py;
        const yr = -sin * px + cos * py;
        const inDisc = !texture || (px * px + py * py) / (radius * radius) < 1;
        if (inDisc && inside(label, xr / radius, yr / radius, xr + 1000, yr + 1000, period)) cover++;
      }
      const t = noise[y * size + x]!;
      const o = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const bg = bgA[c]! + (bgB[c]! - bgA[c]!) * t;
        const v = bg + (fg[c]! - bg) * (cover / 4) + grain * (rng.next() - 0.5);
        image[o + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { image, label, size };
}
