/**
 * Aerial scenes, step 3: rendering a layout into pixels, as a sequence of named passes over one canvas (ground,
 * surfaces, roads, overlays, cars, building shadows, roofs, roof furniture, trees, camera). Passes draw from the
 * renderer's own random stream in this order; reordering them or their draws changes every image.
 */
import { blur121, convexHull, fillPolygon, type Poly, rectPoly, translatePoly } from '../raster.ts';
import { detCos, detSin, fbmField, hash3, mix32, SeededRng } from '../rng.ts';
import {
  checkOptions,
  clamp01,
  grey,
  jitter,
  mod,
  type Rgb,
  type SyntheticSample,
  type SyntheticSceneOptions,
  TAU,
} from '../scene-common.ts';
import { corridor, markingPolys, offsetPolyline } from './geometry.ts';
import type { AerialLayout, Surface } from './layout.ts';
import { layOutAerialScene } from './scene-kinds.ts';
import { AERIAL_METRES_PER_PIXEL, CAR_TOP_COLOURS, px } from './specs.ts';

/** Options of {@link generateAerialScene}. */
export interface AerialSceneOptions extends SyntheticSceneOptions {
  /**
   * How roof parts hidden under tree crowns are labelled: `'footprint'` (default, as Inria's cadastral ground truth)
   * keeps them as building, `'visible'` marks only what is seen from above.
   */
  occludedRoofs?: 'footprint' | 'visible';
}

/**
 * An Inria-like aerial tile: textured ground, roads with markings, parking lots and other roof-coloured paving,
 * cars, trees and buildings of many shapes, sizes and roof colours with shadows cast in one sun direction, under
 * per-scene lighting, haze and sensor noise. The mask is 1 on building footprints.
 */
export function generateAerialScene(options: AerialSceneOptions): SyntheticSample {
  checkOptions(options);
  const { width: W, height: H } = options;
  const L = layOutAerialScene(W, H, options.seed);
  const rng = L.rng.fork(1);
  const seedBase = rng.nextU32();
  const cv = new Canvas(L, rng, textureFields(W, H, rng, seedBase));
  paintGround(cv);
  for (const s of L.surfaces) cv.paint(s);
  paintRoads(cv);
  for (const s of L.overlays) cv.paint(s);
  paintCars(cv);
  castBuildingShadows(cv);
  paintRoofs(cv);
  paintRoofFurniture(cv);
  paintTrees(cv, mix32(seedBase + 4));
  const image = photograph(cv, mix32(seedBase + 5));
  if (options.occludedRoofs === 'visible') {
    for (let i = 0; i < cv.N; i++) if (cv.canopy[i]) cv.mask[i] = 0;
  }
  return { width: W, height: H, image, mask: cv.mask };
}

/** Texture fields shared by everything: large for land cover, mid for wear and patches, fine for grain. */
interface TextureFields {
  large: Float32Array;
  stain: Float32Array;
  mid: Float32Array;
  grain: Float32Array;
}

function textureFields(W: number, H: number, rng: SeededRng, seedBase: number): TextureFields {
  const N = W * H;
  const large = fbmField(W, H, mix32(seedBase + 1), px(rng.range(25, 60)), 3);
  const stain = fbmField(W, H, mix32(seedBase + 2), px(8), 3);
  const mid = fbmField(W, H, mix32(seedBase + 6), px(1.2), 2);
  const grain = new Float32Array(N);
  const gseed = mix32(seedBase + 3);
  for (let i = 0; i < N; i++) grain[i] = hash3(i % W, (i / W) | 0, gseed) / 4294967296 - 0.5;
  return { large, stain, mid, grain };
}

/** How a full shadow tints each channel: skylight makes shade bluish. */
const shadeTint = [1, 1.02, 1.1];

/** The image being drawn, its labels, and the drawing operations the passes share. */
class Canvas {
  readonly W: number;
  readonly H: number;
  readonly N: number;
  /** Linear RGB, row-major HWC, unclamped until the camera pass. */
  readonly img: Float32Array;
  /** 1 on building footprints. */
  readonly mask: Uint8Array;
  /** 1 under tree crowns (for `occludedRoofs: 'visible'`). */
  readonly canopy: Uint8Array;
  /** Where cars and buildings shade the ground, 0..1: stamped hard, blurred into a penumbra, then applied. */
  readonly groundShadow: Float32Array;
  /** Direction towards the sun: (x, y) on the ground, z up. */
  readonly lx: number;
  readonly ly: number;
  readonly lz: number;

  constructor(
    readonly L: AerialLayout,
    /** The renderer's random stream, separate from the layout's. */
    readonly rng: SeededRng,
    readonly fields: TextureFields,
  ) {
    this.W = L.width;
    this.H = L.height;
    this.N = this.W * this.H;
    this.img = new Float32Array(this.N * 3);
    this.mask = new Uint8Array(this.N);
    this.canopy = new Uint8Array(this.N);
    this.groundShadow = new Float32Array(this.N);
    this.lx = -L.sun.dx * L.sun.cosE;
    this.ly = -L.sun.dy * L.sun.cosE;
    this.lz = L.sun.sinE;
  }

  /** Texture multiplier at pixel i: `amp` scales the stain, wear and grain fields around 1. */
  tex(i: number, amp: number): number {
    const { stain, mid, grain } = this.fields;
    return 1 + amp * (0.5 * (stain[i]! - 0.5) + 0.6 * (mid[i]! - 0.5) + 0.2 * grain[i]!);
  }

  /** Blends a textured, optionally striped surface over the image. */
  paint(s: Surface): void {
    const { W, H, img } = this;
    const [cr, cg, cb] = s.col;
    const st = s.stripe;
    fillPolygon(s.poly, W, H, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) {
        const i = y * W + x;
        let m = this.tex(i, s.tex);
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
  }

  /** Sets `buf` to 1 inside the polygon. */
  stamp(buf: Float32Array, poly: Poly): void {
    const W = this.W;
    fillPolygon(poly, W, this.H, (y, x0, x1) => {
      for (let x = x0; x < x1; x++) buf[y * W + x] = 1;
    });
  }

  /** Ground shadow of a prism of `hMetres` over `poly`: the hull of the base and its copy moved along the sun. */
  shadowOf(poly: Poly, hMetres: number): Poly {
    const sun = this.L.sun;
    // Very long shadows would swamp a tile; real ones break up on neighbouring blocks anyway.
    const d = px(Math.min(hMetres * sun.k, 25));
    return convexHull(poly.concat(translatePoly(poly, sun.dx * d, sun.dy * d)));
  }

  /** Darkens (and cools) the image by a soft shadow buffer of 0..1. */
  applyShadow(buf: Float32Array): void {
    const { N, img } = this;
    const sun = this.L.sun;
    for (let i = 0; i < N; i++) {
      const sh = buf[i]!;
      if (sh === 0) continue;
      const f = 1 - sun.shadow * sh;
      for (let c = 0; c < 3; c++) img[3 * i + c] = img[3 * i + c]! * f * (1 + (shadeTint[c]! - 1) * sh);
    }
  }
}

/** Ground: two land-cover colours blended by the large field, paved patches in towns. */
function paintGround(cv: Canvas): void {
  const { N, img, L, rng } = cv;
  const { large, mid, grain } = cv.fields;
  const [a0, a1, a2] = L.groundA;
  const [b0, b1, b2] = L.groundB;
  const [p0, p1, p2] = L.pavedCol;
  const paveT = 1 - L.pavedGround;
  const groundTex = rng.range(0.3, 0.7);
  for (let i = 0; i < N; i++) {
    const f = large[i]!;
    const t = clamp01((f - 0.35) * 3.3);
    const m = cv.tex(i, groundTex);
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
}

/** Roads: verge, pavement, carriageway, then markings. */
function paintRoads(cv: Canvas): void {
  const { L, rng } = cv;
  const roadTex = rng.range(0.3, 0.8);
  const roadCol = L.dirtRoads ? jitter(rng, [0.5, 0.42, 0.32], 0.1) : L.roadCol;
  const vergeCol = jitter(rng, L.groundA, 0.1);
  for (const road of L.roads) {
    if (road.verge > 0 && road.walk > 0) {
      for (const poly of corridor(road.pts, road.hw + road.walk + road.verge))
        cv.paint({ poly, col: L.walkCol, tex: 0.3, alpha: 1 });
      for (const poly of corridor(road.pts, road.hw + road.verge))
        cv.paint({ poly, col: vergeCol, tex: 0.5, alpha: 1 });
    } else if (road.walk > 0) {
      for (const poly of corridor(road.pts, road.hw + road.walk))
        cv.paint({ poly, col: L.walkCol, tex: 0.3, alpha: 1 });
    }
  }
  for (const road of L.roads) {
    for (const poly of corridor(road.pts, road.hw)) cv.paint({ poly, col: roadCol, tex: roadTex, alpha: 1 });
  }
  if (!L.dirtRoads) {
    for (const road of L.roads) {
      if (road.hw < px(2.5)) continue;
      const dashed = rng.chance(0.7);
      for (const poly of markingPolys(road.pts, 0.6, dashed ? px(3) : 0, dashed ? px(9) : 0)) {
        cv.paint({ poly, col: L.markCol, tex: 0, alpha: 0.75 });
      }
      if (road.hw > px(4) && rng.chance(0.6)) {
        for (const side of [1, -1]) {
          for (const poly of markingPolys(offsetPolyline(road.pts, side * (road.hw - px(0.6))), 0.5, 0, 0)) {
            cv.paint({ poly, col: grey(0.9), tex: 0, alpha: 0.7 });
          }
        }
      }
    }
  }
}

/** Cars and trucks, seen from above: body, darker glass front and back, a lighter roof; their shadows are stamped. */
function paintCars(cv: Canvas): void {
  const { L, rng, groundShadow } = cv;
  for (const car of L.cars) {
    const body = rectPoly(car.cx, car.cy, car.len, car.wid, car.c, car.s);
    cv.stamp(groundShadow, cv.shadowOf(rectPoly(car.cx, car.cy, car.len * 0.9, car.wid * 0.85, car.c, car.s), car.h));
    cv.paint({ poly: body, col: car.col, tex: 0.1, alpha: 1 });
    if (car.truck) {
      const cab = car.len - px(2.2);
      cv.paint({
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
    cv.paint({ poly: rectPoly(wx, wy, car.len * 0.17, car.wid * 0.8, car.c, car.s), col: glass, tex: 0, alpha: 0.85 });
    const [rx, ry] = at(-0.62);
    cv.paint({ poly: rectPoly(rx, ry, car.len * 0.1, car.wid * 0.75, car.c, car.s), col: glass, tex: 0, alpha: 0.8 });
    const [tx, ty] = at(-0.2);
    cv.paint({
      poly: rectPoly(tx, ty, car.len * 0.3, car.wid * 0.75, car.c, car.s),
      col: [clamp01(car.col[0] * 1.12), clamp01(car.col[1] * 1.12), clamp01(car.col[2] * 1.12)],
      tex: 0,
      alpha: 1,
    });
  }
}

/** Building shadows: each part as a prism of its mean height, added to the cars' shadows, softened, applied. */
function castBuildingShadows(cv: Canvas): void {
  const { W, H, L, groundShadow } = cv;
  for (const b of L.buildings) {
    for (const p of b.parts)
      cv.stamp(groundShadow, cv.shadowOf(rectPoly(p.cx, p.cy, p.hl, p.hw, p.c, p.s), p.height + p.rise * 0.5));
  }
  blur121(groundShadow, W, H, 1);
  cv.applyShadow(groundShadow);
}

/** Roofs: lit facets, parapets, seams or tile rows, weathering; marks the building mask. */
function paintRoofs(cv: Canvas): void {
  const { W, H, img, mask, L, rng, lx, ly, lz } = cv;
  const { large, stain, mid, grain } = cv.fields;
  const sun = L.sun;
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
}

/** Roof furniture: boxes with small shadows on the roof, flush solar panels with a cell grid. */
function paintRoofFurniture(cv: Canvas): void {
  const { W, H, img, mask, L } = cv;
  const { grain } = cv.fields;
  const sun = L.sun;
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
}

/** Trees: their shadows fall on ground and roofs alike, then crowns go on top; marks the canopy. */
function paintTrees(cv: Canvas, leafSeed: number): void {
  const { W, H, N, img, canopy, L, lx, ly, lz } = cv;
  const { grain } = cv.fields;
  const sun = L.sun;
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
    cv.stamp(treeShadow, translatePoly(crowns[i]!, sun.dx * d, sun.dy * d));
    cv.stamp(treeShadow, translatePoly(crowns[i]!, sun.dx * d * 0.6, sun.dy * d * 0.6));
  });
  blur121(treeShadow, W, H, 1);
  cv.applyShadow(treeShadow);
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
}

/** Camera: exposure, contrast, white balance, haze, optics blur, then 8-bit quantisation with sensor noise. */
function photograph(cv: Canvas, noiseSeed: number): Uint8Array {
  const { W, H, N, img, rng } = cv;
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
  return image;
}
