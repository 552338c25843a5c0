/**
 * The embedded synthetic data set: seeded aerial scenes (buildings to segment) and car silhouettes (the
 * Carvana stand-in for pre-training), held in memory and sampled by the same loader as real data.
 */
import { type MemoryImage, memorySource } from './data/datasets.ts';
import { DataLoader, type LoaderOptions } from './data/loader.ts';
import { generateAerialScene, generateCarScene } from './data/synthetic.ts';

/** An RGB image with its 0/1 mask, in memory. */
export type Scene = MemoryImage;

export interface SyntheticOptions {
  kind: 'aerial' | 'cars';
  trainScenes: number;
  valScenes: number;
  /** Side of the generated scenes (square). */
  sceneSize: number;
  /** Scenes are seeds `seed·10^6 + i` (train) and `seed·10^6 + 500000 + i` (validation): disjoint sets. */
  seed: number;
}

/** Generate the training and validation scenes. */
export function syntheticScenes(o: SyntheticOptions): { train: Scene[]; validation: Scene[] } {
  const gen = o.kind === 'aerial' ? generateAerialScene : generateCarScene;
  const make = (seed: number, name: string): Scene => {
    const s = gen({ seed, width: o.sceneSize, height: o.sceneSize });
    return { name, image: s.image, mask: s.mask, width: s.width, height: s.height };
  };
  const base = o.seed * 1_000_000;
  return {
    train: Array.from({ length: o.trainScenes }, (_, i) => make(base + i, `${o.kind}-train-${i}`)),
    validation: Array.from({ length: o.valScenes }, (_, i) => make(base + 500_000 + i, `${o.kind}-val-${i}`)),
  };
}

/** Training data over in-memory scenes: random crops with flips for training, centre crops for validation. */
export function sceneData(train: readonly Scene[], validation: readonly Scene[], options: LoaderOptions): DataLoader {
  return new DataLoader(memorySource(train), memorySource(validation), options);
}
