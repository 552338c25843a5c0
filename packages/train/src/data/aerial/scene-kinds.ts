/**
 * Aerial scenes, step 2: what each scene kind places on the layout (rural farmsteads, suburban streets of houses,
 * an urban grid of blocks, industrial halls and yards), then what every kind gets: roof-coloured distractors,
 * woodland and the town paving colour.
 */
import { rectPoly, segmentPoly } from '../raster.ts';
import { detCos, detSin } from '../rng.ts';
import { grey, jitter, type Rgb, sq, TAU } from '../scene-common.ts';
import { OCC_PAVED, OCC_ROAD, smoothNoise } from './geometry.ts';
import { AerialLayout, type Building, type Road } from './layout.ts';
import { type BuildingType, px, type SceneKind, scaleSpec, specExtentV } from './specs.ts';

/** Lays out a whole scene: the scene-wide choices, the kind's own layout, then distractors, woodland, paving. */
export function layOutAerialScene(width: number, height: number, seed: number): AerialLayout {
  const L = new AerialLayout(width, height, seed);
  LAYOUT_BY_KIND[L.kind](L);
  addDistractors(L);
  addForest(L);
  L.pavedCol = L.lookalike(0.4);
  return L;
}

function layoutRural(L: AerialLayout): void {
  const rng = L.rng;
  // Fields: large rotated patches with crop rows, in the ground palette.
  const nFields = rng.int(0, 4);
  for (let i = 0; i < nFields; i++) {
    const [x, y] = L.randomPoint(0);
    const [c, s] = L.randomDirection();
    const col = jitter(rng, rng.pick([L.groundA, L.groundB, [0.55, 0.5, 0.3], [0.36, 0.44, 0.2]] as Rgb[]), 0.1);
    L.surfaces.push({
      poly: rectPoly(x, y, px(rng.range(30, 120)), px(rng.range(20, 80)), c, s),
      col,
      tex: 0.6,
      alpha: 1,
      stripe: { nx: -s, ny: c, period: rng.range(3, 7), amp: rng.range(0.04, 0.12) },
    });
  }
  const nRoads = Math.round(rng.weighted([0.35, 0.45, 0.2]) * L.roadScale);
  for (let i = 0; i < nRoads; i++) {
    const pts = rng.chance(0.5) ? L.curvedRoadPts() : L.randomStraightRoadPts(L.margin);
    L.addRoad(pts, rng.range(3.5, 6.5), 0, rng.range(0.5, 1.5));
  }
  L.addRoadCars(rng.range(0, 8));
  // Farmsteads: a house, barns and sheds around a gravel or paved yard, usually inside the tile.
  const nFarms = Math.max(1, Math.round(L.density * 6 * (L.domainArea / sq(400))));
  for (let f = 0; f < nFarms; f++) {
    const [fx, fy] = rng.chance(0.85) ? [rng.range(0, L.width), rng.range(0, L.height)] : L.randomPoint(0);
    const [c, s] = L.orientationAt(fx, fy, 0.6);
    const before = L.buildings.length;
    const n = rng.int(2, 6);
    for (let i = 0; i < n * 6 && L.buildings.length - before < n; i++) {
      const first = L.buildings.length === before;
      const type: BuildingType = first ? 'house' : rng.pick(['barn', 'shed', 'shed', 'house'] as const);
      const spec = L.buildingSpec(type);
      const r = px(first ? rng.range(0, 10) : rng.range(8, 35));
      const a = rng.range(0, TAU);
      const rot = rng.chance(0.5);
      const b = L.tryBuilding(
        type,
        spec,
        fx + r * detCos(a),
        fy + r * detSin(a),
        rot ? -s : c,
        rot ? c : s,
        rng.range(2, 5),
      );
      if (b && rng.chance(0.6)) L.addYardTrees(b, rng.int(1, 4));
    }
    // The yard goes under the buildings (surfaces are drawn first), in a colour like one of their roofs.
    const own = L.buildings.slice(before);
    const yardCol =
      own.length > 0 && rng.chance(0.4) ? jitter(rng, rng.pick(own).parts[0]!.col, 0.08) : L.lookalike(0.2);
    L.surfaces.push({
      poly: rectPoly(fx, fy, px(rng.range(12, 30)), px(rng.range(10, 25)), c, s),
      col: yardCol,
      tex: 0.9,
      alpha: rng.range(0.6, 1),
    });
  }
  L.addStreetTrees(0.3);
}

function layoutSuburban(L: AerialLayout): void {
  const rng = L.rng;
  const nRoads = Math.round(rng.weighted([0.08, 0.45, 0.32, 0.15]) * L.roadScale);
  const width = rng.range(6, 9.5);
  const walk = rng.chance(0.6) ? rng.range(1.4, 2.2) : 0;
  const verge = rng.range(0.5, 3);
  for (let i = 0; i < nRoads; i++) {
    const pts = rng.chance(0.5) ? L.curvedRoadPts() : L.randomStraightRoadPts(L.margin / 2);
    L.addRoad(pts, width, walk, verge);
  }
  L.addRoadCars(rng.range(5, 30));
  const attempts = Math.round(L.density * 9 * (L.domainArea / sq(px(30))));
  for (let i = 0; i < attempts; i++) {
    const type: BuildingType = rng.chance(0.85) ? 'house' : rng.chance(0.6) ? 'apartment' : 'shed';
    const spec = L.buildingSpec(type);
    let x: number;
    let y: number;
    let c: number;
    let s: number;
    let road: Road | null = null;
    let side = 1;
    if (L.roads.length > 0 && rng.chance(0.75)) {
      // Facing a street, set back behind a front yard.
      road = rng.pick(L.roads);
      const p = L.pointOnRoad(road);
      side = rng.chance(0.5) ? 1 : -1;
      const setback = road.hw + road.walk + road.verge + px(rng.range(3, 10)) + px(specExtentV(spec));
      x = p.x - side * p.ty * setback;
      y = p.y + side * p.tx * setback;
      c = p.tx;
      s = p.ty;
    } else {
      [x, y] = L.randomPoint(0);
      [c, s] = L.orientationAt(x, y, 0.7);
    }
    const b = L.tryBuilding(type, spec, x, y, c, s, rng.range(1.5, 4));
    if (!b) continue;
    const main = b.parts[0]!;
    if (road && rng.chance(0.7)) {
      // Driveway from the front of the house to the kerb, sometimes with a car on it.
      // The street lies on the -side half of the house's v axis.
      const u = rng.range(-0.7, 0.7) * main.hl;
      const v = -side * main.hw;
      const fx = main.cx + u * c - v * s;
      const fy = main.cy + u * s + v * c;
      const near = L.nearestRoad(fx, fy);
      if (near && near.d < px(30)) {
        const col = rng.chance(0.3) ? main.col : L.lookalike(0.3);
        const hw = px(rng.range(1.5, 2.8));
        const poly = segmentPoly(fx, fy, near.px, near.py, hw);
        L.overlays.push({ poly, col, tex: 0.6, alpha: 1 });
        if (rng.chance(0.4)) {
          const t = rng.range(0.5, 0.8);
          const l = near.d || 1;
          L.cars.push(
            L.makeCar(fx + (near.px - fx) * t, fy + (near.py - fy) * t, (near.px - fx) / l, (near.py - fy) / l, false),
          );
        }
      }
    }
    if (rng.chance(0.35)) {
      // Patio or terrace behind the house, in roof-like pavers.
      const v = side * (main.hw + px(rng.range(2, 4)));
      const col = rng.chance(0.35) ? jitter(rng, main.col, 0.08) : L.lookalike(0.3);
      L.addPaved(main.cx - v * s, main.cy + v * c, px(rng.range(2, 6)), px(rng.range(1.5, 3.5)), c, s, col, 0.5);
    }
    if (rng.chance(0.12)) {
      const v = side * (main.hw + px(rng.range(6, 10)));
      const hl = px(rng.range(3, 6));
      const hw = px(rng.range(2, 3.5));
      const poly = rectPoly(main.cx - v * s, main.cy + v * c, hl, hw, c, s);
      if (L.occ.test(poly) < OCC_ROAD) {
        L.surfaces.push({
          poly: rectPoly(main.cx - v * s, main.cy + v * c, hl + 2, hw + 2, c, s),
          col: grey(0.8),
          tex: 0.2,
          alpha: 1,
        });
        L.surfaces.push({ poly, col: [0.3, 0.62, 0.72], tex: 0.3, alpha: 1 });
        L.occ.mark(poly, OCC_PAVED);
      }
    }
    if (rng.chance(0.65)) L.addYardTrees(b, rng.int(1, 4));
  }
  L.addStreetTrees(0.5);
}

function layoutUrban(L: AerialLayout): void {
  const rng = L.rng;
  const [c, s] = L.randomDirection();
  const width = rng.range(9, 16);
  const walk = rng.range(2.5, 5);
  for (const [dc, ds, spacing] of [
    [c, s, px(rng.range(70, 140))],
    [-s, c, px(rng.range(70, 160))],
  ] as const) {
    const phase = rng.range(0, spacing);
    const cx = L.width / 2;
    const cy = L.height / 2;
    const reach = (L.width + L.height) / 2 + L.margin * 2;
    for (let o = -reach - phase; o < reach; o += spacing) {
      if (rng.chance(0.1)) continue;
      L.addRoad(L.straightRoadPts(cx - ds * o, cy + dc * o, dc, ds), width, walk, 0);
    }
  }
  L.addRoadCars(rng.range(20, 60));
  forEachSite(L, Math.round(L.density * 16 * (L.domainArea / sq(px(25)))), (x, y, r) => {
    if (r < 0.05) {
      L.addParkingLot(x, y, c, s, rng.int(1, 2), rng.int(4, 12));
      return;
    }
    if (r < 0.09) {
      const col = rng.chance(0.7) ? L.lookalike(0.5) : grey(rng.range(0.55, 0.85));
      L.addPaved(x, y, px(rng.range(6, 20)), px(rng.range(5, 15)), c, s, col, 0.4);
      return;
    }
    const type: BuildingType = rng.chance(0.75) ? 'block' : 'apartment';
    const j = rng.range(-0.03, 0.03);
    const spec = L.buildingSpec(type);
    const clear = rng.range(0, 1.5);
    // Shrink a block that does not fit rather than give up: city blocks fill up to their edges.
    for (const f of [1, 0.75, 0.55]) {
      if (L.tryBuilding(type, scaleSpec(spec, f), x, y, c - j * s, s + j * c, clear)) break;
    }
  });
  for (const b of L.buildings) if (rng.chance(0.1)) L.addYardTrees(b, rng.int(1, 3));
  L.addStreetTrees(0.6);
}

function layoutIndustrial(L: AerialLayout): void {
  const rng = L.rng;
  const [c, s] = L.randomDirection();
  const nRoads = Math.max(1, Math.round(rng.int(1, 2) * L.roadScale));
  for (let i = 0; i < nRoads; i++) {
    const [x, y] = L.randomPoint(L.margin);
    const rot = i === 1;
    L.addRoad(L.straightRoadPts(x, y, rot ? -s : c, rot ? c : s), rng.range(8, 14), rng.chance(0.4) ? 2 : 0, 1);
  }
  L.addRoadCars(rng.range(5, 25));
  // Big sheds first, each retried until one fits: left to chance they would rarely find room.
  const nBig = Math.max(1, Math.round(L.density * 3 * (L.domainArea / sq(400))));
  for (let b = 0; b < nBig; b++) {
    for (let t = 0; t < 30; t++) {
      const x = rng.range(-0.1, 1.1) * L.width;
      const y = rng.range(-0.1, 1.1) * L.height;
      const b = L.tryBuilding('warehouse', L.buildingSpec('warehouse'), x, y, c, s, rng.range(3, 8));
      if (b) {
        addApron(L, b);
        break;
      }
    }
  }
  forEachSite(L, Math.round(L.density * 10 * (L.domainArea / sq(px(40)))), (x, y, r) => {
    if (r < 0.15) {
      L.addParkingLot(x, y, c, s, rng.int(1, 3), rng.int(5, 16));
      return;
    }
    if (r < 0.3) {
      // Yard: a large paved area, often with trucks and trailers standing on it.
      const hl = px(rng.range(15, 45));
      const hw = px(rng.range(10, 30));
      if (L.addPaved(x, y, hl, hw, c, s, L.lookalike(0.5), 0.7)) {
        const n = rng.int(0, 4);
        for (let t = 0; t < n; t++) {
          const u = rng.range(-0.7, 0.7) * hl;
          const v = rng.range(-0.7, 0.7) * hw;
          L.cars.push(L.makeCar(x + u * c - v * s, y + u * s + v * c, -s, c, true));
        }
      }
      return;
    }
    const type: BuildingType = rng.chance(0.65) ? 'warehouse' : rng.chance(0.5) ? 'block' : 'shed';
    L.tryBuilding(type, L.buildingSpec(type), x, y, c, s, rng.range(3, 10));
  });
  L.addStreetTrees(0.3);
}

/** Loading apron along one long side of a shed: paving that meets the roof edge, often in the same colour. */
function addApron(L: AerialLayout, b: Building): void {
  const rng = L.rng;
  const p = b.parts[0]!;
  if (!rng.chance(0.75)) return;
  const side = rng.chance(0.5) ? 1 : -1;
  const depth = px(rng.range(8, 25));
  const v = side * (p.hw + depth / 2 - px(1));
  const poly = rectPoly(p.cx - v * p.s, p.cy + v * p.c, p.hl * rng.range(0.7, 1.1), depth / 2, p.c, p.s);
  const col = rng.chance(0.4) ? jitter(rng, p.col, 0.06) : L.lookalike(0.3);
  L.surfaces.push({ poly, col, tex: 0.5, alpha: 1 });
  L.occ.mark(poly, OCC_PAVED);
  const n = rng.int(0, 3);
  for (let t = 0; t < n; t++) {
    const u = rng.range(-0.8, 0.8) * p.hl;
    const vv = side * (p.hw + px(rng.range(5, 8)));
    L.cars.push(L.makeCar(p.cx + u * p.c - vv * p.s, p.cy + u * p.s + vv * p.c, -p.s * side, p.c * side, true));
  }
}

/** Roof-coloured things that are not buildings: concrete slabs, plazas, sports courts, paved yards. */
function addDistractors(L: AerialLayout): void {
  const rng = L.rng;
  const n = Math.round(rng.range(0.5, 3) * (L.domainArea / sq(400)));
  for (let i = 0; i < n; i++) {
    const [x, y] = L.randomPoint(0);
    const [c, s] = L.orientationAt(x, y, 0.6);
    const r = rng.next();
    if (r < 0.4) {
      L.addPaved(x, y, px(rng.range(4, 15)), px(rng.range(3, 10)), c, s, grey(rng.range(0.6, 0.9)), 0.3);
    } else if (r < 0.75) {
      L.addPaved(x, y, px(rng.range(4, 18)), px(rng.range(3, 12)), c, s, L.lookalike(0.5), 0.6);
    } else if (r < 0.9) {
      // Sports court with its white lines.
      const hl = px(rng.range(11, 18));
      const hw = px(rng.range(6, 10));
      const col: Rgb = rng.pick([
        [0.6, 0.32, 0.25],
        [0.3, 0.45, 0.3],
        [0.3, 0.4, 0.55],
      ] as Rgb[]);
      if (L.addPaved(x, y, hl, hw, c, s, jitter(rng, col, 0.1), 0.2)) {
        const inner = rectPoly(x, y, hl - px(1.5), hw - px(1.5), c, s);
        for (let k = 0; k < 4; k++) {
          const k2 = (k + 1) % 4;
          L.overlays.push({
            poly: segmentPoly(inner[2 * k]!, inner[2 * k + 1]!, inner[2 * k2]!, inner[2 * k2 + 1]!, 0.6),
            col: grey(0.92),
            tex: 0,
            alpha: 0.9,
          });
        }
        L.overlays.push({ poly: rectPoly(x, y, 0.6, hw - px(1.5), c, s), col: grey(0.92), tex: 0, alpha: 0.9 });
      }
    } else {
      L.addParkingLot(x, y, c, s, 1, rng.int(3, 10));
    }
  }
}

/** Woodland where a low-frequency field is high, kept off roads and roofs. */
function addForest(L: AerialLayout): void {
  if (L.forest <= 0) return;
  const rng = L.rng;
  const cell = px(5);
  const seed = rng.nextU32();
  for (let y = -L.margin / 2; y < L.height + L.margin / 2; y += cell) {
    for (let x = -L.margin / 2; x < L.width + L.margin / 2; x += cell) {
      const f = smoothNoise(x / px(60), y / px(60), seed);
      if (f > 1 - L.forest && rng.chance(0.9)) {
        const tx = x + rng.range(0, cell);
        const ty = y + rng.range(0, cell);
        const o = L.occ.at(tx, ty);
        if (o >= OCC_ROAD) continue;
        L.addTree(tx, ty, px(rng.range(2.5, 5)));
      }
    }
  }
}

/** `n` random sites over the domain, each with a uniform roll `r` that decides what goes there. */
function forEachSite(L: AerialLayout, n: number, place: (x: number, y: number, r: number) => void): void {
  for (let i = 0; i < n; i++) {
    const [x, y] = L.randomPoint(0);
    place(x, y, L.rng.next());
  }
}

const LAYOUT_BY_KIND: Record<SceneKind, (L: AerialLayout) => void> = {
  rural: layoutRural,
  suburban: layoutSuburban,
  urban: layoutUrban,
  industrial: layoutIndustrial,
};
