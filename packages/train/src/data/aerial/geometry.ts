/**
 * Plane geometry of the aerial layout: the coarse occupancy grid that keeps placements apart, road corridors and
 * markings along polylines, and point-wise value noise. Polygons are flat [x0, y0, x1, y1, …] arrays (raster.ts).
 */
import { fillPolygon, type Poly, segmentPoly } from '../raster.ts';
import { detCos, detSin, hash3 } from '../rng.ts';
import { TAU } from '../scene-common.ts';

// Ordered by precedence: marking keeps the highest code in a cell.
export const OCC_FREE = 0;
export const OCC_PAVED = 1;
export const OCC_ROAD = 2;
export const OCC_BUILDING = 3;

/** Coarse occupancy grid over the layout domain, so placements do not overlap. */
export class Occupancy {
  readonly cell = 4;
  readonly gw: number;
  readonly gh: number;
  readonly data: Uint8Array;
  constructor(
    readonly ox: number,
    readonly oy: number,
    w: number,
    h: number,
  ) {
    this.gw = Math.ceil(w / this.cell);
    this.gh = Math.ceil(h / this.cell);
    this.data = new Uint8Array(this.gw * this.gh);
  }

  private toGrid(poly: readonly number[]): Poly {
    const out = poly.slice();
    for (let i = 0; i < out.length; i += 2) {
      out[i] = ((out[i] as number) - this.ox) / this.cell;
      out[i + 1] = ((out[i + 1] as number) - this.oy) / this.cell;
    }
    return out;
  }

  /** Highest occupancy code under the polygon (0 = all free). */
  test(poly: readonly number[]): number {
    let worst = OCC_FREE;
    fillPolygon(this.toGrid(poly), this.gw, this.gh, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) worst = Math.max(worst, this.data[y * this.gw + x]!);
    });
    return worst;
  }

  at(x: number, y: number): number {
    const gx = Math.floor((x - this.ox) / this.cell);
    const gy = Math.floor((y - this.oy) / this.cell);
    if (gx < 0 || gy < 0 || gx >= this.gw || gy >= this.gh) return OCC_FREE;
    return this.data[gy * this.gw + gx]!;
  }

  mark(poly: readonly number[], code: number): void {
    fillPolygon(this.toGrid(poly), this.gw, this.gh, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) this.data[y * this.gw + x] = Math.max(this.data[y * this.gw + x]!, code);
    });
  }
}

/** One segment of a polyline: its start (ax, ay) and its vector (dx, dy) to the next point. */
export interface Segment {
  ax: number;
  ay: number;
  dx: number;
  dy: number;
}

/** Segment k of a flat [x0, y0, x1, y1, …] polyline. */
export function segmentAt(pts: readonly number[], k: number): Segment {
  const ax = pts[2 * k]!;
  const ay = pts[2 * k + 1]!;
  return { ax, ay, dx: pts[2 * k + 2]! - ax, dy: pts[2 * k + 3]! - ay };
}

/** Every segment of a polyline, in order. */
export function segmentsOf(pts: readonly number[]): Segment[] {
  const out: Segment[] = [];
  for (let k = 0; 2 * k + 3 < pts.length; k++) out.push(segmentAt(pts, k));
  return out;
}

/** Bilinear value noise at one point (for sparse queries where a whole field would be wasteful). */
export function smoothNoise(x: number, y: number, seed: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const tx = x - x0;
  const ty = y - y0;
  const sx = tx * tx * (3 - 2 * tx);
  const sy = ty * ty * (3 - 2 * ty);
  const h = (i: number, j: number) => hash3(i, j, seed) / 4294967296;
  const a = h(x0, y0) + (h(x0 + 1, y0) - h(x0, y0)) * sx;
  const b = h(x0, y0 + 1) + (h(x0 + 1, y0 + 1) - h(x0, y0 + 1)) * sx;
  return a + (b - a) * sy;
}

/** Segment quads plus joint caps covering a polyline thickened to `hw` each side. */
export function corridor(pts: readonly number[], hw: number): Poly[] {
  const out: Poly[] = [];
  for (let i = 0; i + 3 < pts.length; i += 2) {
    out.push(segmentPoly(pts[i]!, pts[i + 1]!, pts[i + 2]!, pts[i + 3]!, hw));
    if (i > 0) out.push(regularPoly(pts[i]!, pts[i + 1]!, hw, 12));
  }
  return out;
}

function regularPoly(cx: number, cy: number, r: number, n: number): Poly {
  const out: Poly = [];
  for (let i = 0; i < n; i++) {
    const a = (TAU * i) / n;
    out.push(cx + r * detCos(a), cy + r * detSin(a));
  }
  return out;
}

/** Polyline offset sideways by `d` (positive to the left of travel). */
export function offsetPolyline(pts: readonly number[], d: number): number[] {
  const n = pts.length >> 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - 1);
    const b = Math.min(n - 1, i + 1);
    const dx = pts[2 * b]! - pts[2 * a]!;
    const dy = pts[2 * b + 1]! - pts[2 * a + 1]!;
    const l = Math.sqrt(dx * dx + dy * dy) || 1;
    out.push(pts[2 * i]! - (dy / l) * d, pts[2 * i + 1]! + (dx / l) * d);
  }
  return out;
}

/** Line marking along a polyline: solid, or dashes of `dash` px every `period` px. */
export function markingPolys(pts: readonly number[], hw: number, dash: number, period: number): Poly[] {
  const out: Poly[] = [];
  let phase = 0;
  for (const { ax, ay, dx, dy } of segmentsOf(pts)) {
    const l = Math.sqrt(dx * dx + dy * dy);
    if (l === 0) continue;
    if (period <= 0) {
      out.push(segmentPoly(ax, ay, ax + dx, ay + dy, hw));
      continue;
    }
    for (let t = -phase; t < l; t += period) {
      const t0 = Math.max(0, t);
      const t1 = Math.min(l, t + dash);
      if (t1 > t0)
        out.push(segmentPoly(ax + (dx * t0) / l, ay + (dy * t0) / l, ax + (dx * t1) / l, ay + (dy * t1) / l, hw));
    }
    phase = (phase + l) % period;
  }
  return out;
}
