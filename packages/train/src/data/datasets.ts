/**
 * The data sets the paper uses, found on disk by their published layouts, plus a generic folder and the embedded
 * synthetic scenes, all as sources for the {@link DataLoader}:
 * - Inria Aerial Image Labeling: `AerialImageDataset/train/{images,gt}/<city><n>.tif` (masks 0/255) and the
 *   paper's split, the first 6 tiles of each of the 5 cities for validation (30 images) and the rest for training
 *   (150);
 * - Carvana: `train/<car>_<view>.jpg` with `train_masks/<car>_<view>_mask.gif` (0/1 or 0/255), split by car;
 * - a folder: `images/<base>.<ext>` with `masks/<base>.<ext>`.
 *
 * Every image decodes to RGB u8 HWC and every mask to 0/1: a pixel is foreground when it is > 127 if the mask
 * crop's largest value is above 1 (0/255 masks), else when it is > 0 (0/1 masks). Clean 0/1 and 0/255 masks give
 * the same answer on a crop as on the whole mask; lossy (JPEG) masks are better converted to PNG first.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { cropWorkerModule, DataLoader, type FileSource, type LoaderOptions, type MemorySource } from './loader.ts';
import { DatasetError, type ImageMaskPair, type ImageSize, type RgbMask } from './sampling.ts';
import { generateAerialScene, generateCarScene } from './synthetic.ts';

export { DatasetError, type ImageMaskPair } from './sampling.ts';

/** The five cities of the Inria training set, 36 tiles of 5000×5000 each. */
export const INRIA_CITIES = ['austin', 'chicago', 'kitsap', 'tyrol-w', 'vienna'] as const;
/** Extensions of the generic folder layout. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.gif', '.webp'];

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const listFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isFile())
    .sort();

/** `AerialImageDataset/train` from the folder holding AerialImageDataset, AerialImageDataset itself, or train/. */
function inriaTrainDir(root: string): string {
  for (const d of [join(root, 'AerialImageDataset', 'train'), join(root, 'train'), root]) {
    if (isDir(join(d, 'images')) && isDir(join(d, 'gt'))) return d;
  }
  throw new DatasetError(
    `${root}: not an Inria Aerial Image Labeling folder: expected AerialImageDataset/train/images and ` +
      `AerialImageDataset/train/gt below it (pass the folder holding AerialImageDataset, AerialImageDataset, or train/)`,
  );
}

const TILE = /^([a-z][a-z-]*?)(\d+)\.tiff?$/i;

/**
 * Every Inria training tile with its ground truth, city by city in numeric order (austin2 before austin10).
 * @param root the folder holding `AerialImageDataset`, `AerialImageDataset` itself, or its `train/` folder.
 * @throws DatasetError naming the file when a tile has no mask or a mask no tile.
 */
export function inriaPairs(root: string): ImageMaskPair[] {
  const dir = inriaTrainDir(root);
  const imgDir = join(dir, 'images');
  const gtDir = join(dir, 'gt');
  const images = listFiles(imgDir).filter((f) => TILE.test(f));
  const masks = listFiles(gtDir).filter((f) => TILE.test(f));
  const maskSet = new Set(masks);
  const imageSet = new Set(images);
  for (const f of images) {
    if (!maskSet.has(f)) throw new DatasetError(`${join(imgDir, f)} has no ground truth ${join(gtDir, f)}`);
  }
  for (const f of masks) {
    if (!imageSet.has(f)) throw new DatasetError(`ground truth ${join(gtDir, f)} has no image ${join(imgDir, f)}`);
  }
  if (images.length === 0) throw new DatasetError(`${imgDir}: no <city><n>.tif tiles`);
  const tiles = images.map((f) => {
    const m = TILE.exec(f)!;
    const pair: ImageMaskPair = {
      name: f.replace(/\.tiff?$/i, ''),
      image: join(imgDir, f),
      mask: join(gtDir, f),
      group: m[1]!.toLowerCase(),
    };
    return { pair, n: Number(m[2]) };
  });
  tiles.sort((a, b) => (a.pair.group < b.pair.group ? -1 : a.pair.group > b.pair.group ? 1 : a.n - b.n));
  return tiles.map((t) => t.pair);
}

/**
 * The paper's split: the first `valPerCity` tiles of each city (in numeric order: 1…6 by default, 30 images) for
 * validation, the others (150) for training. `valPerCity: 5` is the first-5 convention of Maggiori et al.
 * @param cities the cities that must be present (default all five); tiles of other cities are left out.
 * @throws DatasetError when a city is missing or has fewer tiles than `valPerCity`.
 */
export function inriaSplit(
  pairs: readonly ImageMaskPair[],
  valPerCity = 6,
  cities: readonly string[] = INRIA_CITIES,
): { train: ImageMaskPair[]; val: ImageMaskPair[] } {
  if (!Number.isInteger(valPerCity) || valPerCity < 0) {
    throw new DatasetError(`valPerCity must be a non-negative integer, got ${valPerCity}`);
  }
  const train: ImageMaskPair[] = [];
  const val: ImageMaskPair[] = [];
  const found = [...new Set(pairs.map((p) => p.group))];
  const missing = cities.filter((c) => !found.includes(c));
  if (missing.length > 0) {
    throw new DatasetError(
      `Inria ${missing.length === 1 ? 'city' : 'cities'} ${missing.map((c) => `'${c}'`).join(', ')} ` +
        `${missing.length === 1 ? 'has' : 'have'} no tiles (found: ${found.join(', ') || 'none'}); download the whole ` +
        `training set, or pass the cities you have`,
    );
  }
  for (const city of cities) {
    const tiles = pairs.filter((p) => p.group === city);
    if (tiles.length < valPerCity) {
      throw new DatasetError(
        `Inria city '${city}' has ${tiles.length} tiles, fewer than the ${valPerCity} validation tiles per city ` +
          `(valPerCity); the training set has 36 per city`,
      );
    }
    val.push(...tiles.slice(0, valPerCity));
    train.push(...tiles.slice(valPerCity));
  }
  return { train, val };
}

/**
 * Carvana: `<root>/train/*.jpg` with `<root>/train_masks/<name>_mask.gif`, sorted by name. The group of a view is
 * its car id (the name without its last `_NN`), so a split never puts views of one car on both sides.
 * @throws DatasetError naming the file when an image has no mask or a mask no image.
 */
export function carvanaPairs(root: string): ImageMaskPair[] {
  const imgDir = join(root, 'train');
  const maskDir = join(root, 'train_masks');
  if (!isDir(imgDir) || !isDir(maskDir)) {
    throw new DatasetError(`${root}: not a Carvana folder: expected train/ (*.jpg) and train_masks/ (*_mask.gif)`);
  }
  const masks = new Set(listFiles(maskDir).filter((f) => /_mask\.gif$/i.test(f)));
  const pairs: ImageMaskPair[] = [];
  for (const f of listFiles(imgDir).filter((x) => /\.jpe?g$/i.test(x))) {
    const name = f.replace(/\.jpe?g$/i, '');
    const m = `${name}_mask.gif`;
    if (!masks.delete(m)) throw new DatasetError(`${join(imgDir, f)} has no mask ${join(maskDir, m)}`);
    pairs.push({ name, image: join(imgDir, f), mask: join(maskDir, m), group: name.replace(/_\d+$/, '') });
  }
  const orphan = [...masks][0];
  if (orphan !== undefined) {
    throw new DatasetError(
      `mask ${join(maskDir, orphan)} has no image ${join(imgDir, orphan.replace(/_mask\.gif$/i, '.jpg'))}`,
    );
  }
  if (pairs.length === 0) throw new DatasetError(`${imgDir}: no .jpg images`);
  return pairs;
}

/**
 * Splits by group (the Carvana car), so that no group is on both sides: the groups named in `valGroups`, or else
 * every `valEvery`-th group in sorted order (default 5: one car in five; at least one group each side).
 */
export function groupSplit(
  pairs: readonly ImageMaskPair[],
  options: { valEvery?: number; valGroups?: readonly string[] } = {},
): { train: ImageMaskPair[]; val: ImageMaskPair[] } {
  const groups = [...new Set(pairs.map((p) => p.group))].sort();
  let valGroups: Set<string>;
  if (options.valGroups) {
    valGroups = new Set(options.valGroups);
    for (const g of valGroups) if (!groups.includes(g)) throw new DatasetError(`validation group '${g}' has no images`);
  } else {
    const every = options.valEvery ?? 5;
    if (!Number.isInteger(every) || every < 2) throw new DatasetError(`valEvery must be an integer ≥ 2, got ${every}`);
    if (groups.length < 2) {
      throw new DatasetError(`cannot split ${groups.length} group(s) (cars) into training and validation`);
    }
    const picked = groups.filter((_, i) => i % every === every - 1);
    valGroups = new Set(picked.length > 0 ? picked : [groups[groups.length - 1]!]);
  }
  const split = {
    train: pairs.filter((p) => !valGroups.has(p.group)),
    val: pairs.filter((p) => valGroups.has(p.group)),
  };
  if (split.train.length === 0) throw new DatasetError('the split leaves no training images');
  return split;
}

/**
 * A generic folder: `<root>/images/<base>.<ext>` with `<root>/masks/<base>.<ext>` (or `<base>_mask.<ext>`), any of
 * png, jpg, jpeg, tif, tiff, gif, webp, matched by base name. The group of a pair is its base name.
 * @throws DatasetError naming the file when an image has no mask, a mask no image, or a base name is ambiguous.
 */
export function folderPairs(root: string): ImageMaskPair[] {
  const imgDir = join(root, 'images');
  const maskDir = join(root, 'masks');
  if (!isDir(imgDir) || !isDir(maskDir)) throw new DatasetError(`${root}: expected images/ and masks/ folders`);
  const byBase = (dir: string, isMask: boolean) => {
    const map = new Map<string, string>();
    for (const f of listFiles(dir)) {
      if (!IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())) continue;
      const stem = basename(f, extname(f));
      const base = isMask ? stem.replace(/_mask$/, '') : stem;
      const other = map.get(base);
      if (other) throw new DatasetError(`${join(dir, f)} and ${join(dir, other)} have the same base name '${base}'`);
      map.set(base, f);
    }
    return map;
  };
  const images = byBase(imgDir, false);
  const masks = byBase(maskDir, true);
  const pairs: ImageMaskPair[] = [];
  for (const [base, f] of images) {
    const m = masks.get(base);
    if (!m)
      throw new DatasetError(`${join(imgDir, f)} has no mask in ${maskDir} (looked for ${base}.* and ${base}_mask.*)`);
    masks.delete(base);
    pairs.push({ name: base, image: join(imgDir, f), mask: join(maskDir, m), group: base });
  }
  const orphan = [...masks.values()][0];
  if (orphan !== undefined) throw new DatasetError(`mask ${join(maskDir, orphan)} has no image in ${imgDir}`);
  if (pairs.length === 0) throw new DatasetError(`${imgDir}: no images`);
  return pairs;
}

/** Width and height of an image file from its header, or a {@link DatasetError} naming the file. */
export async function imageSize(path: string): Promise<ImageSize> {
  try {
    const m = await sharp(path, { limitInputPixels: false }).metadata();
    if (!m.width || !m.height) throw new Error('no dimensions in the header');
    return { width: m.width, height: m.height };
  } catch (e) {
    throw new DatasetError(`cannot read image ${path}: ${(e as Error).message}`);
  }
}

/**
 * A loader source for image/mask files: reads every header (not the pixels) and checks that each mask has its
 * image's size.
 * @throws DatasetError naming the file(s): unreadable or corrupt header, image/mask size mismatch.
 */
export async function openFileSource(pairs: readonly ImageMaskPair[]): Promise<FileSource> {
  const sizes: ImageSize[] = [];
  // A few headers at a time: thousands of Carvana files at once would only queue on libuv's four threads.
  for (let i = 0; i < pairs.length; i += 16) {
    const chunk = pairs.slice(i, i + 16);
    const read = await Promise.all(chunk.map((p) => Promise.all([imageSize(p.image), imageSize(p.mask)])));
    read.forEach(([a, b], k) => {
      const p = chunk[k]!;
      if (a.width !== b.width || a.height !== b.height) {
        throw new DatasetError(`${p.image} is ${a.width}×${a.height} but its mask ${p.mask} is ${b.width}×${b.height}`);
      }
      sizes.push(a);
    });
  }
  return { kind: 'files', pairs: [...pairs], sizes };
}

/**
 * The RGB pixels (u8 HWC) and 0/1 mask of `region` of a pair, decoded in process (the loader decodes in workers).
 * @throws DatasetError naming the file when it cannot be decoded or the region is outside the image.
 */
export async function readCrop(
  pair: ImageMaskPair,
  region: { left: number; top: number; width: number; height: number },
): Promise<{ rgb: Uint8Array; mask: Uint8Array }> {
  const m = await cropWorkerModule();
  try {
    return await m.decodeCrop(pair.image, pair.mask, region);
  } catch (e) {
    throw new DatasetError((e as Error).message);
  }
}

/** An image held in memory for {@link memorySource}. */
export interface MemoryImage {
  readonly name: string;
  /** RGB u8, row-major HWC. */
  readonly image: Uint8Array;
  /** 0/1, row-major H·W. */
  readonly mask: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** A loader source over images already in memory (cropped on the main thread). */
export function memorySource(images: readonly MemoryImage[]): MemorySource {
  for (const im of images) {
    if (im.image.length !== im.width * im.height * 3 || im.mask.length !== im.width * im.height) {
      throw new DatasetError(
        `${im.name}: ${im.image.length} image bytes and ${im.mask.length} mask bytes do not make an RGB ` +
          `${im.width}×${im.height} image with its mask`,
      );
    }
  }
  return {
    kind: 'memory',
    names: images.map((im) => im.name),
    sizes: images.map((im) => ({ width: im.width, height: im.height })),
    image: (i) => {
      const im = images[i]!;
      return { rgb: im.image, mask: im.mask, width: im.width };
    },
  };
}

/** Options of {@link syntheticDataset}. */
export interface SyntheticDatasetOptions {
  /** Inria-like aerial scenes, or Carvana-like car studio shots. */
  kind: 'aerial' | 'cars';
  /** Number of scenes: scene i is generated from seed `firstSeed + i`. */
  count: number;
  /** Keep training and validation sets apart by their seed ranges (default 0). */
  firstSeed?: number;
  width: number;
  height: number;
}

/**
 * A loader source of synthetic scenes, generated on the main thread when first cropped and kept (the generator
 * is deterministic, so the scenes are the same on every run).
 */
export function syntheticDataset(options: SyntheticDatasetOptions): MemorySource {
  const { kind, count, width, height } = options;
  const first = options.firstSeed ?? 0;
  if (!Number.isInteger(count) || count < 1) throw new DatasetError(`count must be a positive integer, got ${count}`);
  const generate = kind === 'aerial' ? generateAerialScene : generateCarScene;
  const cache = new Map<number, RgbMask>();
  return {
    kind: 'memory',
    names: Array.from({ length: count }, (_, i) => `synthetic ${kind} scene (seed ${first + i})`),
    sizes: Array.from({ length: count }, () => ({ width, height })),
    image: (i) => {
      let s = cache.get(i);
      if (!s) {
        const g = generate({ seed: first + i, width, height });
        s = { rgb: g.image, mask: g.mask, width: g.width };
        cache.set(i, s);
      }
      return s;
    },
  };
}

/** Options of {@link FileData.open}: those of the loader. */
export type FileDataOptions = LoaderOptions;

/** Training data read from files: a {@link DataLoader} over training and validation pairs. */
export const FileData = {
  /**
   * Reads every header, checks sizes and crops, and returns the loader (a `TrainingData`).
   * @throws DatasetError naming the file on a corrupt header, a size mismatch or a crop that does not fit.
   */
  async open(
    train: readonly ImageMaskPair[],
    val: readonly ImageMaskPair[],
    options: FileDataOptions,
  ): Promise<DataLoader> {
    const [t, v] = await Promise.all([openFileSource(train), openFileSource(val)]);
    return new DataLoader(t, v, options);
  },
};
