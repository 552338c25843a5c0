/**
 * Carvana-like car scenes: one car in a studio, seen from the side or three-quarter front/rear, with its silhouette
 * mask. A seed maps to byte-identical output (see rng.ts).
 */
import { blur121, fillEllipse, fillPolygon, type Poly, rectPoly, segmentPoly } from './raster.ts';
import { detCos, detSin, hash3, SeededRng } from './rng.ts';
import {
  checkOptions,
  clamp01,
  grey,
  jitter,
  type Rgb,
  type SyntheticSample,
  type SyntheticSceneOptions,
  TAU,
} from './scene-common.ts';

/** Body styles, in the order their shares are drawn. */
const CAR_BODIES = ['sedan', 'hatchback', 'suv', 'van', 'pickup', 'coupe'] as const;
/** How often each body style is drawn, in {@link CAR_BODIES} order. */
const CAR_BODY_SHARES = [0.32, 0.2, 0.25, 0.07, 0.08, 0.08];
type CarBody = (typeof CAR_BODIES)[number];
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

/**
 * One profile dimension as drawn per car: a nominal value jittered by ±5 %, `[nominal, fraction]` for another
 * jitter, or `exact(v)` for a value every car of the body shares (no random draw).
 */
type Dimension = number | readonly [nominal: number, jitter: number] | { readonly exact: number };
const exact = (v: number): Dimension => ({ exact: v });

/**
 * Nominal side profiles, one column per body style in {@link CAR_BODIES} order; each car draws its column's
 * dimensions top to bottom (that order is part of the output). The front wheel is jittered less, so the wheelbase
 * stays plausible.
 */
// biome-ignore format: a table reads best in columns
const PROFILE_TABLE = {
  //            sedan  hatchback    suv          van           pickup coupe
  wheelR:      [0.085, 0.09,        0.1,         0.085,        0.095, 0.085],
  clearance:   [0.05,  0.05,        0.08,        0.07,         0.08,  0.045],
  belt:        [0.22,  0.24,        0.29,        0.27,         0.3,   0.2],
  roof:        [0.31,  0.36,        0.42,        0.46,         0.42,  0.28],
  nose:        [0.19,  0.2,         0.26,        0.22,         0.27,  0.17],
  tail:        [0.23,  0.25,        0.3,         0.3,          0.3,   0.21],
  xWs:         [0.68,  0.7,         0.72,        [0.86, 0.02], 0.74,  0.64],
  xRf:         [0.56,  0.56,        0.62,        0.74,         0.63,  0.52],
  xRr:         [0.32,  0.12,        0.07,        0.03,         0.43,  0.3],
  xRw:         [0.17,  exact(0.02), exact(0.02), exact(0.015), 0.41,  0.14],
  rearWheelX:  [0.19,  0.17,        0.18,        0.17,         0.17,  0.2],
  frontWheelX: [[0.8, 0.02], [0.8, 0.02], [0.8, 0.02], [0.82, 0.02], [0.8, 0.02], [0.8, 0.02]],
} satisfies Record<string, readonly Dimension[]>;

/** Where each body style's side glass is split by extra pillars, as fractions from its front (0) to its rear (1). */
const PILLARS: Record<CarBody, readonly number[]> = {
  sedan: [0.52],
  hatchback: [0.5],
  suv: [0.45, 0.8],
  van: [0.35, 0.7],
  pickup: [0.55],
  coupe: [],
};

/** One car's profile: its body style's column of {@link PROFILE_TABLE}, drawn top to bottom. */
function carProfile(rng: SeededRng, body: CarBody): CarProfile {
  const column = CAR_BODIES.indexOf(body);
  const draw = (row: readonly Dimension[]): number => {
    const d = row[column]!;
    if (typeof d === 'number') return d * (1 + rng.range(-0.05, 0.05));
    if ('exact' in d) return d.exact;
    return d[0] * (1 + rng.range(-d[1], d[1]));
  };
  const t = PROFILE_TABLE;
  return {
    wheelR: draw(t.wheelR),
    clearance: draw(t.clearance),
    belt: draw(t.belt),
    roof: draw(t.roof),
    nose: draw(t.nose),
    tail: draw(t.tail),
    xWs: draw(t.xWs),
    xRf: draw(t.xRf),
    xRr: draw(t.xRr),
    xRw: draw(t.xRw),
    wheelX: [draw(t.rearWheelX), draw(t.frontWheelX)],
    pillars: [...PILLARS[body]],
  };
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

/** The edges of a closed polygon: edge i runs from vertex i to vertex j = i + 1 (mod n). */
function edgesOf(pts: readonly number[]): { ax: number; ay: number; bx: number; by: number; i: number; j: number }[] {
  const n = pts.length >> 1;
  return Array.from({ length: n }, (_, i) => {
    const j = (i + 1) % n;
    return { ax: pts[2 * i]!, ay: pts[2 * i + 1]!, bx: pts[2 * j]!, by: pts[2 * j + 1]!, i, j };
  });
}

/** One round of Chaikin corner cutting: rounds the outline while keeping its tags on the edges they came from. */
function chaikin(pts: readonly number[], tags: readonly OutlineTag[]): { pts: number[]; tags: OutlineTag[] } {
  const out: number[] = [];
  const outTags: OutlineTag[] = [];
  for (const { ax, ay, bx, by, i, j } of edgesOf(pts)) {
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

  const body = CAR_BODIES[rng.weighted(CAR_BODY_SHARES)]!;
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
  const edges = edgesOf(nearPoly);
  let area2 = 0;
  for (const { ax, ay, bx, by } of edges) area2 += ax * by - bx * ay;
  const outward = area2 > 0 ? 1 : -1;
  // No depth buffer: draw wheel wells, then glass, then paint, so nearer bodywork covers what it hides.
  const strips: { poly: Poly; tag: OutlineTag; up: number }[] = [];
  for (const { ax, ay, bx, by, i } of edges) {
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
