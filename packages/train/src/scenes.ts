/**
 * Training data held in memory: a list of RGB scenes with 0/1 masks, sampled as the paper does — random crops
 * (with random horizontal/vertical flips) for training, centre crops for validation — and normalised with the
 * ImageNet statistics. Crops and flips are a pure function of (seed, epoch, index), so a resumed run sees
 * exactly the batches an uninterrupted one would. Used for the embedded synthetic data.
 */
import { IMAGENET_MEAN, IMAGENET_STD, type RgbImage } from '@ternausnet/model';
import { Rng } from '@ternausnet/tensor';
import { generateAerialScene, generateCarScene } from './data/synthetic.ts';
import type { Batch, TrainingData } from './trainer.ts';

export interface Scene {
  readonly image: RgbImage;
  /** H·W, 1 = foreground. */
  readonly mask: Uint8Array;
  readonly name: string;
}

export interface SceneDataOptions {
  cropSize: number;
  valCropSize: number;
  batchSize: number;
  seed: number;
  /** Random crops per training scene per epoch (default 1). */
  cropsPerScene?: number;
}

function assertMultipleOf32(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 32 || n % 32 !== 0) {
    const lo = Math.max(32, Math.floor(n / 32) * 32);
    throw new RangeError(`${what} ${n} is not a multiple of 32 (UNet11 pools 5 times); use ${lo} or ${lo + 32}`);
  }
}

/** Normalised CHW planes and the mask of a crop, optionally flipped. */
export function cropSample(
  scene: Scene,
  x0: number,
  y0: number,
  size: number,
  flipH: boolean,
  flipV: boolean,
  image: Float32Array,
  mask: Float32Array,
  offset: number,
): void {
  const { data, width } = scene.image;
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    const sy = y0 + (flipV ? size - 1 - y : y);
    for (let x = 0; x < size; x++) {
      const sx = x0 + (flipH ? size - 1 - x : x);
      const src = sy * width + sx;
      const dst = y * size + x;
      for (let c = 0; c < 3; c++) {
        image[offset * 3 * plane + c * plane + dst] = (data[src * 3 + c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      }
      mask[offset * plane + dst] = scene.mask[src]!;
    }
  }
}

export class SceneData implements TrainingData {
  readonly trainBatchCount: number;
  readonly validationImages: number;

  constructor(
    readonly train: readonly Scene[],
    readonly validation: readonly Scene[],
    readonly options: SceneDataOptions,
  ) {
    assertMultipleOf32('crop size', options.cropSize);
    assertMultipleOf32('validation crop size', options.valCropSize);
    for (const s of train) {
      if (s.image.width < options.cropSize || s.image.height < options.cropSize) {
        throw new RangeError(
          `training image ${s.name} (${s.image.width}×${s.image.height}) is smaller than the ${options.cropSize} crop`,
        );
      }
    }
    for (const s of validation) {
      if (s.image.width < options.valCropSize || s.image.height < options.valCropSize) {
        throw new RangeError(
          `validation image ${s.name} (${s.image.width}×${s.image.height}) is smaller than the ${options.valCropSize} centre crop`,
        );
      }
    }
    const samples = train.length * (options.cropsPerScene ?? 1);
    this.trainBatchCount = Math.ceil(samples / options.batchSize);
    this.validationImages = validation.length;
  }

  async *trainBatches(epoch: number): AsyncIterable<Batch> {
    const { cropSize: S, batchSize, seed } = this.options;
    const rng = new Rng((seed * 1_000_003 + epoch * 7919) >>> 0);
    const order: number[] = [];
    for (let k = 0; k < (this.options.cropsPerScene ?? 1); k++)
      for (let i = 0; i < this.train.length; i++) order.push(i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let b = 0; b < order.length; b += batchSize) {
      const idx = order.slice(b, b + batchSize);
      const images = new Float32Array(idx.length * 3 * S * S);
      const masks = new Float32Array(idx.length * S * S);
      idx.forEach((sceneIndex, k) => {
        const s = this.train[sceneIndex]!;
        const x0 = rng.int(s.image.width - S + 1);
        const y0 = rng.int(s.image.height - S + 1);
        cropSample(s, x0, y0, S, rng.next() < 0.5, rng.next() < 0.5, images, masks, k);
      });
      yield { images, masks, n: idx.length, height: S, width: S };
    }
  }

  async *validationBatches(): AsyncIterable<Batch> {
    const S = this.options.valCropSize;
    for (let b = 0; b < this.validation.length; b += this.options.batchSize) {
      const scenes = this.validation.slice(b, b + this.options.batchSize);
      const images = new Float32Array(scenes.length * 3 * S * S);
      const masks = new Float32Array(scenes.length * S * S);
      scenes.forEach((s, k) => {
        const x0 = Math.floor((s.image.width - S) / 2);
        const y0 = Math.floor((s.image.height - S) / 2);
        cropSample(s, x0, y0, S, false, false, images, masks, k);
      });
      yield { images, masks, n: scenes.length, height: S, width: S };
    }
  }
}

export interface SyntheticOptions {
  kind: 'aerial' | 'cars';
  trainScenes: number;
  valScenes: number;
  /** Side of the generated scenes (square). */
  sceneSize: number;
  /** Scenes are seeds `seed·10^6 + i` (train) and `seed·10^6 + 500000 + i` (validation): disjoint sets. */
  seed: number;
}

/** Generate the embedded synthetic data set (aerial buildings, or the Carvana-like car silhouettes). */
export function syntheticScenes(o: SyntheticOptions): { train: Scene[]; validation: Scene[] } {
  const gen = o.kind === 'aerial' ? generateAerialScene : generateCarScene;
  const make = (seed: number, name: string): Scene => {
    const s = gen({ seed, width: o.sceneSize, height: o.sceneSize });
    return { image: { data: s.image, width: s.width, height: s.height }, mask: s.mask, name };
  };
  const base = o.seed * 1_000_000;
  return {
    train: Array.from({ length: o.trainScenes }, (_, i) => make(base + i, `${o.kind}-train-${i}`)),
    validation: Array.from({ length: o.valScenes }, (_, i) => make(base + 500_000 + i, `${o.kind}-val-${i}`)),
  };
}
