/**
 * The real data layouts, and training data read from image files:
 * - Inria Aerial Image Labeling: `AerialImageDataset/train/{images,gt}/<city><n>.tif` (masks 0/255), the paper's
 *   split of 30 validation / 150 training images (the first 6 tiles of each of the 5 cities by default);
 * - Carvana: `train/<car>_<view>.jpg` with `train_masks/<car>_<view>_mask.gif` (0/1 or 0/255), split by car;
 * - a generic folder: `images/*` with `masks/*` matched by base name.
 *
 * Crops are decoded region by region through sharp (libvips reads only the strips it needs from a 5000×5000
 * TIFF, in its own thread pool, off the JavaScript thread), and the next batches are prefetched while the GPU
 * trains on the current one.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { IMAGENET_MEAN, IMAGENET_STD } from '@ternausnet/model';
import { Rng } from '@ternausnet/tensor';
import sharp from 'sharp';
import type { Batch, TrainingData } from '../trainer.ts';

export interface ImageMaskPair {
  readonly name: string;
  readonly image: string;
  readonly mask: string;
  /** Images of one group stay on one side of a split (the Inria city, the Carvana car). */
  readonly group: string;
}

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export const INRIA_CITIES = ['austin', 'chicago', 'kitsap', 'tyrol-w', 'vienna'] as const;
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.gif', '.webp']);

const listFiles = (dir: string) => readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());

/** Locate `AerialImageDataset/train` from the dataset root, AerialImageDataset itself, or train/. */
function inriaTrainDir(root: string): string {
  for (const d of [join(root, 'AerialImageDataset', 'train'), join(root, 'train'), root]) {
    if (existsSync(join(d, 'images')) && existsSync(join(d, 'gt'))) return d;
  }
  throw new DatasetError(
    `${root}: no Inria layout found (expected AerialImageDataset/train/images and .../gt below it, or the train/ folder itself)`,
  );
}

/** Every Inria training tile with its mask, per city in numeric order (austin2 before austin10). */
export function inriaPairs(root: string): ImageMaskPair[] {
  const dir = inriaTrainDir(root);
  const images = listFiles(join(dir, 'images')).filter((f) => /\.tiff?$/i.test(f));
  const masks = new Set(listFiles(join(dir, 'gt')));
  const pairs: (ImageMaskPair & { n: number })[] = [];
  for (const f of images) {
    const m = /^([a-z-]+?)(\d+)\.tiff?$/i.exec(f);
    if (!m) continue;
    if (!masks.has(f)) throw new DatasetError(`${join(dir, 'images', f)} has no mask ${join(dir, 'gt', f)}`);
    pairs.push({
      name: f.replace(/\.tiff?$/i, ''),
      image: join(dir, 'images', f),
      mask: join(dir, 'gt', f),
      group: m[1]!,
      n: Number(m[2]),
    });
  }
  for (const f of masks) {
    if (!images.includes(f) && /\.tiff?$/i.test(f)) {
      throw new DatasetError(`${join(dir, 'gt', f)} has no image ${join(dir, 'images', f)}`);
    }
  }
  if (pairs.length === 0) throw new DatasetError(`${dir}/images: no <city><n>.tif tiles`);
  pairs.sort((a, b) => a.group.localeCompare(b.group) || a.n - b.n);
  return pairs.map(({ n: _n, ...p }) => p);
}

/**
 * The paper's split: the first `valPerCity` tiles of each city for validation (default 6: 5 cities × 6 = 30
 * validation and 150 training images; `valPerCity: 5` is the first-5 convention of Maggiori et al.).
 */
export function inriaSplit(
  pairs: readonly ImageMaskPair[],
  valPerCity = 6,
): { train: ImageMaskPair[]; val: ImageMaskPair[] } {
  if (!Number.isInteger(valPerCity) || valPerCity < 1)
    throw new DatasetError(`valPerCity must be a positive integer, got ${valPerCity}`);
  const byCity = new Map<string, ImageMaskPair[]>();
  for (const p of pairs) byCity.set(p.group, [...(byCity.get(p.group) ?? []), p]);
  const train: ImageMaskPair[] = [];
  const val: ImageMaskPair[] = [];
  for (const [city, list] of byCity) {
    if (list.length <= valPerCity) {
      throw new DatasetError(
        `city '${city}' has ${list.length} tiles, not more than valPerCity = ${valPerCity}: nothing left to train on`,
      );
    }
    val.push(...list.slice(0, valPerCity));
    train.push(...list.slice(valPerCity));
  }
  return { train, val };
}

/** Carvana: `train/*.jpg` with `train_masks/<name>_mask.gif`; the group is the car id (before `_NN`). */
export function carvanaPairs(root: string): ImageMaskPair[] {
  const imgDir = join(root, 'train');
  const maskDir = join(root, 'train_masks');
  if (!existsSync(imgDir) || !existsSync(maskDir)) {
    throw new DatasetError(`${root}: no Carvana layout found (expected train/ and train_masks/)`);
  }
  const pairs: ImageMaskPair[] = [];
  for (const f of listFiles(imgDir)
    .filter((x) => /\.jpe?g$/i.test(x))
    .sort()) {
    const name = f.replace(/\.jpe?g$/i, '');
    const mask = join(maskDir, `${name}_mask.gif`);
    if (!existsSync(mask)) throw new DatasetError(`${join(imgDir, f)} has no mask ${mask}`);
    pairs.push({ name, image: join(imgDir, f), mask, group: name.replace(/_\d+$/, '') });
  }
  if (pairs.length === 0) throw new DatasetError(`${imgDir}: no .jpg images`);
  return pairs;
}

/** Split by group (car): every `valEvery`-th group in sorted order goes to validation (default 1 in 5). */
export function groupSplit(
  pairs: readonly ImageMaskPair[],
  valEvery = 5,
): { train: ImageMaskPair[]; val: ImageMaskPair[] } {
  const groups = [...new Set(pairs.map((p) => p.group))].sort();
  if (groups.length < 2) throw new DatasetError(`cannot split ${groups.length} group(s) into training and validation`);
  const valGroups = new Set(
    groups.filter((_, i) => i % valEvery === valEvery - 1 || (groups.length < valEvery && i === groups.length - 1)),
  );
  return { train: pairs.filter((p) => !valGroups.has(p.group)), val: pairs.filter((p) => valGroups.has(p.group)) };
}

/** A generic folder: `images/<base>.<ext>` with `masks/<base>.<ext>` (or `<base>_mask.<ext>`). */
export function folderPairs(root: string): ImageMaskPair[] {
  const imgDir = join(root, 'images');
  const maskDir = join(root, 'masks');
  if (!existsSync(imgDir) || !existsSync(maskDir))
    throw new DatasetError(`${root}: expected images/ and masks/ folders`);
  const masks = new Map<string, string>();
  for (const f of listFiles(maskDir)) {
    if (IMAGE_EXTENSIONS.has(extname(f).toLowerCase())) masks.set(basename(f, extname(f)).replace(/_mask$/, ''), f);
  }
  const pairs: ImageMaskPair[] = [];
  for (const f of listFiles(imgDir).sort()) {
    if (!IMAGE_EXTENSIONS.has(extname(f).toLowerCase())) continue;
    const base = basename(f, extname(f));
    const m = masks.get(base);
    if (!m)
      throw new DatasetError(`${join(imgDir, f)} has no mask in ${maskDir} (looked for ${base}.* and ${base}_mask.*)`);
    masks.delete(base);
    pairs.push({ name: base, image: join(imgDir, f), mask: join(maskDir, m), group: base });
  }
  if (masks.size > 0)
    throw new DatasetError(`masks without an image: ${[...masks.values()].map((m) => join(maskDir, m)).join(', ')}`);
  if (pairs.length === 0) throw new DatasetError(`${imgDir}: no images`);
  return pairs;
}

/** Width and height of an image file (header only), or an error naming the file. */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(path, { limitInputPixels: false }).metadata();
    if (!m.width || !m.height) throw new Error('no dimensions');
    return { width: m.width, height: m.height };
  } catch (e) {
    throw new DatasetError(`cannot read image ${path}: ${(e as Error).message}`);
  }
}

/** Decoded RGB crop and binarised mask crop of a pair. */
export async function readCrop(
  pair: ImageMaskPair,
  region: { left: number; top: number; width: number; height: number },
): Promise<{ rgb: Uint8Array; mask: Uint8Array }> {
  const read = async (path: string, channels: 1 | 3) => {
    try {
      let s = sharp(path, { limitInputPixels: false }).extract(region);
      s = channels === 3 ? s.removeAlpha().toColourspace('srgb') : s.toColourspace('b-w');
      const { data, info } = await s.raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
      return new Uint8Array(data.buffer, data.byteOffset, data.length);
    } catch (e) {
      throw new DatasetError(`cannot read ${path} (region ${JSON.stringify(region)}): ${(e as Error).message}`);
    }
  };
  const [rgb, raw] = await Promise.all([read(pair.image, 3), read(pair.mask, 1)]);
  // 0/255 masks (Inria) binarise at 127; 0/1 masks (Carvana palettes decoded as indices) at 0.
  let max = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i]! > max) max = raw[i]!;
  const threshold = max > 1 ? 127 : 0;
  const mask = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) mask[i] = raw[i]! > threshold ? 1 : 0;
  return { rgb, mask };
}

/** Normalise an RGB crop into CHW planes at `offset` of a batch, flipping as asked (mask alike). */
export function writeSample(
  rgb: Uint8Array,
  mask: Uint8Array,
  size: number,
  flipH: boolean,
  flipV: boolean,
  images: Float32Array,
  masks: Float32Array,
  offset: number,
): void {
  const plane = size * size;
  for (let y = 0; y < size; y++) {
    const sy = flipV ? size - 1 - y : y;
    for (let x = 0; x < size; x++) {
      const s = sy * size + (flipH ? size - 1 - x : x);
      const d = y * size + x;
      for (let c = 0; c < 3; c++)
        images[offset * 3 * plane + c * plane + d] = (rgb[s * 3 + c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      masks[offset * plane + d] = mask[s]!;
    }
  }
}

export interface FileDataOptions {
  cropSize: number;
  valCropSize: number;
  batchSize: number;
  seed: number;
  /** Batches decoded ahead of the one being trained on (default 2). */
  prefetch?: number;
}

function checkCrop(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 32 || n % 32 !== 0) {
    const lo = Math.max(32, Math.floor(n / 32) * 32);
    throw new DatasetError(`${what} ${n} is not a multiple of 32 (UNet11 pools 5 times); use ${lo} or ${lo + 32}`);
  }
}

/** Training data read from files: random crops + flips for training, centre crops for validation. */
export class FileData implements TrainingData {
  readonly trainBatchCount: number;
  readonly validationImages: number;
  private sizes = new Map<string, { width: number; height: number }>();

  private constructor(
    readonly train: readonly ImageMaskPair[],
    readonly val: readonly ImageMaskPair[],
    readonly options: FileDataOptions,
  ) {
    this.trainBatchCount = Math.ceil(train.length / options.batchSize);
    this.validationImages = val.length;
  }

  /** Checks every file's size (image = mask, each at least the crop) before the first step. */
  static async open(
    train: readonly ImageMaskPair[],
    val: readonly ImageMaskPair[],
    options: FileDataOptions,
  ): Promise<FileData> {
    checkCrop('crop size', options.cropSize);
    checkCrop('validation crop size', options.valCropSize);
    const d = new FileData(train, val, options);
    for (const [list, crop] of [
      [train, options.cropSize],
      [val, options.valCropSize],
    ] as const) {
      for (const p of list) {
        const [a, b] = await Promise.all([imageSize(p.image), imageSize(p.mask)]);
        if (a.width !== b.width || a.height !== b.height) {
          throw new DatasetError(
            `${p.image} is ${a.width}×${a.height} but its mask ${p.mask} is ${b.width}×${b.height}`,
          );
        }
        if (a.width < crop || a.height < crop) {
          throw new DatasetError(`${p.image} (${a.width}×${a.height}) is smaller than the ${crop}×${crop} crop`);
        }
        d.sizes.set(p.image, a);
      }
    }
    return d;
  }

  private async *batches(
    items: { pair: ImageMaskPair; left: number; top: number; flipH: boolean; flipV: boolean }[],
    size: number,
  ): AsyncIterable<Batch> {
    const { batchSize } = this.options;
    const groups: (typeof items)[] = [];
    for (let i = 0; i < items.length; i += batchSize) groups.push(items.slice(i, i + batchSize));
    const load = async (g: typeof items): Promise<Batch> => {
      const crops = await Promise.all(
        g.map((it) => readCrop(it.pair, { left: it.left, top: it.top, width: size, height: size })),
      );
      const images = new Float32Array(g.length * 3 * size * size);
      const masks = new Float32Array(g.length * size * size);
      crops.forEach((c, k) => {
        writeSample(c.rgb, c.mask, size, g[k]!.flipH, g[k]!.flipV, images, masks, k);
      });
      return { images, masks, n: g.length, height: size, width: size };
    };
    const ahead = Math.max(1, this.options.prefetch ?? 2);
    const queue: Promise<Batch>[] = [];
    let next = 0;
    while (next < groups.length && queue.length < ahead) queue.push(load(groups[next++]!));
    while (queue.length > 0) {
      const b = await queue.shift()!;
      if (next < groups.length) queue.push(load(groups[next++]!));
      yield b;
    }
  }

  trainBatches(epoch: number): AsyncIterable<Batch> {
    const S = this.options.cropSize;
    const rng = new Rng((this.options.seed * 1_000_003 + epoch * 7919) >>> 0);
    const order = this.train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const items = order.map((i) => {
      const pair = this.train[i]!;
      const { width, height } = this.sizes.get(pair.image)!;
      return {
        pair,
        left: rng.int(width - S + 1),
        top: rng.int(height - S + 1),
        flipH: rng.next() < 0.5,
        flipV: rng.next() < 0.5,
      };
    });
    return this.batches(items, S);
  }

  validationBatches(): AsyncIterable<Batch> {
    const S = this.options.valCropSize;
    const items = this.val.map((pair) => {
      const { width, height } = this.sizes.get(pair.image)!;
      return { pair, left: Math.floor((width - S) / 2), top: Math.floor((height - S) / 2), flipH: false, flipV: false };
    });
    return this.batches(items, S);
  }
}
