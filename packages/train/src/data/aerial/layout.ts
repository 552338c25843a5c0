/**
 * Aerial scenes, step 1: the layout. A seed fixes every choice; nothing here touches pixels.
 */
import { type Poly, rectPoly } from '../raster.ts';
import { detCos, detSin, SeededRng } from '../rng.ts';
import { clamp01, grey, jitter, type Rgb, sq, TAU } from '../scene-common.ts';
import { corridor, OCC_BUILDING, OCC_FREE, OCC_PAVED, OCC_ROAD, Occupancy, segmentAt, segmentsOf } from './geometry.ts';
import {
  AERIAL_METRES_PER_PIXEL,
  type BuildingType,
  buildingSpec,
  CAR_TOP_COLOURS,
  type PartSpec,
  pavementColour,
  px,
  type RoofKind,
  roofColour,
  SCENE_KIND_ORDER,
  SCENE_KINDS,
  type SceneKind,
} from './specs.ts';

export interface Sun {
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

export interface Stripe {
  nx: number;
  ny: number;
  period: number;
  amp: number;
}

export interface Surface {
  poly: Poly;
  col: Rgb;
  tex: number;
  alpha: number;
  stripe?: Stripe;
}

export interface Road {
  pts: number[];
  hw: number;
  walk: number;
  verge: number;
}

export interface Part {
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

export interface RoofBox {
  poly: Poly;
  col: Rgb;
  /** Height in metres above the roof, for its small shadow; 0 for flush items such as solar panels. */
  h: number;
  grid: boolean;
}

export interface Building {
  parts: Part[];
  boxes: RoofBox[];
}

export interface Car {
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

export interface Tree {
  x: number;
  y: number;
  r: number;
  col: Rgb;
  h: number;
  seed: number;
}

/**
 * The layout of one aerial scene being built: its scene-wide choices (kind, sun, palettes, density) and what has been
 * placed so far, with the primitives that place things (roads, buildings, cars, trees, paving) and keep them apart
 * on the occupancy grid. What each scene kind places is in scene-kinds.ts; render.ts draws the result.
 */
export class AerialLayout {
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
    this.kind = SCENE_KIND_ORDER[rng.weighted(SCENE_KIND_ORDER.map((k) => SCENE_KINDS[k].share))]!;
    const kind = SCENE_KINDS[this.kind];

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
    this.roofWeights = kind.roofBias.map((b) => b * (0.05 + rng.next() * rng.next()));

    const grass: Rgb = jitter(rng, [0.3, 0.4, 0.2], 0.15);
    const dry: Rgb = jitter(rng, [0.5, 0.46, 0.32], 0.12);
    const soil: Rgb = jitter(rng, [0.44, 0.36, 0.27], 0.15);
    const r = rng.next();
    this.groundA = r < 0.6 ? grass : r < 0.85 ? dry : soil;
    this.groundB = rng.pick([soil, dry, grass]);
    this.pavedGround = kind.paved ? rng.range(...kind.paved) : 0;
    this.forest = kind.forest ? rng.range(...kind.forest) : 0;
    this.roadCol = rng.chance(0.35) ? roofColour(rng, [1, 0, 0.2, 0, 1, 0.2]) : pavementColour(rng);
    this.walkCol = grey(rng.range(0.55, 0.8), rng.range(0, 0.04));
    this.dirtRoads = this.kind === 'rural' && rng.chance(0.5);
    this.markCol = rng.chance(0.7) ? grey(0.92) : [0.9, 0.78, 0.3];
    this.treeCols = [
      jitter(rng, [0.2, 0.28, 0.13], 0.2),
      jitter(rng, [0.13, 0.19, 0.11], 0.2),
      jitter(rng, [0.28, 0.31, 0.17], 0.2),
    ];
    this.density = rng.range(...kind.density);
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

  /** A uniformly random direction, as a unit vector. */
  randomDirection(): [number, number] {
    const a = this.rng.range(0, TAU);
    return [detCos(a), detSin(a)];
  }

  /** A straight road through a random point (`inset` into the margin) in a random direction. */
  randomStraightRoadPts(inset: number): number[] {
    const [x, y] = this.randomPoint(inset);
    const [c, s] = this.randomDirection();
    return this.straightRoadPts(x, y, c, s);
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
      for (const { ax, ay, dx, dy } of segmentsOf(road.pts)) {
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
    const { ax, ay, dx, dy } = segmentAt(road.pts, this.rng.int(0, (road.pts.length >> 1) - 2));
    const l = Math.sqrt(dx * dx + dy * dy) || 1;
    const t = this.rng.next();
    return { x: ax + t * dx, y: ay + t * dy, tx: dx / l, ty: dy / l };
  }

  /** Cars along roads: parked at the kerb or driving in a lane. */
  addRoadCars(perKm: number): void {
    const rng = this.rng;
    for (const road of this.roads) {
      for (const { ax, ay, dx, dy } of segmentsOf(road.pts)) {
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

  /** Parts of one building of a type, in its local frame (metres), in this scene's roof colours. */
  buildingSpec(type: BuildingType): PartSpec[] {
    return buildingSpec(this.rng, type, this.roofWeights);
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
    return this.randomDirection();
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
      for (const { ax, ay, dx, dy } of segmentsOf(road.pts)) {
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
}
