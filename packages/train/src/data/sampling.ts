/**
 * Sampling as in the paper: random crops with random horizontal/vertical flips for training, centre crops for
 * validation, all sides multiples of 32 (UNet11 halves the resolution five times), normalised as the authors did
 * (RGB / 255, then the ImageNet mean/std). A crop plan is a pure function of (seed, epoch, image sizes), computed
 * on the main thread before any decoding, so batches do not depend on which worker finishes first.
 *
 * Deliberately free of WebGPU and sharp imports: the loader's worker threads and inference reuse it cheaply.
 */
import { mix32, SeededRng, seedToU32 } from './rng.ts';

/** torchvision's ImageNet mean (R, G, B), applied to RGB scaled to [0, 1]; the same numbers as the model package's. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** torchvision's ImageNet standard deviation (R, G, B). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** The paper's training crop side for Inria (random crops). */
export const DEFAULT_TRAIN_CROP = 768;
/** The paper's validation crop side for Inria (centre crops). */
export const DEFAULT_VAL_CROP = 1440;

/** A data set problem (layout, file, size or option), with the file(s) and the fix in the message. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** An image file and its mask file. */
export interface ImageMaskPair {
  /** Base name, e.g. `austin7` or `0cdf5b5d0ce1_01`. */
  readonly name: string;
  /** Path of the image file. */
  readonly image: string;
  /** Path of the mask file. */
  readonly mask: string;
  /** Images of one group stay on one side of a split (the Inria city, the Carvana car). */
  readonly group: string;
}

/** Width and height of an image in pixels. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** One sample of a batch: which image, where to crop, and whether to mirror it. */
export interface CropPlan {
  /** Index of the image in its source. */
  readonly index: number;
  readonly left: number;
  readonly top: number;
  /** Side of the square crop. */
  readonly size: number;
  /** Mirror left-right (image and mask alike). */
  readonly flipH: boolean;
  /** Mirror top-bottom (image and mask alike). */
  readonly flipV: boolean;
}

/**
 * Throws unless `size` is a positive multiple of 32, naming the nearest valid sizes.
 * @param what how the size is called in the message, e.g. `'training crop size'`.
 */
export function checkCropSize(size: number, what = 'crop size'): void {
  if (Number.isInteger(size) && size >= 32 && size % 32 === 0) return;
  const lo = Math.floor(size / 32) * 32;
  const hi = lo + 32;
  const nearest = Number.isFinite(size) && lo >= 32 ? `${lo} or ${hi}` : '32';
  throw new DatasetError(
    `${what} ${size} is not a multiple of 32 (UNet11 halves the resolution 5 times); nearest valid sizes: ${nearest}`,
  );
}

/**
 * Throws unless every image can hold a `size`×`size` crop, naming the first image that cannot and the largest
 * crop that fits them all. Smaller images are not padded: padding would put pixels in the loss and the IoU that
 * are not in the data, and the paper's crops (768 of 5000×5000 tiles, 1440 centre crops) always fit.
 */
export function checkCropFits(
  sizes: readonly ImageSize[],
  names: readonly string[],
  size: number,
  what = 'crop',
): void {
  let smallest = Number.POSITIVE_INFINITY;
  for (const s of sizes) smallest = Math.min(smallest, s.width, s.height);
  sizes.forEach((s, i) => {
    if (s.width >= size && s.height >= size) return;
    const fit = Math.floor(smallest / 32) * 32;
    const hint = fit >= 32 ? `use a ${what} of at most ${fit}` : 'every side must be at least 32';
    throw new DatasetError(
      `${names[i] ?? `image ${i}`} is ${s.width}×${s.height}, smaller than the ${size}×${size} ${what}; ${hint}`,
    );
  });
}

/** How often `trainingPlan` redraws a crop its `accept` test rejects. */
export const CROP_REDRAWS = 10;

/** The random stream of one epoch: a function of (seed, epoch) only. */
function epochRng(seed: number, epoch: number): SeededRng {
  return new SeededRng(mix32(seedToU32(seed) ^ mix32(seedToU32(epoch) + 0x2545f491)));
}

/**
 * The training samples of one epoch: every image `cropsPerImage` times (default once), in a shuffled order, each
 * with a uniformly random crop position and independent 50 % horizontal and vertical flips. With `accept`, a
 * position it rejects is redrawn (up to CROP_REDRAWS times). The same (seed, epoch, sizes, cropsPerImage, accept)
 * give the same plan.
 */
export function trainingPlan(
  sizes: readonly ImageSize[],
  cropSize: number,
  seed: number,
  epoch: number,
  flips = true,
  cropsPerImage = 1,
  accept?: (index: number, left: number, top: number) => boolean,
): CropPlan[] {
  if (!Number.isInteger(cropsPerImage) || cropsPerImage < 1) {
    throw new DatasetError(`crops per image must be a positive integer, got ${cropsPerImage}`);
  }
  const rng = epochRng(seed, epoch);
  const order = Array.from({ length: sizes.length * cropsPerImage }, (_, i) => i % sizes.length);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((index) => {
    const { width, height } = sizes[index]!;
    let left = rng.int(0, width - cropSize);
    let top = rng.int(0, height - cropSize);
    // A rejected crop is redrawn (at most CROP_REDRAWS times; the last draw stands).
    for (let k = 0; accept && k < CROP_REDRAWS && !accept(index, left, top); k++) {
      left = rng.int(0, width - cropSize);
      top = rng.int(0, height - cropSize);
    }
    const flipH = rng.next() < 0.5;
    const flipV = rng.next() < 0.5;
    return { index, left, top, size: cropSize, flipH: flips && flipH, flipV: flips && flipV };
  });
}

/** Centre crops of every image in source order, unflipped (odd margins put the extra pixel right/bottom). */
export function validationPlan(sizes: readonly ImageSize[], cropSize: number): CropPlan[] {
  return sizes.map(({ width, height }, index) => ({
    index,
    left: Math.floor((width - cropSize) / 2),
    top: Math.floor((height - cropSize) / 2),
    size: cropSize,
    flipH: false,
    flipV: false,
  }));
}

/**
 * ImageNet-normalised CHW float32 planes of an RGB u8 HWC image (the authors' `ToTensor` + `Normalize`).
 * Inference normalises its input with the same function.
 */
export function normalizeImage(rgb: Uint8Array, height: number, width: number): Float32Array {
  if (rgb.length !== height * width * 3) {
    throw new RangeError(`normalizeImage: ${rgb.length} bytes is not ${height}×${width}×3 (RGB, HWC)`);
  }
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * IMAGENET_STD[c]!);
    const shift = IMAGENET_MEAN[c]! / IMAGENET_STD[c]!;
    for (let i = 0; i < plane; i++) out[c * plane + i] = rgb[i * 3 + c]! * scale - shift;
  }
  return out;
}

/** An RGB u8 HWC image and its 0/1 mask, both `width` pixels wide. */
export interface RgbMask {
  readonly rgb: Uint8Array;
  readonly mask: Uint8Array;
  readonly width: number;
}

/**
 * Writes the crop `plan` of `src` into slot `slot` of a batch: normalised CHW planes into `images` (N·3·S·S) and
 * the 0/1 mask into `masks` (N·S·S), mirrored as planned. The worker threads do the same for files.
 */
export function writeSample(
  src: RgbMask,
  plan: CropPlan,
  images: Float32Array,
  masks: Float32Array,
  slot: number,
): void {
  const { size: S, left, top, flipH, flipV } = plan;
  const plane = S * S;
  const img = slot * 3 * plane;
  const msk = slot * plane;
  const scale = IMAGENET_STD.map((s) => 1 / (255 * s));
  const shift = IMAGENET_MEAN.map((m, c) => m / IMAGENET_STD[c]!);
  for (let y = 0; y < S; y++) {
    const row = (top + (flipV ? S - 1 - y : y)) * src.width + left;
    for (let x = 0; x < S; x++) {
      const s = row + (flipH ? S - 1 - x : x);
      const d = y * S + x;
      for (let c = 0; c < 3; c++) images[img + c * plane + d] = src.rgb[s * 3 + c]! * scale[c]! - shift[c]!;
      masks[msk + d] = src.mask[s]!;
    }
  }
}
