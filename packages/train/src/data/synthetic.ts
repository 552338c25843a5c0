/**
 * Seeded synthetic stand-ins for the paper's two datasets, which cannot be downloaded here:
 *
 * - {@link generateAerialScene}: an Inria-Aerial-like orthophoto tile at 0.3 m/px with a building / not-building mask;
 * - {@link generateCarScene}: a Carvana-like studio photo of one car with its silhouette mask.
 *
 * Pure CPU and deterministic: a seed maps to byte-identical output on any machine (see rng.ts for why).
 *
 * Labelling convention for aerial scenes: Inria's ground truth comes from cadastral building footprints, so a roof
 * under an overhanging tree is still "building". We follow that by default (`occludedRoofs: 'footprint'`); pass
 * `'visible'` to label only roof pixels that are seen from above. Shadows, walls and roof furniture follow the
 * footprint too: shadows are never building, anything on a roof is.
 */
import {
  blur121,
  convexHull,
  fillEllipse,
  fillPolygon,
  type Poly,
  rectPoly,
  segmentPoly,
  translatePoly,
} from './raster.ts';
import { detCos, detSin, fbmField, hash3, mix32, SeededRng } from './rng.ts';

/** Common options of the scene generators. */
export interface SyntheticSceneOptions {
  /** Any safe integer; the same seed gives byte-identical output. */
  seed: number;
  /** Image width in pixels, an integer >= 32. */
  width: number;
  /** Image height in pixels, an integer >= 32. */
  height: number;
}

/** Options of {@link generateAerialScene}. */
export interface AerialSceneOptions extends SyntheticSceneOptions {
  /**
   * How roof parts hidden under tree crowns are labelled: `'footprint'` (default, as Inria's cadastral ground truth)
   * keeps them as building, `'visible'` marks only what is seen from above.
   */
  occludedRoofs?: 'footprint' | 'visible';
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

/** Ground sampling distance of the aerial scenes, as in the Inria dataset. */
export const AERIAL_METRES_PER_PIXEL = 0.3;

type Rgb = readonly [number, number, number];

const px = (metres: number) => metres / AERIAL_METRES_PER_PIXEL;
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const TAU = 6.283185307179586;

function checkOptions({ seed, width, height }: SyntheticSceneOptions): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 32 || v > 8192)
      throw new RangeError(`${name} must be an integer in [32, 8192], got ${v}`);
  }
}

function jitter(rng: SeededRng, c: Rgb, amount: number): Rgb {
  const g = 1 + rng.range(-amount, amount);
  return [
    clamp01(c[0] * g * (1 + rng.range(-amount, amount) * 0.4)),
    clamp01(c[1] * g * (1 + rng.range(-amount, amount) * 0.4)),
    clamp01(c[2] * g * (1 + rng.range(-amount, amount) * 0.4)),
  ];
}

// Exponentiation is not required to be correctly rounded, so squares are spelled out.
const sq = (v: number) => v * v;
const mod = (a: number, p: number) => ((a % p) + p) % p;
const grey = (v: number, tint = 0): Rgb => [v * (1 + tint), v, v * (1 - tint)];

// ---------------------------------------------------------------------------------------------------------------
// Aerial scenes: layout
// ---------------------------------------------------------------------------------------------------------------

type SceneKind = 'rural' | 'suburban' | 'urban' | 'industrial';
type RoofKind = 'flat' | 'gable' | 'hip';

interface Sun {
  /** Unit vector along which shadows fall. */
  dx: number;
  dy: number;
  /** Shadow length per unit of height (cot of the sun elevation). */
  k: number;
  sinE: number;
  cosE: number;
  /** Fraction of light that is diffuse sky light: high under overcast skies, where shadows are faint. */
  ambient: number;
  /** How much a full shadow darkens the ground. */
  shadow: number;
}

interface Stripe {
  nx: number;
  ny: number;
  period: number;
  amp: number;
}

interface Surface {
  poly: Poly;
  col: Rgb;
  tex: number;
  alpha: number;
  stripe?: Stripe;
}

interface Road {
  pts: number[];
  hw: number;
  walk: number;
  verge: number;
}

interface Part {
  cx: number;
  cy: number;
  hl: number;
  hw: number;
  c: number;
  s: number;
  /** Eave height in metres. */
  height: number;
  roof: RoofKind;
  /** Ridge height above the eaves in metres. */
  rise: number;
  col: Rgb;
  /** Standing-seam metal (stripes across the slope) rather than tiles or membrane. */
  metal: boolean;
  /** Brightness of the parapet rim of a flat roof (1 = none). */
  parapet: number;
}

interface RoofBox {
  poly: Poly;
  col: Rgb;
  /** Height in metres above the roof, for its small shadow; 0 for flush items such as solar panels. */
  h: number;
  grid: boolean;
}

interface Building {
  parts: Part[];
  boxes: RoofBox[];
}

interface Car {
  cx: number;
  cy: number;
  c: number;
  s: number;
  len: number;
  wid: number;
  col: Rgb;
  h: number;
  truck: boolean;
}

interface Tree {
  x: number;
  y: number;
  r: number;
  col: Rgb;
  h: number;
  seed: number;
}

/** Building part in a building's local frame, in metres: centre (u, v), size l along u (or v if rot90) by w. */
interface PartSpec {
  u: number;
  v: number;
  l: number;
  w: number;
  rot90: boolean;
  height: number;
  roof: RoofKind;
  rise: number;
  colour?: Rgb;
  metal?: boolean;
}

type BuildingType = 'house' | 'shed' | 'barn' | 'block' | 'apartment' | 'warehouse';

// Ordered by precedence: marking keeps the highest code in a cell.
const OCC_FREE = 0;
const OCC_PAVED = 1;
const OCC_ROAD = 2;
const OCC_BUILDING = 3;

/** Coarse occupancy grid over the layout domain, so placements do not overlap. */
class Occupancy {
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

/** Roof colour families, in the order of the palette weights. */
const ROOF_FAMILIES = ['grey', 'red', 'brown', 'white', 'dark', 'tan'] as const;

function roofColour(rng: SeededRng, weights: readonly number[]): Rgb {
  switch (ROOF_FAMILIES[rng.weighted(weights)]) {
    case 'grey':
      return grey(rng.range(0.42, 0.68), rng.range(-0.04, 0.04));
    case 'red':
      return [rng.range(0.5, 0.72), rng.range(0.22, 0.36), rng.range(0.16, 0.27)];
    case 'brown':
      return [rng.range(0.34, 0.5), rng.range(0.26, 0.36), rng.range(0.19, 0.27)];
    case 'white':
      return grey(rng.range(0.74, 0.92), rng.range(-0.03, 0.03));
    case 'dark':
      return grey(rng.range(0.14, 0.3), rng.range(-0.08, 0.02));
    default:
      return [rng.range(0.56, 0.68), rng.range(0.5, 0.6), rng.range(0.4, 0.5)];
  }
}

function pavementColour(rng: SeededRng): Rgb {
  const r = rng.next();
  if (r < 0.35) return grey(rng.range(0.2, 0.36), rng.range(-0.03, 0.02)); // fresh asphalt
  if (r < 0.7) return grey(rng.range(0.36, 0.55), rng.range(-0.02, 0.03)); // worn asphalt
  if (r < 0.9) return grey(rng.range(0.58, 0.8), rng.range(-0.01, 0.04)); // concrete
  return [rng.range(0.5, 0.64), rng.range(0.32, 0.42), rng.range(0.26, 0.34)]; // brick pavers
}

const CAR_TOP_COLOURS: readonly Rgb[] = [
  [0.88, 0.88, 0.87],
  [0.1, 0.1, 0.11],
  [0.62, 0.63, 0.65],
  [0.38, 0.39, 0.41],
  [0.6, 0.1, 0.09],
  [0.14, 0.24, 0.5],
  [0.2, 0.32, 0.22],
  [0.66, 0.6, 0.48],
];

class AerialLayout {
  readonly rng: SeededRng;
  readonly margin: number;
  readonly occ: Occupancy;
  readonly kind: SceneKind;
  readonly sun: Sun;
  readonly roofWeights: number[];
  /** Scene-wide ground colours: the lawn / field base and the bare soil it blends into. */
  readonly groundA: Rgb;
  readonly groundB: Rgb;
  /** Share of the ground that is paved rather than green (urban scenes). */
  readonly pavedGround: number;
  /** Colour of that paving: chosen after the buildings, so it can match their roofs. */
  pavedCol: Rgb = [0.5, 0.5, 0.5];
  readonly forest: number;
  readonly surfaces: Surface[] = [];
  /** Drawn after roads (driveways, markings) but still under shadows. */
  readonly overlays: Surface[] = [];
  readonly roads: Road[] = [];
  readonly roadCol: Rgb;
  readonly walkCol: Rgb;
  readonly dirtRoads: boolean;
  readonly markCol: Rgb;
  readonly buildings: Building[] = [];
  readonly cars: Car[] = [];
  readonly trees: Tree[] = [];
  readonly treeCols: Rgb[];
  readonly density: number;

  constructor(
    readonly width: number,
    readonly height: number,
    seed: number,
  ) {
    this.rng = SeededRng.fromSeed(seed);
    const rng = this.rng;
    this.margin = 64;
    const m = this.margin;
    this.occ = new Occupancy(-m, -m, width + 2 * m, height + 2 * m);
    this.kind = (['rural', 'suburban', 'urban', 'industrial'] as const)[rng.weighted([0.22, 0.38, 0.24, 0.16])]!;
    const kind = this.kind;

    const az = rng.range(0, TAU);
    const overcast = rng.chance(0.15);
    const k = rng.range(0.35, 1.4);
    const norm = Math.sqrt(1 + k * k);
    this.sun = {
      dx: detCos(az),
      dy: detSin(az),
      k: overcast ? k * 0.7 : k,
      sinE: 1 / norm,
      cosE: k / norm,
      ambient: overcast ? rng.range(0.7, 0.85) : rng.range(0.3, 0.5),
      shadow: overcast ? rng.range(0.1, 0.25) : rng.range(0.45, 0.68),
    };

    // Each scene favours a few roof families (a neighbourhood tends to look alike), but keeps all possible.
    const bias: Record<SceneKind, number[]> = {
      rural: [1, 1, 1, 0.4, 1, 0.6],
      suburban: [1, 1, 1, 0.5, 1, 0.8],
      urban: [1.2, 0.6, 0.6, 1, 1, 0.7],
      industrial: [1.3, 0.3, 0.4, 1.3, 1, 0.4],
    };
    this.roofWeights = bias[kind].map((b) => b * (0.05 + rng.next() * rng.next()));

    const grass: Rgb = jitter(rng, [0.3, 0.4, 0.2], 0.15);
    const dry: Rgb = jitter(rng, [0.5, 0.46, 0.32], 0.12);
    const soil: Rgb = jitter(rng, [0.44, 0.36, 0.27], 0.15);
    const r = rng.next();
    this.groundA = r < 0.6 ? grass : r < 0.85 ? dry : soil;
    this.groundB = rng.pick([soil, dry, grass]);
    this.pavedGround = kind === 'urban' ? rng.range(0.45, 0.9) : kind === 'industrial' ? rng.range(0.2, 0.6) : 0;
    this.forest = kind === 'rural' ? rng.range(0, 0.5) : kind === 'suburban' ? rng.range(0, 0.2) : 0;
    this.roadCol = rng.chance(0.35) ? roofColour(rng, [1, 0, 0.2, 0, 1, 0.2]) : pavementColour(rng);
    this.walkCol = grey(rng.range(0.55, 0.8), rng.range(0, 0.04));
    this.dirtRoads = kind === 'rural' && rng.chance(0.5);
    this.markCol = rng.chance(0.7) ? grey(0.92) : [0.9, 0.78, 0.3];
    this.treeCols = [
      jitter(rng, [0.2, 0.28, 0.13], 0.2),
      jitter(rng, [0.13, 0.19, 0.11], 0.2),
      jitter(rng, [0.28, 0.31, 0.17], 0.2),
    ];
    const densityRange: Record<SceneKind, [number, number]> = {
      rural: [0.15, 0.5],
      suburban: [0.3, 1],
      urban: [0.55, 1],
      industrial: [0.4, 1],
    };
    this.density = rng.range(...densityRange[kind]);

    switch (kind) {
      case 'rural':
        this.layoutRural();
        break;
      case 'suburban':
        this.layoutSuburban();
        break;
      case 'urban':
        this.layoutUrban();
        break;
      default:
        this.layoutIndustrial();
    }
    this.addDistractors();
    this.addForest();
    this.pavedCol = this.lookalike(0.4);
  }

  /** Road counts are tuned for 256 px tiles; bigger tiles see proportionally more of the network. */
  get roadScale(): number {
    return Math.max(1, (this.width + this.height) / 512);
  }

  get domainArea(): number {
    return (this.width + 2 * this.margin) * (this.height + 2 * this.margin);
  }

  randomPoint(inset = 0): [number, number] {
    const m = this.margin - inset;
    return [this.rng.range(-m, this.width + m), this.rng.range(-m, this.height + m)];
  }

  // --- roads -----------------------------------------------------------------------------------------------

  /** Adds a road along a polyline and reserves its corridor. */
  addRoad(pts: number[], widthM: number, walkM: number, vergeM: number): void {
    const road: Road = { pts, hw: px(widthM) / 2, walk: px(walkM), verge: px(vergeM) };
    this.roads.push(road);
    for (const poly of corridor(road.pts, road.hw + road.walk + road.verge)) this.occ.mark(poly, OCC_ROAD);
  }

  straightRoadPts(cx: number, cy: number, c: number, s: number): number[] {
    const d = this.width + this.height + 4 * this.margin;
    return [cx - c * d, cy - s * d, cx + c * d, cy + s * d];
  }

  curvedRoadPts(): number[] {
    const rng = this.rng;
    const edgePoint = (edge: number): [number, number] => {
      const m = this.margin;
      const t = rng.range(0.1, 0.9);
      if (edge === 0) return [-m, -m + t * (this.height + 2 * m)];
      if (edge === 1) return [this.width + m, -m + t * (this.height + 2 * m)];
      if (edge === 2) return [-m + t * (this.width + 2 * m), -m];
      return [-m + t * (this.width + 2 * m), this.height + m];
    };
    const e0 = rng.int(0, 3);
    const [ax, ay] = edgePoint(e0);
    const [bx, by] = edgePoint((e0 + rng.int(1, 3)) % 4);
    const [qx, qy] = this.randomPoint(this.margin);
    const pts: number[] = [];
    const n = 24;
    for (let i = 0; i <= n; i++) {
      const t = i / n;
      const a = (1 - t) * (1 - t);
      const b = 2 * t * (1 - t);
      const c = t * t;
      pts.push(a * ax + b * qx + c * bx, a * ay + b * qy + c * by);
    }
    return pts;
  }

  /** Nearest road point to (x, y): distance, the point, the unit tangent there and the road. */
  nearestRoad(x: number, y: number): { d: number; px: number; py: number; tx: number; ty: number; road: Road } | null {
    let best: { d: number; px: number; py: number; tx: number; ty: number; road: Road } | null = null;
    for (const road of this.roads) {
      const p = road.pts;
      for (let i = 0; i + 3 < p.length; i += 2) {
        const ax = p[i]!;
        const ay = p[i + 1]!;
        const dx = p[i + 2]! - ax;
        const dy = p[i + 3]! - ay;
        const l2 = dx * dx + dy * dy || 1;
        const t = clamp01(((x - ax) * dx + (y - ay) * dy) / l2);
        const qx = ax + t * dx;
        const qy = ay + t * dy;
        const d = Math.sqrt((x - qx) * (x - qx) + (y - qy) * (y - qy));
        if (!best || d < best.d) {
          const l = Math.sqrt(l2);
          best = { d, px: qx, py: qy, tx: dx / l, ty: dy / l, road };
        }
      }
    }
    return best;
  }

  /** Point at a random arc position on a road, with its unit tangent. */
  pointOnRoad(road: Road): { x: number; y: number; tx: number; ty: number } {
    const p = road.pts;
    const seg = this.rng.int(0, (p.length >> 1) - 2);
    const ax = p[2 * seg]!;
    const ay = p[2 * seg + 1]!;
    const dx = p[2 * seg + 2]! - ax;
    const dy = p[2 * seg + 3]! - ay;
    const l = Math.sqrt(dx * dx + dy * dy) || 1;
    const t = this.rng.next();
    return { x: ax + t * dx, y: ay + t * dy, tx: dx / l, ty: dy / l };
  }

  /** Cars along roads: parked at the kerb or driving in a lane. */
  addRoadCars(perKm: number): void {
    const rng = this.rng;
    for (const road of this.roads) {
      const p = road.pts;
      for (let i = 0; i + 3 < p.length; i += 2) {
        const ax = p[i]!;
        const ay = p[i + 1]!;
        const dx = p[i + 2]! - ax;
        const dy = p[i + 3]! - ay;
        const l = Math.sqrt(dx * dx + dy * dy);
        const n = Math.floor((l * AERIAL_METRES_PER_PIXEL * perKm) / 1000 + rng.next());
        for (let j = 0; j < n; j++) {
          const t = rng.next();
          const side = rng.chance(0.5) ? 1 : -1;
          const parked = road.hw > px(4) && rng.chance(0.6);
          const off = side * (parked ? road.hw - px(1.3) : road.hw * rng.range(0.3, 0.55));
          const c = (dx / l) * side;
          const s = (dy / l) * side;
          const x = ax + t * dx - (dy / l) * off;
          const y = ay + t * dy + (dx / l) * off;
          if (x < -20 || y < -20 || x > this.width + 20 || y > this.height + 20) continue;
          this.cars.push(this.makeCar(x, y, c, s, rng.chance(0.05)));
        }
      }
    }
  }

  makeCar(x: number, y: number, c: number, s: number, truck: boolean): Car {
    const rng = this.rng;
    return truck
      ? {
          cx: x,
          cy: y,
          c,
          s,
          len: px(rng.range(9, 16)) / 2,
          wid: px(2.5) / 2,
          col: grey(rng.range(0.7, 0.95)),
          h: 4,
          truck,
        }
      : {
          cx: x,
          cy: y,
          c,
          s,
          len: px(rng.range(4, 5.2)) / 2,
          wid: px(rng.range(1.75, 2)) / 2,
          col: jitter(rng, rng.pick(CAR_TOP_COLOURS), 0.1),
          h: 1.5,
          truck,
        };
  }

  /**
   * Colour for paving that should be confusable with roofs: often the very colour of a building already placed,
   * else a roof or pavement colour.
   */
  lookalike(pSame: number): Rgb {
    const rng = this.rng;
    if (this.buildings.length > 0 && rng.chance(pSame))
      return jitter(rng, rng.pick(this.buildings).parts[0]!.col, 0.08);
    return rng.chance(0.6) ? roofColour(rng, this.roofWeights) : pavementColour(rng);
  }

  // --- buildings ---------------------------------------------------------------------------------------------

  /** Parts of one building of a type, in its local frame (metres). */
  buildingSpec(type: BuildingType): PartSpec[] {
    const rng = this.rng;
    const pitched = (): RoofKind => (rng.chance(0.55) ? 'gable' : 'hip');
    switch (type) {
      case 'house': {
        const l = rng.range(9, 17);
        const w = rng.range(7, 11);
        const roof: RoofKind = rng.chance(0.12) ? 'flat' : pitched();
        const pitch = rng.range(0.35, 0.9);
        const height = rng.range(3, 6);
        const parts: PartSpec[] = [
          { u: 0, v: 0, l, w, rot90: false, height, roof, rise: roof === 'flat' ? 0 : (w / 2) * pitch },
        ];
        const shape = rng.next();
        if (shape < 0.35) {
          // L or T: a wing at right angles with its own ridge.
          const ww = rng.range(5, Math.min(w, 8.5));
          const ext = rng.range(3, 8);
          const su = rng.chance(0.25) ? 0 : rng.chance(0.5) ? 1 : -1;
          const sv = rng.chance(0.5) ? 1 : -1;
          const len = w / 2 + ext;
          parts.push({
            u: su * (l / 2 - ww / 2),
            v: (sv * len) / 2,
            l: len,
            w: ww,
            rot90: true,
            height,
            roof: roof === 'flat' ? 'flat' : 'gable',
            rise: roof === 'flat' ? 0 : (ww / 2) * pitch,
          });
        } else if (shape < 0.6) {
          // Attached garage or extension, lower and often flat.
          const gl = rng.range(4, 7);
          const gw = rng.range(5, Math.min(w, 8));
          const flat = rng.chance(0.5);
          const su = rng.chance(0.5) ? 1 : -1;
          parts.push({
            u: su * (l / 2 + gl / 2 - 0.3),
            v: rng.range(-1, 1) * (w - gw) * 0.5,
            l: gl,
            w: gw,
            rot90: false,
            height: rng.range(2.5, 3.2),
            roof: flat ? 'flat' : 'gable',
            rise: flat ? 0 : (gw / 2) * pitch * 0.8,
            colour: flat && rng.chance(0.6) ? roofColour(rng, this.roofWeights) : undefined,
          });
        }
        return parts;
      }
      case 'shed': {
        const flat = rng.chance(0.4);
        const w = rng.range(2.5, 5);
        return [
          {
            u: 0,
            v: 0,
            l: rng.range(3, 7),
            w,
            rot90: false,
            height: rng.range(2.2, 3),
            roof: flat ? 'flat' : 'gable',
            rise: flat ? 0 : w * 0.3,
            colour: roofColour(rng, this.roofWeights),
            metal: rng.chance(0.4),
          },
        ];
      }
      case 'barn': {
        const w = rng.range(10, 22);
        const metal = rng.chance(0.6);
        return [
          {
            u: 0,
            v: 0,
            l: rng.range(15, 45),
            w,
            rot90: false,
            height: rng.range(4, 7),
            roof: 'gable',
            rise: (w / 2) * rng.range(0.2, 0.5),
            metal,
          },
        ];
      }
      case 'apartment': {
        const w = rng.range(10, 15);
        const flat = rng.chance(0.6);
        return [
          {
            u: 0,
            v: 0,
            l: rng.range(20, 55),
            w,
            rot90: false,
            height: rng.range(8, 20),
            roof: flat ? 'flat' : pitched(),
            rise: flat ? 0 : (w / 2) * rng.range(0.4, 0.8),
          },
        ];
      }
      case 'warehouse': {
        const w = rng.range(20, 50);
        const flat = rng.chance(0.6);
        const l = rng.range(30, 90);
        const parts: PartSpec[] = [
          {
            u: 0,
            v: 0,
            l,
            w,
            rot90: false,
            height: rng.range(6, 12),
            roof: flat ? 'flat' : 'gable',
            rise: flat ? 0 : (w / 2) * rng.range(0.08, 0.2),
            metal: !flat || rng.chance(0.3),
          },
        ];
        if (rng.chance(0.5)) {
          const ol = rng.range(10, 25);
          const ow = rng.range(8, 14);
          parts.push({
            u: rng.range(-0.5, 0.5) * (l - ol),
            v: (rng.chance(0.5) ? 1 : -1) * (w / 2 + ow / 2 - 0.5),
            l: ol,
            w: ow,
            rot90: false,
            height: rng.range(4, 9),
            roof: 'flat',
            rise: 0,
            colour: roofColour(rng, this.roofWeights),
          });
        }
        return parts;
      }
      default: {
        // Urban block: a flat main volume plus set-backs, wings or a courtyard ring, at varied heights.
        const l = rng.range(14, 45);
        const w = rng.range(10, 26);
        const height = rng.range(9, 28);
        const form = rng.next();
        if (form < 0.25 && l > 24 && w > 18) {
          const t = rng.range(8, 12);
          const h2 = height * rng.range(0.8, 1.2);
          return [
            { u: 0, v: -(w - t) / 2, l, w: t, rot90: false, height, roof: 'flat', rise: 0 },
            { u: 0, v: (w - t) / 2, l, w: t, rot90: false, height: h2, roof: 'flat', rise: 0 },
            { u: -(l - t) / 2, v: 0, l: w - 2 * t + 1, w: t, rot90: true, height, roof: 'flat', rise: 0 },
            { u: (l - t) / 2, v: 0, l: w - 2 * t + 1, w: t, rot90: true, height: h2, roof: 'flat', rise: 0 },
          ];
        }
        const parts: PartSpec[] = [{ u: 0, v: 0, l, w, rot90: false, height, roof: 'flat', rise: 0 }];
        const extra = rng.int(0, 2);
        for (let i = 0; i < extra; i++) {
          const el = rng.range(6, l * 0.7);
          const ew = rng.range(6, w * 0.9);
          const inside = rng.chance(0.5);
          parts.push({
            u: rng.range(-0.5, 0.5) * (l - el),
            v: inside ? rng.range(-0.5, 0.5) * (w - ew) : (rng.chance(0.5) ? 1 : -1) * (w / 2 + ew / 2 - 1),
            l: el,
            w: ew,
            rot90: false,
            height: inside ? height + rng.range(3, 12) : rng.range(4, height),
            roof: rng.chance(0.85) ? 'flat' : 'hip',
            rise: rng.range(2, 4),
            colour: rng.chance(0.5) ? roofColour(rng, this.roofWeights) : undefined,
          });
        }
        return parts;
      }
    }
  }

  /** Largest distance of a spec from the local origin along v (towards a road in front). */
  static extentV(spec: readonly PartSpec[]): number {
    let e = 0;
    for (const p of spec) e = Math.max(e, Math.abs(p.v) + (p.rot90 ? p.l : p.w) / 2);
    return e;
  }

  /**
   * Places a building at (x, y) with local axis (c, s) if its footprint, grown by `clearM` metres, is free.
   * Returns it, or null.
   */
  tryBuilding(
    type: BuildingType,
    spec: PartSpec[],
    x: number,
    y: number,
    c: number,
    s: number,
    clearM: number,
  ): Building | null {
    const rng = this.rng;
    const parts: Part[] = [];
    const baseCol = roofColour(rng, this.roofWeights);
    const metal = type === 'barn' || type === 'warehouse' ? rng.chance(0.5) : rng.chance(0.08);
    const parapet = rng.chance(0.6) ? rng.range(0.75, 1.25) : 1;
    for (const p of spec) {
      const wx = x + px(p.u * c - p.v * s);
      const wy = y + px(p.u * s + p.v * c);
      const pc = p.rot90 ? -s : c;
      const ps = p.rot90 ? c : s;
      parts.push({
        cx: wx,
        cy: wy,
        hl: px(p.l) / 2,
        hw: px(p.w) / 2,
        c: pc,
        s: ps,
        height: p.height,
        roof: p.roof,
        rise: p.rise,
        col: p.colour ?? baseCol,
        metal: p.metal ?? metal,
        parapet: p.roof === 'flat' ? parapet : 1,
      });
    }
    const clear = px(clearM);
    for (const p of parts) {
      if (this.occ.test(rectPoly(p.cx, p.cy, p.hl + clear, p.hw + clear, p.c, p.s)) !== OCC_FREE) return null;
    }
    for (const p of parts) this.occ.mark(rectPoly(p.cx, p.cy, p.hl, p.hw, p.c, p.s), OCC_BUILDING);
    const b: Building = { parts, boxes: [] };
    this.addRoofFurniture(b, type);
    this.buildings.push(b);
    return b;
  }

  addRoofFurniture(b: Building, type: BuildingType): void {
    const rng = this.rng;
    for (const p of b.parts) {
      const area = p.hl * p.hw * 4;
      if (p.roof === 'flat') {
        const n = Math.floor((area / sq(px(12))) * rng.range(0, 1.2));
        for (let i = 0; i < n; i++) {
          const hl = px(rng.range(0.8, 3));
          const hw = px(rng.range(0.6, 2));
          if (hl * 2 > p.hl || hw * 2 > p.hw) continue;
          const u = rng.range(-1, 1) * (p.hl - hl - 2);
          const v = rng.range(-1, 1) * (p.hw - hw - 2);
          b.boxes.push({
            poly: rectPoly(p.cx + u * p.c - v * p.s, p.cy + u * p.s + v * p.c, hl, hw, p.c, p.s),
            col: grey(rng.range(0.55, 0.9)),
            h: rng.range(0.6, 2),
            grid: false,
          });
        }
        if (type === 'warehouse' && rng.chance(0.5)) {
          // Rows of skylights.
          const rows = Math.floor(p.hw / px(6));
          const col: Rgb = rng.chance(0.5) ? grey(0.85) : [0.45, 0.55, 0.62];
          for (let r = -rows + 1; r < rows; r += 2) {
            b.boxes.push({
              poly: rectPoly(p.cx - r * px(3) * p.s, p.cy + r * px(3) * p.c, p.hl * 0.85, px(0.8), p.c, p.s),
              col,
              h: 0.3,
              grid: false,
            });
          }
        }
      }
      if (rng.chance(type === 'house' ? 0.15 : 0.08) && p.hl > px(3) && p.hw > px(2.5)) {
        // Solar array on the sunnier half (or anywhere on a flat roof).
        const hl = p.hl * rng.range(0.4, 0.8);
        const hw = (p.roof === 'flat' ? p.hw : p.hw / 2) * rng.range(0.5, 0.8);
        const side = p.roof === 'flat' ? 0 : -Math.sign(-p.s * this.sun.dx + p.c * this.sun.dy || 1);
        const v = (side * p.hw) / 2;
        b.boxes.push({
          poly: rectPoly(p.cx - v * p.s, p.cy + v * p.c, hl, hw, p.c, p.s),
          col: [0.1, 0.13, 0.24],
          h: 0,
          grid: true,
        });
      }
    }
  }

  /** Random building orientation: aligned to the nearest road most of the time, as real parcels are. */
  orientationAt(x: number, y: number, alignP: number): [number, number] {
    const near = this.nearestRoad(x, y);
    const rng = this.rng;
    if (near && near.d < px(80) && rng.chance(alignP)) {
      const j = rng.range(-0.06, 0.06);
      return [near.tx - j * near.ty, near.ty + j * near.tx];
    }
    const a = rng.range(0, TAU);
    return [detCos(a), detSin(a)];
  }

  /** Trees hugging a building's edge, so crowns partly cover roofs. */
  addYardTrees(b: Building, n: number): void {
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const p = rng.pick(b.parts);
      const side = rng.int(0, 3);
      const t = rng.range(-1, 1);
      const out = rng.range(-0.3, 1.2);
      let u: number;
      let v: number;
      if (side < 2) {
        u = t * p.hl;
        v = (side === 0 ? 1 : -1) * (p.hw + out * px(3));
      } else {
        u = (side === 2 ? 1 : -1) * (p.hl + out * px(3));
        v = t * p.hw;
      }
      this.addTree(p.cx + u * p.c - v * p.s, p.cy + u * p.s + v * p.c, px(rng.range(2, 5.5)));
    }
  }

  addTree(x: number, y: number, r: number): void {
    const rng = this.rng;
    this.trees.push({
      x,
      y,
      r,
      col: jitter(rng, rng.pick(this.treeCols), 0.1),
      h: AERIAL_METRES_PER_PIXEL * r * rng.range(1.2, 2.2) + rng.range(1, 4),
      seed: rng.nextU32(),
    });
  }

  /** Rows of street trees along the kerbs. */
  addStreetTrees(p: number): void {
    const rng = this.rng;
    for (const road of this.roads) {
      if (!rng.chance(p)) continue;
      const spacing = px(rng.range(8, 14));
      const off = road.hw + road.walk * 0.5 + road.verge * 0.5 + px(0.5);
      const pts = road.pts;
      for (let i = 0; i + 3 < pts.length; i += 2) {
        const ax = pts[i]!;
        const ay = pts[i + 1]!;
        const dx = pts[i + 2]! - ax;
        const dy = pts[i + 3]! - ay;
        const l = Math.sqrt(dx * dx + dy * dy) || 1;
        for (let d = rng.range(0, spacing); d < l; d += spacing) {
          for (const side of [1, -1]) {
            if (!rng.chance(0.8)) continue;
            const x = ax + (dx * d) / l - (side * dy * off) / l;
            const y = ay + (dy * d) / l + (side * dx * off) / l;
            if (x < -30 || y < -30 || x > this.width + 30 || y > this.height + 30) continue;
            if (this.occ.at(x, y) === OCC_BUILDING) continue;
            this.addTree(x, y, px(rng.range(2, 4.5)));
          }
        }
      }
    }
  }

  /** A paved rectangle with no shadow (yard, slab, plaza, court, lot); reserved so buildings stay off it. */
  addPaved(x: number, y: number, hl: number, hw: number, c: number, s: number, col: Rgb, tex: number): Poly | null {
    const poly = rectPoly(x, y, hl, hw, c, s);
    if (this.occ.test(rectPoly(x, y, hl + px(1), hw + px(1), c, s)) >= OCC_ROAD) return null;
    this.occ.mark(poly, OCC_PAVED);
    this.surfaces.push({ poly, col, tex, alpha: 1 });
    return poly;
  }

  /** Parking lot: stalls marked with lines either side of an aisle, partly filled with cars. */
  addParkingLot(x: number, y: number, c: number, s: number, rows: number, stalls: number): boolean {
    const rng = this.rng;
    const depth = px(5);
    const aisle = px(6.5);
    const stallW = px(2.6);
    const hl = (stalls * stallW) / 2 + px(1);
    const module = 2 * depth + aisle;
    const hw = (rows * module) / 2 + px(1);
    if (!this.addPaved(x, y, hl, hw, c, s, this.lookalike(0.3), 0.5)) return false;
    const fill = rng.range(0.2, 0.95);
    const lineCol: Rgb = rng.chance(0.8) ? grey(0.9) : [0.9, 0.8, 0.35];
    for (let r = 0; r < rows; r++) {
      const mid = -hw + px(1) + module * (r + 0.5);
      for (const side of [-1, 1]) {
        const vc = mid + side * (aisle / 2 + depth / 2);
        for (let k = 0; k <= stalls; k++) {
          const u = -hl + px(1) + k * stallW;
          const lx = x + u * c - vc * s;
          const ly = y + u * s + vc * c;
          this.overlays.push({
            poly: rectPoly(lx, ly, 0.6, depth / 2, c, s),
            col: lineCol,
            tex: 0,
            alpha: 0.8,
          });
          if (k < stalls && rng.chance(fill)) {
            const uc = u + stallW / 2;
            const cx = x + uc * c - vc * s;
            const cy = y + uc * s + vc * c;
            // Cars nose in: their long axis runs across the stall row.
            const dir = side * (rng.chance(0.85) ? 1 : -1);
            this.cars.push(this.makeCar(cx, cy, -s * dir, c * dir, false));
          }
        }
      }
    }
    return true;
  }

  // --- scene kinds ---------------------------------------------------------------------------------------------

  layoutRural(): void {
    const rng = this.rng;
    // Fields: large rotated patches with crop rows, in the ground palette.
    const nFields = rng.int(0, 4);
    for (let i = 0; i < nFields; i++) {
      const [x, y] = this.randomPoint(0);
      const a = rng.range(0, TAU);
      const c = detCos(a);
      const s = detSin(a);
      const col = jitter(
        rng,
        rng.pick([this.groundA, this.groundB, [0.55, 0.5, 0.3], [0.36, 0.44, 0.2]] as Rgb[]),
        0.1,
      );
      this.surfaces.push({
        poly: rectPoly(x, y, px(rng.range(30, 120)), px(rng.range(20, 80)), c, s),
        col,
        tex: 0.6,
        alpha: 1,
        stripe: { nx: -s, ny: c, period: rng.range(3, 7), amp: rng.range(0.04, 0.12) },
      });
    }
    const nRoads = Math.round(rng.weighted([0.35, 0.45, 0.2]) * this.roadScale);
    for (let i = 0; i < nRoads; i++) {
      const pts = rng.chance(0.5)
        ? this.curvedRoadPts()
        : (() => {
            const [x, y] = this.randomPoint(this.margin);
            const a = rng.range(0, TAU);
            return this.straightRoadPts(x, y, detCos(a), detSin(a));
          })();
      this.addRoad(pts, rng.range(3.5, 6.5), 0, rng.range(0.5, 1.5));
    }
    this.addRoadCars(rng.range(0, 8));
    // Farmsteads: a house, barns and sheds around a gravel or paved yard, usually inside the tile.
    const nFarms = Math.max(1, Math.round(this.density * 6 * (this.domainArea / sq(400))));
    for (let f = 0; f < nFarms; f++) {
      const [fx, fy] = rng.chance(0.85) ? [rng.range(0, this.width), rng.range(0, this.height)] : this.randomPoint(0);
      const [c, s] = this.orientationAt(fx, fy, 0.6);
      const before = this.buildings.length;
      const n = rng.int(2, 6);
      for (let i = 0; i < n * 6 && this.buildings.length - before < n; i++) {
        const first = this.buildings.length === before;
        const type: BuildingType = first ? 'house' : rng.pick(['barn', 'shed', 'shed', 'house'] as const);
        const spec = this.buildingSpec(type);
        const r = px(first ? rng.range(0, 10) : rng.range(8, 35));
        const a = rng.range(0, TAU);
        const rot = rng.chance(0.5);
        const b = this.tryBuilding(
          type,
          spec,
          fx + r * detCos(a),
          fy + r * detSin(a),
          rot ? -s : c,
          rot ? c : s,
          rng.range(2, 5),
        );
        if (b && rng.chance(0.6)) this.addYardTrees(b, rng.int(1, 4));
      }
      // The yard goes under the buildings (surfaces are drawn first), in a colour like one of their roofs.
      const own = this.buildings.slice(before);
      const yardCol =
        own.length > 0 && rng.chance(0.4) ? jitter(rng, rng.pick(own).parts[0]!.col, 0.08) : this.lookalike(0.2);
      this.surfaces.push({
        poly: rectPoly(fx, fy, px(rng.range(12, 30)), px(rng.range(10, 25)), c, s),
        col: yardCol,
        tex: 0.9,
        alpha: rng.range(0.6, 1),
      });
    }
    this.addStreetTrees(0.3);
  }

  layoutSuburban(): void {
    const rng = this.rng;
    const nRoads = Math.round(rng.weighted([0.08, 0.45, 0.32, 0.15]) * this.roadScale);
    const width = rng.range(6, 9.5);
    const walk = rng.chance(0.6) ? rng.range(1.4, 2.2) : 0;
    const verge = rng.range(0.5, 3);
    for (let i = 0; i < nRoads; i++) {
      const pts = rng.chance(0.5)
        ? this.curvedRoadPts()
        : (() => {
            const [x, y] = this.randomPoint(this.margin / 2);
            const a = rng.range(0, TAU);
            return this.straightRoadPts(x, y, detCos(a), detSin(a));
          })();
      this.addRoad(pts, width, walk, verge);
    }
    this.addRoadCars(rng.range(5, 30));
    const attempts = Math.round(this.density * 9 * (this.domainArea / sq(px(30))));
    for (let i = 0; i < attempts; i++) {
      const type: BuildingType = rng.chance(0.85) ? 'house' : rng.chance(0.6) ? 'apartment' : 'shed';
      const spec = this.buildingSpec(type);
      let x: number;
      let y: number;
      let c: number;
      let s: number;
      let road: Road | null = null;
      let side = 1;
      if (this.roads.length > 0 && rng.chance(0.75)) {
        // Facing a street, set back behind a front yard.
        road = rng.pick(this.roads);
        const p = this.pointOnRoad(road);
        side = rng.chance(0.5) ? 1 : -1;
        const setback = road.hw + road.walk + road.verge + px(rng.range(3, 10)) + px(AerialLayout.extentV(spec));
        x = p.x - side * p.ty * setback;
        y = p.y + side * p.tx * setback;
        c = p.tx;
        s = p.ty;
      } else {
        [x, y] = this.randomPoint(0);
        [c, s] = this.orientationAt(x, y, 0.7);
      }
      const b = this.tryBuilding(type, spec, x, y, c, s, rng.range(1.5, 4));
      if (!b) continue;
      const main = b.parts[0]!;
      if (road && rng.chance(0.7)) {
        // Driveway from the front of the house to the kerb, sometimes with a car on it.
        // The street lies on the -side half of the house's v axis.
        const u = rng.range(-0.7, 0.7) * main.hl;
        const v = -side * main.hw;
        const fx = main.cx + u * c - v * s;
        const fy = main.cy + u * s + v * c;
        const near = this.nearestRoad(fx, fy);
        if (near && near.d < px(30)) {
          const col = rng.chance(0.3) ? main.col : this.lookalike(0.3);
          const hw = px(rng.range(1.5, 2.8));
          const poly = segmentPoly(fx, fy, near.px, near.py, hw);
          this.overlays.push({ poly, col, tex: 0.6, alpha: 1 });
          if (rng.chance(0.4)) {
            const t = rng.range(0.5, 0.8);
            const l = near.d || 1;
            this.cars.push(
              this.makeCar(
                fx + (near.px - fx) * t,
                fy + (near.py - fy) * t,
                (near.px - fx) / l,
                (near.py - fy) / l,
                false,
              ),
            );
          }
        }
      }
      if (rng.chance(0.35)) {
        // Patio or terrace behind the house, in roof-like pavers.
        const v = side * (main.hw + px(rng.range(2, 4)));
        const col = rng.chance(0.35) ? jitter(rng, main.col, 0.08) : this.lookalike(0.3);
        this.addPaved(main.cx - v * s, main.cy + v * c, px(rng.range(2, 6)), px(rng.range(1.5, 3.5)), c, s, col, 0.5);
      }
      if (rng.chance(0.12)) {
        const v = side * (main.hw + px(rng.range(6, 10)));
        const hl = px(rng.range(3, 6));
        const hw = px(rng.range(2, 3.5));
        const poly = rectPoly(main.cx - v * s, main.cy + v * c, hl, hw, c, s);
        if (this.occ.test(poly) < OCC_ROAD) {
          this.surfaces.push({
            poly: rectPoly(main.cx - v * s, main.cy + v * c, hl + 2, hw + 2, c, s),
            col: grey(0.8),
            tex: 0.2,
            alpha: 1,
          });
          this.surfaces.push({ poly, col: [0.3, 0.62, 0.72], tex: 0.3, alpha: 1 });
          this.occ.mark(poly, OCC_PAVED);
        }
      }
      if (rng.chance(0.65)) this.addYardTrees(b, rng.int(1, 4));
    }
    this.addStreetTrees(0.5);
  }

  layoutUrban(): void {
    const rng = this.rng;
    const a = rng.range(0, TAU);
    const c = detCos(a);
    const s = detSin(a);
    const width = rng.range(9, 16);
    const walk = rng.range(2.5, 5);
    for (const [dc, ds, spacing] of [
      [c, s, px(rng.range(70, 140))],
      [-s, c, px(rng.range(70, 160))],
    ] as const) {
      const phase = rng.range(0, spacing);
      const cx = this.width / 2;
      const cy = this.height / 2;
      const reach = (this.width + this.height) / 2 + this.margin * 2;
      for (let o = -reach - phase; o < reach; o += spacing) {
        if (rng.chance(0.1)) continue;
        this.addRoad(this.straightRoadPts(cx - ds * o, cy + dc * o, dc, ds), width, walk, 0);
      }
    }
    this.addRoadCars(rng.range(20, 60));
    const attempts = Math.round(this.density * 16 * (this.domainArea / sq(px(25))));
    for (let i = 0; i < attempts; i++) {
      const [x, y] = this.randomPoint(0);
      const r = rng.next();
      if (r < 0.05) {
        this.addParkingLot(x, y, c, s, rng.int(1, 2), rng.int(4, 12));
        continue;
      }
      if (r < 0.09) {
        const col = rng.chance(0.7) ? this.lookalike(0.5) : grey(rng.range(0.55, 0.85));
        this.addPaved(x, y, px(rng.range(6, 20)), px(rng.range(5, 15)), c, s, col, 0.4);
        continue;
      }
      const type: BuildingType = rng.chance(0.75) ? 'block' : 'apartment';
      const j = rng.range(-0.03, 0.03);
      const spec = this.buildingSpec(type);
      const clear = rng.range(0, 1.5);
      // Shrink a block that does not fit rather than give up: city blocks fill up to their edges.
      for (const f of [1, 0.75, 0.55]) {
        if (this.tryBuilding(type, scaleSpec(spec, f), x, y, c - j * s, s + j * c, clear)) break;
      }
    }
    for (const b of this.buildings) if (rng.chance(0.1)) this.addYardTrees(b, rng.int(1, 3));
    this.addStreetTrees(0.6);
  }

  layoutIndustrial(): void {
    const rng = this.rng;
    const a = rng.range(0, TAU);
    const c = detCos(a);
    const s = detSin(a);
    const nRoads = Math.max(1, Math.round(rng.int(1, 2) * this.roadScale));
    for (let i = 0; i < nRoads; i++) {
      const [x, y] = this.randomPoint(this.margin);
      const rot = i === 1;
      this.addRoad(this.straightRoadPts(x, y, rot ? -s : c, rot ? c : s), rng.range(8, 14), rng.chance(0.4) ? 2 : 0, 1);
    }
    this.addRoadCars(rng.range(5, 25));
    // Big sheds first, each retried until one fits: left to chance they would rarely find room.
    const nBig = Math.max(1, Math.round(this.density * 3 * (this.domainArea / sq(400))));
    for (let b = 0; b < nBig; b++) {
      for (let t = 0; t < 30; t++) {
        const x = rng.range(-0.1, 1.1) * this.width;
        const y = rng.range(-0.1, 1.1) * this.height;
        const b = this.tryBuilding('warehouse', this.buildingSpec('warehouse'), x, y, c, s, rng.range(3, 8));
        if (b) {
          this.addApron(b);
          break;
        }
      }
    }
    const attempts = Math.round(this.density * 10 * (this.domainArea / sq(px(40))));
    for (let i = 0; i < attempts; i++) {
      const [x, y] = this.randomPoint(0);
      const r = rng.next();
      if (r < 0.15) {
        this.addParkingLot(x, y, c, s, rng.int(1, 3), rng.int(5, 16));
        continue;
      }
      if (r < 0.3) {
        // Yard: a large paved area, often with trucks and trailers standing on it.
        const hl = px(rng.range(15, 45));
        const hw = px(rng.range(10, 30));
        if (this.addPaved(x, y, hl, hw, c, s, this.lookalike(0.5), 0.7)) {
          const n = rng.int(0, 4);
          for (let t = 0; t < n; t++) {
            const u = rng.range(-0.7, 0.7) * hl;
            const v = rng.range(-0.7, 0.7) * hw;
            this.cars.push(this.makeCar(x + u * c - v * s, y + u * s + v * c, -s, c, true));
          }
        }
        continue;
      }
      const type: BuildingType = rng.chance(0.65) ? 'warehouse' : rng.chance(0.5) ? 'block' : 'shed';
      this.tryBuilding(type, this.buildingSpec(type), x, y, c, s, rng.range(3, 10));
    }
    this.addStreetTrees(0.3);
  }

  /** Loading apron along one long side of a shed: paving that meets the roof edge, often in the same colour. */
  addApron(b: Building): void {
    const rng = this.rng;
    const p = b.parts[0]!;
    if (!rng.chance(0.75)) return;
    const side = rng.chance(0.5) ? 1 : -1;
    const depth = px(rng.range(8, 25));
    const v = side * (p.hw + depth / 2 - px(1));
    const poly = rectPoly(p.cx - v * p.s, p.cy + v * p.c, p.hl * rng.range(0.7, 1.1), depth / 2, p.c, p.s);
    const col = rng.chance(0.4) ? jitter(rng, p.col, 0.06) : this.lookalike(0.3);
    this.surfaces.push({ poly, col, tex: 0.5, alpha: 1 });
    this.occ.mark(poly, OCC_PAVED);
    const n = rng.int(0, 3);
    for (let t = 0; t < n; t++) {
      const u = rng.range(-0.8, 0.8) * p.hl;
      const vv = side * (p.hw + px(rng.range(5, 8)));
      this.cars.push(this.makeCar(p.cx + u * p.c - vv * p.s, p.cy + u * p.s + vv * p.c, -p.s * side, p.c * side, true));
    }
  }

  /** Roof-coloured things that are not buildings: concrete slabs, plazas, sports courts, paved yards. */
  addDistractors(): void {
    const rng = this.rng;
    const n = Math.round(rng.range(0.5, 3) * (this.domainArea / sq(400)));
    for (let i = 0; i < n; i++) {
      const [x, y] = this.randomPoint(0);
      const [c, s] = this.orientationAt(x, y, 0.6);
      const r = rng.next();
      if (r < 0.4) {
        this.addPaved(x, y, px(rng.range(4, 15)), px(rng.range(3, 10)), c, s, grey(rng.range(0.6, 0.9)), 0.3);
      } else if (r < 0.75) {
        this.addPaved(x, y, px(rng.range(4, 18)), px(rng.range(3, 12)), c, s, this.lookalike(0.5), 0.6);
      } else if (r < 0.9) {
        // Sports court with its white lines.
        const hl = px(rng.range(11, 18));
        const hw = px(rng.range(6, 10));
        const col: Rgb = rng.pick([
          [0.6, 0.32, 0.25],
          [0.3, 0.45, 0.3],
          [0.3, 0.4, 0.55],
        ] as Rgb[]);
        if (this.addPaved(x, y, hl, hw, c, s, jitter(rng, col, 0.1), 0.2)) {
          const inner = rectPoly(x, y, hl - px(1.5), hw - px(1.5), c, s);
          for (let k = 0; k < 4; k++) {
            const k2 = (k + 1) % 4;
            this.overlays.push({
              poly: segmentPoly(inner[2 * k]!, inner[2 * k + 1]!, inner[2 * k2]!, inner[2 * k2 + 1]!, 0.6),
              col: grey(0.92),
              tex: 0,
              alpha: 0.9,
            });
          }
          this.overlays.push({ poly: rectPoly(x, y, 0.6, hw - px(1.5), c, s), col: grey(0.92), tex: 0, alpha: 0.9 });
        }
      } else {
        this.addParkingLot(x, y, c, s, 1, rng.int(3, 10));
      }
    }
  }

  /** Woodland where a low-frequency field is high, kept off roads and roofs. */
  addForest(): void {
    if (this.forest <= 0) return;
    const rng = this.rng;
    const cell = px(5);
    const seed = rng.nextU32();
    for (let y = -this.margin / 2; y < this.height + this.margin / 2; y += cell) {
      for (let x = -this.margin / 2; x < this.width + this.margin / 2; x += cell) {
        const f = smoothNoise(x / px(60), y / px(60), seed);
        if (f > 1 - this.forest && rng.chance(0.9)) {
          const tx = x + rng.range(0, cell);
          const ty = y + rng.range(0, cell);
          const o = this.occ.at(tx, ty);
          if (o >= OCC_ROAD) continue;
          this.addTree(tx, ty, px(rng.range(2.5, 5)));
        }
      }
    }
  }
}

/** A building spec scaled in plan (heights kept). */
function scaleSpec(spec: readonly PartSpec[], f: number): PartSpec[] {
  return spec.map((p) => ({ ...p, u: p.u * f, v: p.v * f, l: p.l * f, w: p.w * f, rise: p.rise * f }));
}

/** Bilinear value noise at one point (for sparse queries where a whole field would be wasteful). */
function smoothNoise(x: number, y: number, seed: number): number {
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
function corridor(pts: readonly number[], hw: number): Poly[] {
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
function offsetPolyline(pts: readonly number[], d: number): number[] {
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
function markingPolys(pts: readonly number[], hw: number, dash: number, period: number): Poly[] {
  const out: Poly[] = [];
  let phase = 0;
  for (let i = 0; i + 3 < pts.length; i += 2) {
    const ax = pts[i]!;
    const ay = pts[i + 1]!;
    const dx = pts[i + 2]! - ax;
    const dy = pts[i + 3]! - ay;
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

// ---------------------------------------------------------------------------------------------------------------
// Aerial scenes: rendering
// ---------------------------------------------------------------------------------------------------------------

/**
 * An Inria-like aerial tile: textured ground, roads with markings, parking lots and other roof-coloured paving,
 * cars, trees and buildings of many shapes, sizes and roof colours with shadows cast in one sun direction, under
 * per-scene lighting, haze and sensor noise. The mask is 1 on building footprints.
 */
export function generateAerialScene(options: AerialSceneOptions): SyntheticSample {
  checkOptions(options);
  const { width: W, height: H } = options;
  const L = new AerialLayout(W, H, options.seed);
  const rng = L.rng.fork(1);
  const sun = L.sun;
  const N = W * H;
  const img = new Float32Array(N * 3);
  const mask = new Uint8Array(N);
  const canopy = new Uint8Array(N);
  const seedBase = rng.nextU32();

  // Texture fields shared by everything: large for land cover, mid for wear and patches, fine for grain.
  const large = fbmField(W, H, mix32(seedBase + 1), px(rng.range(25, 60)), 3);
  const stain = fbmField(W, H, mix32(seedBase + 2), px(8), 3);
  const mid = fbmField(W, H, mix32(seedBase + 6), px(1.2), 2);
  const grain = new Float32Array(N);
  const gseed = mix32(seedBase + 3);
  for (let i = 0; i < N; i++) grain[i] = hash3(i % W, (i / W) | 0, gseed) / 4294967296 - 0.5;
  const tex = (i: number, amp: number) => 1 + amp * (0.5 * (stain[i]! - 0.5) + 0.6 * (mid[i]! - 0.5) + 0.2 * grain[i]!);

  // Ground: two land-cover colours blended by the large field, paved patches in towns.
  const [a0, a1, a2] = L.groundA;
  const [b0, b1, b2] = L.groundB;
  const [p0, p1, p2] = L.pavedCol;
  const paveT = 1 - L.pavedGround;
  const groundTex = rng.range(0.3, 0.7);
  for (let i = 0; i < N; i++) {
    const f = large[i]!;
    const t = clamp01((f - 0.35) * 3.3);
    const m = tex(i, groundTex);
    let r = (a0 + (b0 - a0) * t) * m;
    let g = (a1 + (b1 - a1) * t) * m;
    let b = (a2 + (b2 - a2) * t) * m;
    if (L.pavedGround > 0) {
      const q = clamp01((1 - f - paveT * 0.9) * 30);
      const pm = 1 + 0.25 * (mid[i]! - 0.5) + grain[i]! * 0.05;
      r += (p0 * pm - r) * q;
      g += (p1 * pm - g) * q;
      b += (p2 * pm - b) * q;
    }
    img[3 * i] = r;
    img[3 * i + 1] = g;
    img[3 * i + 2] = b;
  }

  const paint = (s: Surface) => {
    const [cr, cg, cb] = s.col;
    const st = s.stripe;
    fillPolygon(s.poly, W, H, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) {
        const i = y * W + x;
        let m = tex(i, s.tex);
        if (st) {
          const q = ((x * st.nx + y * st.ny) / st.period) % 1;
          m += st.amp * (Math.abs(q < 0 ? q + 1 : q) * 2 - 1);
        }
        const o = 3 * i;
        img[o] = img[o]! + (cr * m - img[o]!) * s.alpha;
        img[o + 1] = img[o + 1]! + (cg * m - img[o + 1]!) * s.alpha;
        img[o + 2] = img[o + 2]! + (cb * m - img[o + 2]!) * s.alpha;
      }
    });
  };
  for (const s of L.surfaces) paint(s);

  // Roads: verge, pavement, carriageway, then markings.
  const roadTex = rng.range(0.3, 0.8);
  const roadCol = L.dirtRoads ? jitter(rng, [0.5, 0.42, 0.32], 0.1) : L.roadCol;
  const vergeCol = jitter(rng, L.groundA, 0.1);
  for (const road of L.roads) {
    if (road.verge > 0 && road.walk > 0) {
      for (const poly of corridor(road.pts, road.hw + road.walk + road.verge))
        paint({ poly, col: L.walkCol, tex: 0.3, alpha: 1 });
      for (const poly of corridor(road.pts, road.hw + road.verge)) paint({ poly, col: vergeCol, tex: 0.5, alpha: 1 });
    } else if (road.walk > 0) {
      for (const poly of corridor(road.pts, road.hw + road.walk)) paint({ poly, col: L.walkCol, tex: 0.3, alpha: 1 });
    }
  }
  for (const road of L.roads) {
    for (const poly of corridor(road.pts, road.hw)) paint({ poly, col: roadCol, tex: roadTex, alpha: 1 });
  }
  if (!L.dirtRoads) {
    for (const road of L.roads) {
      if (road.hw < px(2.5)) continue;
      const dashed = rng.chance(0.7);
      for (const poly of markingPolys(road.pts, 0.6, dashed ? px(3) : 0, dashed ? px(9) : 0)) {
        paint({ poly, col: L.markCol, tex: 0, alpha: 0.75 });
      }
      if (road.hw > px(4) && rng.chance(0.6)) {
        for (const side of [1, -1]) {
          for (const poly of markingPolys(offsetPolyline(road.pts, side * (road.hw - px(0.6))), 0.5, 0, 0)) {
            paint({ poly, col: grey(0.9), tex: 0, alpha: 0.7 });
          }
        }
      }
    }
  }
  for (const s of L.overlays) paint(s);

  // Cars and trucks, seen from above: body, darker glass front and back, a lighter roof.
  const groundShadow = new Float32Array(N);
  const stamp = (buf: Float32Array, poly: Poly) =>
    fillPolygon(poly, W, H, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) buf[y * W + x] = 1;
    });
  const shadowOf = (poly: Poly, hMetres: number): Poly => {
    // Very long shadows would swamp a tile; real ones break up on neighbouring blocks anyway.
    const d = px(Math.min(hMetres * sun.k, 25));
    return convexHull(poly.concat(translatePoly(poly, sun.dx * d, sun.dy * d)));
  };
  for (const car of L.cars) {
    const body = rectPoly(car.cx, car.cy, car.len, car.wid, car.c, car.s);
    stamp(groundShadow, shadowOf(rectPoly(car.cx, car.cy, car.len * 0.9, car.wid * 0.85, car.c, car.s), car.h));
    paint({ poly: body, col: car.col, tex: 0.1, alpha: 1 });
    if (car.truck) {
      const cab = car.len - px(2.2);
      paint({
        poly: rectPoly(car.cx + cab * car.c, car.cy + cab * car.s, px(1.1), car.wid, car.c, car.s),
        col: jitter(rng, rng.pick(CAR_TOP_COLOURS), 0.1),
        tex: 0.1,
        alpha: 1,
      });
      continue;
    }
    const glass: Rgb = [0.08, 0.09, 0.11];
    const at = (u: number) => [car.cx + u * car.len * car.c, car.cy + u * car.len * car.s] as const;
    const [wx, wy] = at(0.22);
    paint({ poly: rectPoly(wx, wy, car.len * 0.17, car.wid * 0.8, car.c, car.s), col: glass, tex: 0, alpha: 0.85 });
    const [rx, ry] = at(-0.62);
    paint({ poly: rectPoly(rx, ry, car.len * 0.1, car.wid * 0.75, car.c, car.s), col: glass, tex: 0, alpha: 0.8 });
    const [tx, ty] = at(-0.2);
    paint({
      poly: rectPoly(tx, ty, car.len * 0.3, car.wid * 0.75, car.c, car.s),
      col: [clamp01(car.col[0] * 1.12), clamp01(car.col[1] * 1.12), clamp01(car.col[2] * 1.12)],
      tex: 0,
      alpha: 1,
    });
  }

  // Building shadows (each part as a prism of its mean height), softened into a penumbra, then applied.
  for (const b of L.buildings) {
    for (const p of b.parts)
      stamp(groundShadow, shadowOf(rectPoly(p.cx, p.cy, p.hl, p.hw, p.c, p.s), p.height + p.rise * 0.5));
  }
  blur121(groundShadow, W, H, 1);
  const shadeTint = [1, 1.02, 1.1];
  const applyShadow = (buf: Float32Array) => {
    for (let i = 0; i < N; i++) {
      const sh = buf[i]!;
      if (sh === 0) continue;
      const f = 1 - sun.shadow * sh;
      for (let c = 0; c < 3; c++) img[3 * i + c] = img[3 * i + c]! * f * (1 + (shadeTint[c]! - 1) * sh);
    }
  };
  applyShadow(groundShadow);

  // Roofs.
  const lx = -sun.dx * sun.cosE;
  const ly = -sun.dy * sun.cosE;
  const lz = sun.sinE;
  /** Brightness of a roof facet sloping down towards (ex, ey) with slope `t`, relative to flat ground. */
  const facet = (ex: number, ey: number, t: number) => {
    const n = 1 / Math.sqrt(1 + t * t);
    const dot = (ex * t * lx + ey * t * ly) * n + n * lz;
    return sun.ambient + (1 - sun.ambient) * (Math.max(0.05, dot) / lz);
  };
  const roofTex = rng.range(0.4, 1);
  const sorted = L.buildings.flatMap((b) => b.parts).sort((p, q) => p.height + p.rise - (q.height + q.rise));
  for (const p of sorted) {
    const pitch = p.rise / Math.max(1e-6, AERIAL_METRES_PER_PIXEL * p.hw);
    // Facet shades: +v, -v sides, then +u, -u ends (hip roofs only).
    const fv0 = p.roof === 'flat' ? 1 : facet(-p.s, p.c, pitch);
    const fv1 = p.roof === 'flat' ? 1 : facet(p.s, -p.c, pitch);
    const fu0 = p.roof === 'hip' ? facet(p.c, p.s, pitch) : 1;
    const fu1 = p.roof === 'hip' ? facet(-p.c, -p.s, pitch) : 1;
    const [cr, cg, cb] = p.col;
    const stripePeriod = p.metal ? rng.range(2, 3.2) : rng.range(1.3, 2);
    const stripeAmp = p.roof === 'flat' && !p.metal ? 0 : p.metal ? 0.07 : 0.04;
    const rim = Math.max(1, px(rng.range(0.3, 0.7)));
    // Flat membranes weather in patches; parts of one building are re-roofed at different times.
    const stainAmp = p.roof === 'flat' ? 0.8 : 0.3;
    const tone = 1 + rng.range(-0.07, 0.07);
    fillPolygon(rectPoly(p.cx, p.cy, p.hl, p.hw, p.c, p.s), W, H, (y, x0, x1) => {
      const dy = y + 0.5 - p.cy;
      for (let x = x0; x < x1; x++) {
        const dx = x + 0.5 - p.cx;
        const u = dx * p.c + dy * p.s;
        const v = -dx * p.s + dy * p.c;
        const du = p.hl - Math.abs(u);
        const dv = p.hw - Math.abs(v);
        let shade: number;
        let stripeCoord: number;
        if (p.roof === 'flat') {
          shade = du < rim || dv < rim ? p.parapet : 1;
          stripeCoord = u;
        } else if (p.roof === 'hip' && du < dv) {
          shade = u > 0 ? fu0 : fu1;
          stripeCoord = du;
          if (Math.abs(du - dv) < 0.7) shade *= 1.06;
        } else {
          shade = v > 0 ? fv0 : fv1;
          stripeCoord = p.metal ? u : dv;
          if (dv > p.hw - 0.8 || (p.roof === 'hip' && Math.abs(du - dv) < 0.7)) shade *= 1.06;
        }
        if (stripeAmp > 0) {
          const q = (stripeCoord / stripePeriod) % 1;
          shade += stripeAmp * (Math.abs(q < 0 ? q + 1 : q) * 2 - 1);
        }
        const i = y * W + x;
        const m =
          shade *
          tone *
          (1 +
            roofTex *
              (0.2 * (large[i]! - 0.5) + stainAmp * (stain[i]! - 0.5) + 0.3 * (mid[i]! - 0.5) + 0.1 * grain[i]!));
        img[3 * i] = cr * m;
        img[3 * i + 1] = cg * m;
        img[3 * i + 2] = cb * m;
        mask[i] = 1;
      }
    });
  }
  // Roof furniture: boxes with small shadows on the roof, flush solar panels with a cell grid.
  for (const b of L.buildings) {
    for (const box of b.boxes) {
      if (box.h > 0) {
        const d = px(box.h * sun.k);
        const sh = translatePoly(box.poly, sun.dx * d, sun.dy * d);
        fillPolygon(convexHull(box.poly.concat(sh)), W, H, (y, x0, x1) => {
          for (let x = x0; x < x1; x++) {
            const i = y * W + x;
            if (!mask[i]) continue;
            const f = 1 - sun.shadow * 0.9;
            for (let c = 0; c < 3; c++) img[3 * i + c] = img[3 * i + c]! * f;
          }
        });
      }
      const [cr, cg, cb] = box.col;
      const [ox, oy] = [box.poly[0]!, box.poly[1]!];
      const ex = box.poly[2]! - ox;
      const ey = box.poly[3]! - oy;
      const el = Math.sqrt(ex * ex + ey * ey) || 1;
      fillPolygon(box.poly, W, H, (y, x0, x1) => {
        for (let x = x0; x < x1; x++) {
          const i = y * W + x;
          let m = 1 + 0.1 * grain[i]!;
          if (box.grid) {
            const along = ((x + 0.5 - ox) * ex + (y + 0.5 - oy) * ey) / el;
            const across = (-(x + 0.5 - ox) * ey + (y + 0.5 - oy) * ex) / el;
            if (mod(along, 3.3) < 0.7 || mod(across, 5.5) < 0.7) m = 1.8;
          }
          img[3 * i] = cr * m;
          img[3 * i + 1] = cg * m;
          img[3 * i + 2] = cb * m;
        }
      });
    }
  }

  // Trees: their shadows fall on ground and roofs alike, then crowns go on top.
  const treeShadow = new Float32Array(N);
  const crowns = L.trees.map((t) => {
    const trng = new SeededRng(t.seed);
    const n = 14;
    const poly: Poly = [];
    for (let k = 0; k < n; k++) {
      const a = (TAU * k) / n;
      const r = t.r * (1 + trng.range(-0.18, 0.18));
      poly.push(t.x + r * detCos(a), t.y + r * detSin(a));
    }
    return poly;
  });
  L.trees.forEach((t, i) => {
    const d = px(t.h * sun.k);
    stamp(treeShadow, translatePoly(crowns[i]!, sun.dx * d, sun.dy * d));
    stamp(treeShadow, translatePoly(crowns[i]!, sun.dx * d * 0.6, sun.dy * d * 0.6));
  });
  blur121(treeShadow, W, H, 1);
  applyShadow(treeShadow);
  const leafSeed = mix32(seedBase + 4);
  L.trees.forEach((t, ti) => {
    const [cr, cg, cb] = t.col;
    fillPolygon(crowns[ti]!, W, H, (y, x0, x1) => {
      const ny = (y + 0.5 - t.y) / t.r;
      for (let x = x0; x < x1; x++) {
        const nx = (x + 0.5 - t.x) / t.r;
        const nz = Math.sqrt(Math.max(0.02, 1 - nx * nx - ny * ny));
        const dot = Math.max(0, (nx * lx + ny * ly + nz * lz) / Math.sqrt(nx * nx + ny * ny + nz * nz));
        const i = y * W + x;
        const leaf = hash3(x >> 1, y >> 1, leafSeed) / 4294967296 - 0.5;
        const m = (sun.ambient * 0.8 + (1 - sun.ambient) * 1.3 * dot) * (1 + 0.45 * leaf + 0.25 * grain[i]!);
        img[3 * i] = cr * m;
        img[3 * i + 1] = cg * m;
        img[3 * i + 2] = cb * m;
        canopy[i] = 1;
      }
    });
  });

  // Camera: exposure, contrast, white balance, haze, optics blur, sensor noise.
  const gain = rng.range(0.8, 1.25);
  const contrast = rng.range(0.75, 1.3);
  const cast = [rng.range(0.92, 1.08), rng.range(0.95, 1.05), rng.range(0.9, 1.1)];
  const haze = rng.chance(0.3) ? rng.range(0.05, 0.3) : 0;
  const hazeCol = [0.72, 0.75, 0.8];
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < 3; c++) {
      const o = 3 * i + c;
      let v = (img[o]! * gain * cast[c]! - 0.42) * contrast + 0.42;
      v = v * (1 - haze) + hazeCol[c]! * haze;
      img[o] = v;
    }
  }
  const passes = rng.weighted([0.5, 0.35, 0.15]) + 1;
  for (let p = 0; p < passes; p++) blur121(img, W, H, 3);
  const sigma = rng.range(0.006, 0.03);
  const noiseSeed = mix32(seedBase + 5);
  const image = new Uint8Array(N * 3);
  for (let i = 0; i < N; i++) {
    const x = i % W;
    const y = (i / W) | 0;
    const h = hash3(x, y, noiseSeed);
    const lum = (((h & 0xff) + ((h >>> 8) & 0xff) + ((h >>> 16) & 0xff)) / 382.5 - 1) * sigma * 1.41;
    const chroma = ((h >>> 24) / 127.5 - 1) * sigma * 0.5;
    for (let c = 0; c < 3; c++) {
      const v = img[3 * i + c]! + lum + (c === 1 ? -chroma : chroma);
      image[3 * i + c] = Math.round(clamp01(v) * 255);
    }
  }
  if (options.occludedRoofs === 'visible') {
    for (let i = 0; i < N; i++) if (canopy[i]) mask[i] = 0;
  }
  return { width: W, height: H, image, mask };
}

// ---------------------------------------------------------------------------------------------------------------
// Car scenes
// ---------------------------------------------------------------------------------------------------------------

type CarBody = 'sedan' | 'hatchback' | 'suv' | 'van' | 'pickup' | 'coupe';
type OutlineTag = 'body' | 'glass' | 'well';

/** Side profile of a car, in units of its length, x from the rear (0) to the front (1), y up from the ground. */
interface CarProfile {
  wheelR: number;
  clearance: number;
  belt: number;
  roof: number;
  nose: number;
  tail: number;
  /** Windshield base, roof front, roof rear, rear-window base. */
  xWs: number;
  xRf: number;
  xRr: number;
  xRw: number;
  wheelX: [number, number];
  /** Extra pillars splitting the side glass, as fractions from its front (0) to its rear (1). */
  pillars: number[];
}

function carProfile(rng: SeededRng, body: CarBody): CarProfile {
  const j = (v: number, a = 0.05) => v * (1 + rng.range(-a, a));
  switch (body) {
    case 'hatchback':
      return {
        wheelR: j(0.09),
        clearance: j(0.05),
        belt: j(0.24),
        roof: j(0.36),
        nose: j(0.2),
        tail: j(0.25),
        xWs: j(0.7),
        xRf: j(0.56),
        xRr: j(0.12),
        xRw: 0.02,
        wheelX: [j(0.17), j(0.8, 0.02)],
        pillars: [0.5],
      };
    case 'suv':
      return {
        wheelR: j(0.1),
        clearance: j(0.08),
        belt: j(0.29),
        roof: j(0.42),
        nose: j(0.26),
        tail: j(0.3),
        xWs: j(0.72),
        xRf: j(0.62),
        xRr: j(0.07),
        xRw: 0.02,
        wheelX: [j(0.18), j(0.8, 0.02)],
        pillars: [0.45, 0.8],
      };
    case 'van':
      return {
        wheelR: j(0.085),
        clearance: j(0.07),
        belt: j(0.27),
        roof: j(0.46),
        nose: j(0.22),
        tail: j(0.3),
        xWs: j(0.86, 0.02),
        xRf: j(0.74),
        xRr: j(0.03),
        xRw: 0.015,
        wheelX: [j(0.17), j(0.82, 0.02)],
        pillars: [0.35, 0.7],
      };
    case 'pickup':
      return {
        wheelR: j(0.095),
        clearance: j(0.08),
        belt: j(0.3),
        roof: j(0.42),
        nose: j(0.27),
        tail: j(0.3),
        xWs: j(0.74),
        xRf: j(0.63),
        xRr: j(0.43),
        xRw: j(0.41),
        wheelX: [j(0.17), j(0.8, 0.02)],
        pillars: [0.55],
      };
    case 'coupe':
      return {
        wheelR: j(0.085),
        clearance: j(0.045),
        belt: j(0.2),
        roof: j(0.28),
        nose: j(0.17),
        tail: j(0.21),
        xWs: j(0.64),
        xRf: j(0.52),
        xRr: j(0.3),
        xRw: j(0.14),
        wheelX: [j(0.2), j(0.8, 0.02)],
        pillars: [],
      };
    default:
      return {
        wheelR: j(0.085),
        clearance: j(0.05),
        belt: j(0.22),
        roof: j(0.31),
        nose: j(0.19),
        tail: j(0.23),
        xWs: j(0.68),
        xRf: j(0.56),
        xRr: j(0.32),
        xRw: j(0.17),
        wheelX: [j(0.19), j(0.8, 0.02)],
        pillars: [0.52],
      };
  }
}

/**
 * Closed outline: rear bottom, up over the roof, down the nose, back along the sills around the wheel arches. Each
 * vertex carries the tag of the edge leaving it.
 */
function carOutline(p: CarProfile): { pts: number[]; tags: OutlineTag[] } {
  const pts: number[] = [];
  const tags: OutlineTag[] = [];
  const add = (x: number, y: number, tag: OutlineTag) => {
    const n = pts.length;
    if (n >= 2 && Math.abs(pts[n - 2]! - x) < 1e-3 && Math.abs(pts[n - 1]! - y) < 1e-3) return;
    pts.push(x, y);
    tags.push(tag);
  };
  const cl = p.clearance;
  add(0.02, cl + 0.01, 'body');
  add(0, cl + 0.05, 'body');
  add(0, p.tail - 0.03, 'body');
  add(0.015, p.tail, 'body');
  add(p.xRw, Math.max(p.tail, p.belt + 0.01), 'glass');
  add(p.xRr, p.roof, 'body');
  add((p.xRr + p.xRf) / 2, p.roof + 0.008, 'body');
  add(p.xRf, p.roof, 'glass');
  add(p.xWs, p.belt + 0.015, 'body');
  add(0.96, p.nose, 'body');
  add(1, p.nose - 0.04, 'body');
  add(1, cl + 0.05, 'body');
  add(0.98, cl + 0.01, 'body');
  for (const wx of [p.wheelX[1], p.wheelX[0]]) {
    const a = p.wheelR * 1.14;
    const cy = p.wheelR * 1.02;
    add(wx + a, cl + 0.01, 'well');
    for (let k = 0; k <= 10; k++) {
      const t = (Math.PI * k) / 10;
      add(wx + a * detCos(t), cy + a * detSin(t), k === 10 ? 'body' : 'well');
    }
    add(wx - a, cl + 0.01, 'body');
  }
  return chaikin(pts, tags);
}

/** One round of Chaikin corner cutting: rounds the outline while keeping its tags on the edges they came from. */
function chaikin(pts: readonly number[], tags: readonly OutlineTag[]): { pts: number[]; tags: OutlineTag[] } {
  const n = pts.length >> 1;
  const out: number[] = [];
  const outTags: OutlineTag[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const ax = pts[2 * i]!;
    const ay = pts[2 * i + 1]!;
    const bx = pts[2 * j]!;
    const by = pts[2 * j + 1]!;
    out.push(0.75 * ax + 0.25 * bx, 0.75 * ay + 0.25 * by, 0.25 * ax + 0.75 * bx, 0.25 * ay + 0.75 * by);
    outTags.push(tags[i]!, tags[j]!);
  }
  return { pts: out, tags: outTags };
}

const CAR_PAINTS: readonly (readonly [Rgb, number])[] = [
  [[0.9, 0.9, 0.9], 0.24],
  [[0.06, 0.06, 0.07], 0.2],
  [[0.66, 0.67, 0.69], 0.14],
  [[0.36, 0.37, 0.39], 0.14],
  [[0.62, 0.06, 0.06], 0.09],
  [[0.1, 0.22, 0.56], 0.08],
  [[0.06, 0.1, 0.26], 0.04],
  [[0.14, 0.3, 0.18], 0.02],
  [[0.66, 0.58, 0.46], 0.02],
  [[0.85, 0.68, 0.08], 0.01],
  [[0.85, 0.38, 0.08], 0.01],
  [[0.36, 0.22, 0.14], 0.01],
];

/**
 * A Carvana-like studio shot: one car from the side or three-quarter front/rear (body, glass, pillars, wheels with
 * rims and spokes, lights, shading and highlights, varied paint) on a light grey wall/floor with a soft contact
 * shadow. The mask is the car's whole silhouette, wheels and windows included.
 */
export function generateCarScene(options: SyntheticSceneOptions): SyntheticSample {
  checkOptions(options);
  const { width: W, height: H } = options;
  const rng = SeededRng.fromSeed(options.seed).fork(2);
  const N = W * H;
  const img = new Float32Array(N * 3);
  const mask = new Uint8Array(N);

  // Studio: a wall meeting the floor at a soft horizon, both gently graded.
  const wallTop = jitter(rng, grey(rng.range(0.8, 0.95)), 0.03);
  const wallLow = jitter(rng, grey(rng.range(0.78, 0.95)), 0.03);
  const floorFar = jitter(rng, grey(rng.range(0.66, 0.9)), 0.03);
  const floorNear = jitter(rng, grey(rng.range(0.6, 0.92)), 0.03);
  const horizon = H * rng.range(0.35, 0.6);
  const soft = H * rng.range(0.01, 0.06);
  for (let y = 0; y < H; y++) {
    const yy = y + 0.5;
    const tw = clamp01(yy / horizon);
    const tf = clamp01((yy - horizon) / (H - horizon));
    const blend = clamp01((yy - horizon + soft) / (2 * soft));
    for (let c = 0; c < 3; c++) {
      const wall = wallTop[c]! + (wallLow[c]! - wallTop[c]!) * tw;
      const floor = floorFar[c]! + (floorNear[c]! - floorFar[c]!) * tf;
      const v = wall + (floor - wall) * blend;
      for (let x = 0; x < W; x++) img[3 * (y * W + x) + c] = v;
    }
  }

  const body = (['sedan', 'hatchback', 'suv', 'van', 'pickup', 'coupe'] as const)[
    rng.weighted([0.32, 0.2, 0.25, 0.07, 0.08, 0.08])
  ]!;
  const prof = carProfile(rng, body);
  const view = rng.weighted([0.35, 0.4, 0.25]); // side, front three-quarter, rear three-quarter
  const yaw = view === 0 ? rng.range(0, 0.12) : rng.range(0.35, 0.85);
  const cosY = detCos(yaw);
  const sinY = detSin(yaw);
  const carW = rng.range(0.4, 0.46);
  const lift = rng.range(0.05, 0.15);
  // Size the car to the frame: its projected extent is L*cosY + L*carW*sinY wide and about L*(roof + lift*carW) high.
  const spanX = cosY + carW * sinY;
  const spanY = prof.roof + carW * lift;
  const L = Math.min((W * rng.range(0.68, 0.9)) / spanX, (H * rng.range(0.45, 0.7)) / spanY);
  const dir = rng.chance(0.5) ? 1 : -1;
  const sweepDir = view === 2 ? -dir : dir;
  const Sx = sweepDir * carW * L * sinY;
  const Sy = -carW * L * lift;
  const ground = Math.min(H - 2, Math.max(horizon + 0.05 * H, H * 0.5 + (spanY * L) / 2 + rng.range(-0.05, 0.08) * H));
  const extentLeft = Math.min(0, dir * L * cosY) + Math.min(0, Sx);
  const extentRight = Math.max(0, dir * L * cosY) + Math.max(0, Sx);
  const x0 = (W - (extentRight - extentLeft)) / 2 - extentLeft + rng.range(-0.04, 0.04) * W;
  const proj = (xn: number, yn: number): [number, number] => [x0 + dir * xn * L * cosY, ground - yn * L];
  const toPoly = (pts: readonly number[], dx = 0, dy = 0): Poly => {
    const out: Poly = [];
    for (let i = 0; i < pts.length; i += 2) {
      const [x, y] = proj(pts[i]!, pts[i + 1]!);
      out.push(x + dx, y + dy);
    }
    return out;
  };

  // Soft contact shadow on the floor.
  {
    const cx = x0 + (extentLeft + extentRight) / 2;
    const rx = ((extentRight - extentLeft) / 2) * 1.04;
    const ry = Math.max(3, 0.05 * L + Math.abs(Sy) * 0.6);
    const cy = ground + Sy * 0.45;
    const dark = rng.range(0.35, 0.65);
    fillEllipse(cx, cy, rx, ry, W, H, (y, xa, xb) => {
      const ty = (y + 0.5 - cy) / ry;
      for (let x = xa; x < xb; x++) {
        const tx = (x + 0.5 - cx) / rx;
        const q = 1 - tx * tx - ty * ty;
        const f = 1 - dark * q * q;
        for (let c = 0; c < 3; c++) img[3 * (y * W + x) + c] = img[3 * (y * W + x) + c]! * f;
      }
    });
  }

  const paintCol = CAR_PAINTS[rng.weighted(CAR_PAINTS.map((p) => p[1]))]![0];
  const paint = jitter(rng, paintCol, 0.06);
  const glassCol = jitter(rng, [0.08, 0.1, 0.13], 0.3);
  const tyreCol = grey(rng.range(0.06, 0.12));
  const rimKind = rng.weighted([0.6, 0.3, 0.1]);
  const rimCol = rimKind === 0 ? grey(rng.range(0.55, 0.82)) : rimKind === 1 ? grey(rng.range(0.12, 0.25)) : paint;
  const trimDark = rng.chance(0.4);
  const streak = rng.range(0.25, 0.75);
  const envBand = rng.range(0.4, 0.6);

  const fill = (poly: Poly, shade: (x: number, y: number, out: number[]) => void, clip = false) => {
    const out = [0, 0, 0];
    fillPolygon(poly, W, H, (y, xa, xb) => {
      for (let x = xa; x < xb; x++) {
        const i = y * W + x;
        if (clip && !mask[i]) continue;
        shade(x + 0.5, y + 0.5, out);
        img[3 * i] = out[0]!;
        img[3 * i + 1] = out[1]!;
        img[3 * i + 2] = out[2]!;
        mask[i] = 1;
      }
    });
  };
  const flat =
    (col: Rgb, m = 1) =>
    (_x: number, _y: number, out: number[]) => {
      out[0] = clamp01(col[0] * m);
      out[1] = clamp01(col[1] * m);
      out[2] = clamp01(col[2] * m);
    };
  const toN = (x: number, y: number): [number, number] => [((x - x0) * dir) / (L * cosY), (ground - y) / L];
  /** Painted bodywork: darker sills, a bright shoulder line under the glass, a reflected horizon, a softbox streak. */
  const paintShade = (base: number) => (x: number, y: number, out: number[]) => {
    const [xn, yn] = toN(x, y);
    const cl = prof.clearance;
    const belt = prof.belt;
    let m: number;
    let hi = 0;
    if (yn < cl + 0.035) m = 0.55;
    else if (yn < belt - 0.06) {
      const t = (yn - cl - 0.035) / Math.max(1e-3, belt - 0.06 - cl - 0.035);
      m = t < envBand ? 0.7 + 0.25 * t : 0.95 + 0.05 * t;
    } else if (yn < belt - 0.04) m = 0.85;
    else if (yn < belt - 0.015) {
      m = 1.05;
      hi = 0.3;
    } else m = yn > prof.roof - 0.02 ? 1.15 : 1;
    const ends = Math.sqrt(Math.max(0, detSin(Math.PI * clamp01(xn))));
    m *= (0.8 + 0.2 * ends) * base;
    const q = xn + (yn - belt) * 1.4 - streak;
    if (q > -0.02 && q < 0.02) hi += 0.22;
    if (trimDark && yn < cl + 0.03) {
      out[0] = out[1] = out[2] = 0.08;
      return;
    }
    for (let c = 0; c < 3; c++) {
      const v = paint[c]! * m;
      out[c] = clamp01(v + (1 - v) * hi);
    }
  };
  const glassShade = (x: number, y: number, out: number[]) => {
    const [xn, yn] = toN(x, y);
    const t = clamp01((yn - prof.belt) / Math.max(1e-3, prof.roof - prof.belt));
    let m = 0.8 + 0.8 * t;
    const q = xn + yn * 0.8 - streak;
    if (q > 0 && q < 0.04) m += 1.5;
    for (let c = 0; c < 3; c++) out[c] = clamp01(glassCol[c]! * m);
  };

  const spokes = rng.int(5, 7);
  const rimFrac = rng.range(0.55, 0.68);
  const spokeFrac = rng.range(0.12, 0.22);
  const wheel = (wx: number, wy: number, r: number, squash: number, dark: number, spin: number) => {
    const rimR = r * rimFrac;
    const spokeW = rimR * spokeFrac;
    fillEllipse(wx, wy, r * squash, r, W, H, (y, xa, xb) => {
      for (let x = xa; x < xb; x++) {
        const dx = (x + 0.5 - wx) / squash;
        const dy = y + 0.5 - wy;
        const d = Math.sqrt(dx * dx + dy * dy);
        let col: Rgb = tyreCol;
        let m = 1;
        if (d < rimR) {
          if (d < rimR * 0.2) m = 1.1;
          else if (d > rimR * 0.92) m = 0.6;
          else {
            let onSpoke = false;
            for (let k = 0; k < spokes; k++) {
              const a = spin + (TAU * k) / spokes;
              const ck = detCos(a);
              const sk = detSin(a);
              if (dx * ck + dy * sk > 0 && Math.abs(-dx * sk + dy * ck) < spokeW) onSpoke = true;
            }
            m = onSpoke ? 1 : 0.25;
          }
          col = rimCol;
          m *= 1 + 0.25 * (-dy / rimR);
        } else if (d > r * 0.9) m = 0.7;
        const i = y * W + x;
        img[3 * i] = clamp01(col[0] * m * dark);
        img[3 * i + 1] = clamp01(col[1] * m * dark);
        img[3 * i + 2] = clamp01(col[2] * m * dark);
        mask[i] = 1;
      }
    });
  };

  const outline = carOutline(prof);
  const nearPoly = toPoly(outline.pts);
  const wheelR = prof.wheelR * L;
  const spin = rng.range(0, TAU);

  // Far-side wheels first, then the surfaces swept between the near and far sides that face the camera.
  for (const wxn of prof.wheelX) {
    const [wx, wy] = proj(wxn, prof.wheelR);
    wheel(wx + Sx, wy + Sy, wheelR, cosY, 0.75, spin + 0.3);
  }
  let area2 = 0;
  const n = nearPoly.length >> 1;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    area2 += nearPoly[2 * i]! * nearPoly[2 * j + 1]! - nearPoly[2 * j]! * nearPoly[2 * i + 1]!;
  }
  const outward = area2 > 0 ? 1 : -1;
  // No depth buffer: draw wheel wells, then glass, then paint, so nearer bodywork covers what it hides.
  const strips: { poly: Poly; tag: OutlineTag; up: number }[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const ax = nearPoly[2 * i]!;
    const ay = nearPoly[2 * i + 1]!;
    const bx = nearPoly[2 * j]!;
    const by = nearPoly[2 * j + 1]!;
    // With y down, a positive signed area means clockwise on screen; the outward normal is (dy, -dx) then.
    const nx = outward * (by - ay);
    const ny = outward * -(bx - ax);
    if (nx * Sx + ny * Sy <= 0) continue;
    const tag = outline.tags[i]!;
    const nl = Math.sqrt(nx * nx + ny * ny) || 1;
    const up = -ny / nl;
    strips.push({ poly: [ax, ay, bx, by, bx + Sx, by + Sy, ax + Sx, ay + Sy], tag, up });
  }
  for (const st of strips) if (st.tag === 'well') fill(st.poly, flat(grey(0.06)));
  for (const st of strips) if (st.tag === 'glass') fill(st.poly, glassShade);
  for (const st of strips) if (st.tag === 'body') fill(st.poly, flat(paint, 0.72 + 0.45 * Math.max(0, st.up)));
  // Lamps and grille on the end face we see, clipped to the car.
  if (view !== 0) {
    const front = view === 1;
    const [ex, ey] = proj(front ? 1 : 0, (front ? prof.nose : prof.tail) - 0.045);
    const lampCol: Rgb = front ? grey(0.92) : [0.7, 0.08, 0.06];
    const rx = Math.max(1.5, Math.abs(Sx) * 0.14);
    const ry = Math.max(1.5, 0.02 * L);
    for (const t of [0.12, 0.88]) {
      fillEllipse(ex + Sx * t, ey + Sy * t, rx, ry, W, H, (y, xa, xb) => {
        for (let x = xa; x < xb; x++) {
          const i = y * W + x;
          if (!mask[i]) continue;
          for (let c = 0; c < 3; c++) img[3 * i + c] = lampCol[c]!;
        }
      });
    }
    const [gx, gy] = proj(front ? 1 : 0, prof.clearance + 0.05);
    const top = ey - gy + 0.02 * L;
    if (front) {
      fill(
        [
          gx + Sx * 0.28,
          gy + Sy * 0.28 + top,
          gx + Sx * 0.72,
          gy + Sy * 0.72 + top,
          gx + Sx * 0.72,
          gy + Sy * 0.72,
          gx + Sx * 0.28,
          gy + Sy * 0.28,
        ],
        flat(grey(0.08)),
        true,
      );
    }
    const plateW = Math.abs(Sx) * 0.12;
    fill(rectPoly(gx + Sx * 0.5, gy + Sy * 0.5 - 0.01 * L, plateW, 0.012 * L, 1, 0), flat(grey(0.85)), true);
  }

  // Near side: bodywork, side glass with pillars, trim, lamps, then wheel wells and wheels.
  fill(nearPoly, paintShade(1));
  const winFront = prof.xWs - 0.035;
  const winRear = prof.xRw + (prof.xRw < 0.05 ? 0.035 : 0.055);
  const glass: Poly = toPoly([
    winRear,
    prof.belt + 0.015,
    prof.xRr + 0.035,
    prof.roof - 0.022,
    prof.xRf - 0.012,
    prof.roof - 0.022,
    winFront,
    prof.belt + 0.015,
  ]);
  fill(glass, glassShade, true);
  const pillarCol = rng.chance(0.5) ? grey(0.06) : paint;
  for (const t of prof.pillars) {
    const xn = winFront + (winRear - winFront) * t;
    const top = prof.roof - 0.018;
    fill(toPoly([xn - 0.012, prof.belt, xn + 0.012, prof.belt, xn + 0.01, top, xn - 0.01, top]), flat(pillarCol), true);
    const [sx, sy] = proj(xn, prof.belt);
    const [sx2, sy2] = proj(xn, prof.clearance + 0.03);
    fill(segmentPoly(sx, sy, sx2, sy2, 0.6), flat(paint, 0.45), true);
    const [hx, hy] = proj(xn + 0.04, prof.belt - 0.035);
    fill(rectPoly(hx, hy, 0.02 * L * cosY, 0.006 * L, 1, 0), flat(paint, 1.25), true);
  }
  {
    const [sx, sy] = proj(winFront + 0.01, prof.belt);
    const [sx2, sy2] = proj(winFront + 0.03, prof.clearance + 0.03);
    fill(segmentPoly(sx, sy, sx2, sy2, 0.6), flat(paint, 0.45), true);
  }
  fill(
    toPoly([0.965, prof.nose - 0.055, 1.002, prof.nose - 0.06, 1.002, prof.nose - 0.03, 0.955, prof.nose - 0.018]),
    flat(grey(0.88)),
    true,
  );
  fill(
    toPoly([-0.002, prof.tail - 0.07, 0.03, prof.tail - 0.065, 0.03, prof.tail - 0.03, -0.002, prof.tail - 0.035]),
    flat([0.62, 0.06, 0.05]),
    true,
  );
  fill(
    toPoly([
      prof.xWs - 0.05,
      prof.belt + 0.005,
      prof.xWs - 0.01,
      prof.belt + 0.005,
      prof.xWs - 0.015,
      prof.belt + 0.04,
      prof.xWs - 0.05,
      prof.belt + 0.035,
    ]),
    flat(trimDark ? grey(0.07) : paint, 0.9),
  );
  for (const wxn of prof.wheelX) {
    const a = prof.wheelR * 1.14;
    const well: number[] = [wxn + a, prof.clearance + 0.01];
    for (let k = 0; k <= 10; k++) {
      const t = (Math.PI * k) / 10;
      well.push(wxn + a * detCos(t), prof.wheelR * 1.02 + a * detSin(t));
    }
    well.push(wxn - a, prof.clearance + 0.01);
    fill(toPoly(well), flat(grey(0.05)));
    const [wx, wy] = proj(wxn, prof.wheelR);
    wheel(wx, wy, wheelR, Math.max(0.5, cosY), 1, spin);
  }

  // Camera: light blur and sensor noise.
  blur121(img, W, H, 3);
  const noiseSeed = rng.nextU32();
  const sigma = rng.range(0.004, 0.015);
  const image = new Uint8Array(N * 3);
  for (let i = 0; i < N; i++) {
    const h = hash3(i % W, (i / W) | 0, noiseSeed);
    const e = (((h & 0xff) + ((h >>> 8) & 0xff) + ((h >>> 16) & 0xff)) / 382.5 - 1) * sigma * 1.41;
    for (let c = 0; c < 3; c++) image[3 * i + c] = Math.round(clamp01(img[3 * i + c]! + e) * 255);
  }
  return { width: W, height: H, image, mask };
}
