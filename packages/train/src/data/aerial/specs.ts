/**
 * What an aerial scene is made of, as data where it is data: the ground sampling distance, the four scene kinds and
 * their parameters, the roof and pavement colour families, and one builder per building type. The builders stay
 * code because their draws depend on each other (a wing's width is bounded by the main volume's, a flat roof has no
 * rise); the order of their random draws is part of the output and must not change.
 */
import type { SeededRng } from '../rng.ts';
import { grey, type Rgb } from '../scene-common.ts';

/** Ground sampling distance of the aerial scenes, as in the Inria dataset. */
export const AERIAL_METRES_PER_PIXEL = 0.3;

/** Metres to pixels. */
export const px = (metres: number) => metres / AERIAL_METRES_PER_PIXEL;

type Range = readonly [number, number];

export type SceneKind = 'rural' | 'suburban' | 'urban' | 'industrial';

interface SceneKindSpec {
  /** Share of scenes of this kind. */
  share: number;
  /** Multipliers of the roof family weights (in {@link ROOF_FAMILIES} order): a neighbourhood tends to look alike. */
  roofBias: readonly number[];
  /** Range of the building density. */
  density: Range;
  /** Range of the share of the ground that is paved rather than green, or null for none. */
  paved: Range | null;
  /** Range of the woodland share, or null for none. */
  forest: Range | null;
}

/** The scene kinds, in the order their shares are drawn. */
export const SCENE_KIND_ORDER = ['rural', 'suburban', 'urban', 'industrial'] as const;

export const SCENE_KINDS: Record<SceneKind, SceneKindSpec> = {
  rural: { share: 0.22, roofBias: [1, 1, 1, 0.4, 1, 0.6], density: [0.15, 0.5], paved: null, forest: [0, 0.5] },
  suburban: { share: 0.38, roofBias: [1, 1, 1, 0.5, 1, 0.8], density: [0.3, 1], paved: null, forest: [0, 0.2] },
  urban: { share: 0.24, roofBias: [1.2, 0.6, 0.6, 1, 1, 0.7], density: [0.55, 1], paved: [0.45, 0.9], forest: null },
  industrial: {
    share: 0.16,
    roofBias: [1.3, 0.3, 0.4, 1.3, 1, 0.4],
    density: [0.4, 1],
    paved: [0.2, 0.6],
    forest: null,
  },
};

/** A colour drawn anew for each use: a grey level with a warm (+) or cool (-) tint, or each channel in a range. */
type ColourRange = { grey: Range; tint: Range } | { rgb: readonly [Range, Range, Range] };

function drawColour(rng: SeededRng, c: ColourRange): Rgb {
  if ('grey' in c) return grey(rng.range(...c.grey), rng.range(...c.tint));
  return [rng.range(...c.rgb[0]), rng.range(...c.rgb[1]), rng.range(...c.rgb[2])];
}

/** Roof colour families; the scene's roof weights are in this order. */
export const ROOF_FAMILIES: readonly { name: string; colour: ColourRange }[] = [
  { name: 'grey', colour: { grey: [0.42, 0.68], tint: [-0.04, 0.04] } },
  {
    name: 'red',
    colour: {
      rgb: [
        [0.5, 0.72],
        [0.22, 0.36],
        [0.16, 0.27],
      ],
    },
  },
  {
    name: 'brown',
    colour: {
      rgb: [
        [0.34, 0.5],
        [0.26, 0.36],
        [0.19, 0.27],
      ],
    },
  },
  { name: 'white', colour: { grey: [0.74, 0.92], tint: [-0.03, 0.03] } },
  { name: 'dark', colour: { grey: [0.14, 0.3], tint: [-0.08, 0.02] } },
  {
    name: 'tan',
    colour: {
      rgb: [
        [0.56, 0.68],
        [0.5, 0.6],
        [0.4, 0.5],
      ],
    },
  },
];

export function roofColour(rng: SeededRng, weights: readonly number[]): Rgb {
  return drawColour(rng, ROOF_FAMILIES[rng.weighted(weights)]!.colour);
}

/** Pavement families with the cumulative probability up to which each is chosen. */
const PAVEMENTS: readonly { name: string; upTo: number; colour: ColourRange }[] = [
  { name: 'fresh asphalt', upTo: 0.35, colour: { grey: [0.2, 0.36], tint: [-0.03, 0.02] } },
  { name: 'worn asphalt', upTo: 0.7, colour: { grey: [0.36, 0.55], tint: [-0.02, 0.03] } },
  { name: 'concrete', upTo: 0.9, colour: { grey: [0.58, 0.8], tint: [-0.01, 0.04] } },
  {
    name: 'brick pavers',
    upTo: Number.POSITIVE_INFINITY,
    colour: {
      rgb: [
        [0.5, 0.64],
        [0.32, 0.42],
        [0.26, 0.34],
      ],
    },
  },
];

export function pavementColour(rng: SeededRng): Rgb {
  const r = rng.next();
  return drawColour(rng, PAVEMENTS.find((p) => r < p.upTo)!.colour);
}

/** Paint of cars seen from above (trucks' cabs too). */
export const CAR_TOP_COLOURS: readonly Rgb[] = [
  [0.88, 0.88, 0.87],
  [0.1, 0.1, 0.11],
  [0.62, 0.63, 0.65],
  [0.38, 0.39, 0.41],
  [0.6, 0.1, 0.09],
  [0.14, 0.24, 0.5],
  [0.2, 0.32, 0.22],
  [0.66, 0.6, 0.48],
];

export type RoofKind = 'flat' | 'gable' | 'hip';

export type BuildingType = 'house' | 'shed' | 'barn' | 'block' | 'apartment' | 'warehouse';

/** Building part in a building's local frame, in metres: centre (u, v), size l along u (or v if rot90) by w. */
export interface PartSpec {
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

const pitched = (rng: SeededRng): RoofKind => (rng.chance(0.55) ? 'gable' : 'hip');

/**
 * A part centred on the building's origin along its main axis. Callers draw the dimensions into locals first: the
 * order of the draws is the output's, and it stays visible that way.
 */
const centred = (p: Omit<PartSpec, 'u' | 'v' | 'rot90'>): PartSpec => ({ u: 0, v: 0, rot90: false, ...p });

/** A house: a main volume, sometimes an L/T wing or an attached garage. */
function houseSpec(rng: SeededRng, roofWeights: readonly number[]): PartSpec[] {
  const l = rng.range(9, 17);
  const w = rng.range(7, 11);
  const roof: RoofKind = rng.chance(0.12) ? 'flat' : pitched(rng);
  const pitch = rng.range(0.35, 0.9);
  const height = rng.range(3, 6);
  const parts = [centred({ l, w, height, roof, rise: roof === 'flat' ? 0 : (w / 2) * pitch })];
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
      colour: flat && rng.chance(0.6) ? roofColour(rng, roofWeights) : undefined,
    });
  }
  return parts;
}

/** A garden or farm shed. */
function shedSpec(rng: SeededRng, roofWeights: readonly number[]): PartSpec[] {
  const flat = rng.chance(0.4);
  const w = rng.range(2.5, 5);
  const l = rng.range(3, 7);
  const height = rng.range(2.2, 3);
  const roof = flat ? 'flat' : 'gable';
  const colour = roofColour(rng, roofWeights);
  return [centred({ l, w, height, roof, rise: flat ? 0 : w * 0.3, colour, metal: rng.chance(0.4) })];
}

/** A long barn, often metal-roofed. */
function barnSpec(rng: SeededRng): PartSpec[] {
  const w = rng.range(10, 22);
  const metal = rng.chance(0.6);
  const l = rng.range(15, 45);
  const height = rng.range(4, 7);
  return [centred({ l, w, height, roof: 'gable', rise: (w / 2) * rng.range(0.2, 0.5), metal })];
}

/** A slab of flats, flat-roofed or pitched. */
function apartmentSpec(rng: SeededRng): PartSpec[] {
  const w = rng.range(10, 15);
  const flat = rng.chance(0.6);
  const l = rng.range(20, 55);
  const height = rng.range(8, 20);
  const roof = flat ? 'flat' : pitched(rng);
  return [centred({ l, w, height, roof, rise: flat ? 0 : (w / 2) * rng.range(0.4, 0.8) })];
}

/** A warehouse hall, sometimes with an office annex. */
function warehouseSpec(rng: SeededRng, roofWeights: readonly number[]): PartSpec[] {
  const w = rng.range(20, 50);
  const flat = rng.chance(0.6);
  const l = rng.range(30, 90);
  const height = rng.range(6, 12);
  const rise = flat ? 0 : (w / 2) * rng.range(0.08, 0.2);
  const parts = [centred({ l, w, height, roof: flat ? 'flat' : 'gable', rise, metal: !flat || rng.chance(0.3) })];
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
      colour: roofColour(rng, roofWeights),
    });
  }
  return parts;
}

/** An urban block: a flat main volume plus set-backs, wings or a courtyard ring, at varied heights. */
function blockSpec(rng: SeededRng, roofWeights: readonly number[]): PartSpec[] {
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
  const parts = [centred({ l, w, height, roof: 'flat', rise: 0 })];
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
      colour: rng.chance(0.5) ? roofColour(rng, roofWeights) : undefined,
    });
  }
  return parts;
}

const BUILDERS: Record<BuildingType, (rng: SeededRng, roofWeights: readonly number[]) => PartSpec[]> = {
  house: houseSpec,
  shed: shedSpec,
  barn: barnSpec,
  apartment: apartmentSpec,
  warehouse: warehouseSpec,
  block: blockSpec,
};

/** Parts of one building of a type, in its local frame (metres); `roofWeights` colours the parts that differ. */
export function buildingSpec(rng: SeededRng, type: BuildingType, roofWeights: readonly number[]): PartSpec[] {
  return BUILDERS[type](rng, roofWeights);
}

/** Largest distance of a spec from the local origin along v (towards a road in front). */
export function specExtentV(spec: readonly PartSpec[]): number {
  let e = 0;
  for (const p of spec) e = Math.max(e, Math.abs(p.v) + (p.rot90 ? p.l : p.w) / 2);
  return e;
}

/** A building spec scaled in plan (heights kept). */
export function scaleSpec(spec: readonly PartSpec[], f: number): PartSpec[] {
  return spec.map((p) => ({ ...p, u: p.u * f, v: p.v * f, l: p.l * f, w: p.w * f, rise: p.rise * f }));
}
