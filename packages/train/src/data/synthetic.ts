/**
 * Seeded synthetic stand-ins for the paper's two datasets, which cannot be downloaded here:
 *
 * - {@link generateAerialScene}: an Inria-Aerial-like orthophoto tile at 0.3 m/px with a building / not-building mask
 *   (aerial/: specs.ts what scenes are made of, layout.ts and scene-kinds.ts where things go, render.ts the pixels);
 * - {@link generateCarScene}: a Carvana-like studio photo of one car with its silhouette mask (cars.ts).
 *
 * Pure CPU and deterministic: a seed maps to byte-identical output on any machine (see rng.ts for why).
 *
 * Labelling convention for aerial scenes: Inria's ground truth comes from cadastral building footprints, so a roof
 * under an overhanging tree is still "building". We follow that by default (`occludedRoofs: 'footprint'`); pass
 * `'visible'` to label only roof pixels that are seen from above. Shadows, walls and roof furniture follow the
 * footprint too: shadows are never building, anything on a roof is.
 */
export { type AerialSceneOptions, generateAerialScene } from './aerial/render.ts';
export { AERIAL_METRES_PER_PIXEL } from './aerial/specs.ts';
export { generateCarScene } from './cars.ts';
export type { SyntheticSample, SyntheticSceneOptions } from './scene-common.ts';
