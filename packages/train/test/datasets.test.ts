/**
 * The real layouts on small files written here in the real formats (Inria: LZW TIFF with 0/255 masks; Carvana:
 * JPEG with 0/1 and 0/255 palette GIF masks; a generic folder of PNG/WebP/TIFF): discovery, the paper's split,
 * numeric ordering, decoding, binarisation and the errors, which must name the file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionScene } from '../../../test/support/images.ts';
import {
  carvanaPairs,
  DatasetError,
  folderPairs,
  groupSplit,
  imageSize,
  inriaPairs,
  inriaSplit,
  memorySource,
  openFileSource,
  readCrop,
} from '../src/data/datasets.ts';

const root = mkdtempSync(join(tmpdir(), 'ternaus-datasets-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const raw = (buf: Buffer, w: number, h: number, channels: 1 | 3) =>
  sharp(buf, { raw: { width: w, height: h, channels } });
const grey = (buf: Buffer, w: number, h: number) => raw(buf, w, h, 1).toColourspace('b-w');
const x255 = (m: Buffer) => Buffer.from(m.map((v) => v * 255));

function dirs(...paths: string[]): void {
  for (const p of paths) mkdirSync(p, { recursive: true });
}

async function writeInria(base: string, cities: readonly string[], tiles: readonly number[]): Promise<string> {
  const train = join(base, 'AerialImageDataset', 'train');
  dirs(join(train, 'images'), join(train, 'gt'));
  for (const city of cities)
    for (const n of tiles) {
      const s = positionScene(96, 64, n);
      await raw(s.rgb, 96, 64, 3)
        .tiff({ compression: 'lzw' })
        .toFile(join(train, 'images', `${city}${n}.tif`));
      await grey(x255(s.mask), 96, 64)
        .tiff({ compression: 'lzw' })
        .toFile(join(train, 'gt', `${city}${n}.tif`));
    }
  return train;
}

const inria = join(root, 'inria');
const carvana = join(root, 'carvana');
const folder = join(root, 'folder');

beforeAll(async () => {
  await writeInria(inria, ['vienna', 'austin'], [10, 2, 1]);
  dirs(join(carvana, 'train'), join(carvana, 'train_masks'));
  for (const [c, car] of ['0cdf5b5d0ce1', '11acc40dc0ea'].entries())
    for (const view of ['01', '02']) {
      const s = positionScene(64, 64, Number(view));
      await raw(s.rgb, 64, 64, 3)
        .jpeg({ quality: 95 })
        .toFile(join(carvana, 'train', `${car}_${view}.jpg`));
      // One car's masks store the class index (0/1), the other's a black/white palette (0/255).
      const m = c === 0 ? s.mask : x255(s.mask);
      await grey(m, 64, 64)
        .gif()
        .toFile(join(carvana, 'train_masks', `${car}_${view}_mask.gif`));
    }
  dirs(join(folder, 'images'), join(folder, 'masks'));
  const a = positionScene(64, 64, 5);
  await raw(a.rgb, 64, 64, 3)
    .png()
    .toFile(join(folder, 'images', 'a.png'));
  await grey(x255(a.mask), 64, 64)
    .png()
    .toFile(join(folder, 'masks', 'a_mask.png'));
  const b = positionScene(64, 64, 6);
  await raw(b.rgb, 64, 64, 3)
    .webp({ lossless: true })
    .toFile(join(folder, 'images', 'b.webp'));
  // sharp's TIFF default is JPEG compression: lossless here, as masks must be.
  await grey(b.mask, 64, 64)
    .tiff({ compression: 'lzw' })
    .toFile(join(folder, 'masks', 'b.tif'));
});

describe('Inria Aerial Image Labeling', () => {
  it('finds the tiles from any of the three roots, city by city in numeric order', () => {
    const names = ['austin1', 'austin2', 'austin10', 'vienna1', 'vienna2', 'vienna10'];
    for (const r of [inria, join(inria, 'AerialImageDataset'), join(inria, 'AerialImageDataset', 'train')]) {
      expect(inriaPairs(r).map((p) => p.name)).toEqual(names);
    }
    const p = inriaPairs(inria)[2]!;
    expect(p.image).toBe(join(inria, 'AerialImageDataset', 'train', 'images', 'austin10.tif'));
    expect(p.mask).toBe(join(inria, 'AerialImageDataset', 'train', 'gt', 'austin10.tif'));
    expect(p.group).toBe('austin');
    expect(() => inriaPairs(folder)).toThrow(/not an Inria Aerial Image Labeling folder/);
  });

  it('splits the first valPerCity tiles of each city off for validation', () => {
    const pairs = inriaPairs(inria);
    const cities = ['austin', 'vienna'];
    const one = inriaSplit(pairs, 1, cities);
    expect(one.val.map((p) => p.name)).toEqual(['austin1', 'vienna1']);
    expect(one.train.map((p) => p.name)).toEqual(['austin2', 'austin10', 'vienna2', 'vienna10']);
    const two = inriaSplit(pairs, 2, cities);
    expect(two.val.map((p) => p.name)).toEqual(['austin1', 'austin2', 'vienna1', 'vienna2']);
    expect(two.train.map((p) => p.name)).toEqual(['austin10', 'vienna10']);
    expect(() => inriaSplit(pairs, 4, cities)).toThrow(/city 'austin' has 3 tiles, fewer than the 4 validation/);
    // The default is the five cities of the paper.
    expect(() => inriaSplit(pairs)).toThrow(
      /cities 'chicago', 'kitsap', 'tyrol-w' have no tiles \(found: austin, vienna\)/,
    );
  });

  it('names the file when a tile has no ground truth or a ground truth no tile', async () => {
    const train = await writeInria(join(root, 'inria-orphans'), ['kitsap'], [1]);
    rmSync(join(train, 'gt', 'kitsap1.tif'));
    expect(() => inriaPairs(train)).toThrow(/images\/kitsap1\.tif has no ground truth .*gt\/kitsap1\.tif/);
    rmSync(join(train, 'images', 'kitsap1.tif'));
    writeFileSync(join(train, 'gt', 'kitsap7.tif'), '');
    expect(() => inriaPairs(train)).toThrow(/ground truth .*gt\/kitsap7\.tif has no image .*images\/kitsap7\.tif/);
  });

  it('decodes a crop to RGB and a 0/1 mask from 0/255 ground truth', async () => {
    const pair = inriaPairs(inria)[2]!; // austin10
    const s = positionScene(96, 64, 10);
    const c = await readCrop(pair, { left: 40, top: 8, width: 32, height: 48 });
    expect(c.rgb.length).toBe(32 * 48 * 3);
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 32; x++) {
        const src = (8 + y) * 96 + 40 + x;
        const dst = y * 32 + x;
        expect(c.mask[dst]).toBe(s.mask[src]);
        for (let ch = 0; ch < 3; ch++) expect(c.rgb[dst * 3 + ch]).toBe(s.rgb[src * 3 + ch]);
      }
    await expect(readCrop(pair, { left: 80, top: 0, width: 32, height: 32 })).rejects.toThrow(
      /cannot decode image .*austin10\.tif \(crop 32×32 at 80,0\)/,
    );
  });
});

describe('Carvana', () => {
  it('pairs every view with its _mask.gif, groups views by car, binarises 0/1 and 0/255 GIFs alike', async () => {
    const pairs = carvanaPairs(carvana);
    expect(pairs.map((p) => p.name)).toEqual([
      '0cdf5b5d0ce1_01',
      '0cdf5b5d0ce1_02',
      '11acc40dc0ea_01',
      '11acc40dc0ea_02',
    ]);
    expect(pairs.map((p) => p.group)).toEqual(['0cdf5b5d0ce1', '0cdf5b5d0ce1', '11acc40dc0ea', '11acc40dc0ea']);
    for (const p of [pairs[1]!, pairs[3]!]) {
      const c = await readCrop(p, { left: 0, top: 0, width: 64, height: 64 });
      expect(Buffer.from(c.mask).equals(positionScene(64, 64, 2).mask)).toBe(true);
      // JPEG is lossy: the pixels are close, not equal.
      expect(Math.abs(c.rgb[(10 * 64 + 20) * 3]! - 40)).toBeLessThan(8);
    }
  });

  it('splits by car: all views of a car on one side', () => {
    const pairs = carvanaPairs(carvana);
    const { train, val } = groupSplit(pairs);
    expect(val.map((p) => p.group)).toEqual(['11acc40dc0ea', '11acc40dc0ea']);
    expect(train.map((p) => p.group)).toEqual(['0cdf5b5d0ce1', '0cdf5b5d0ce1']);
    const chosen = groupSplit(pairs, { valGroups: ['0cdf5b5d0ce1'] });
    expect(chosen.val.map((p) => p.name)).toEqual(['0cdf5b5d0ce1_01', '0cdf5b5d0ce1_02']);
    expect(() => groupSplit(pairs, { valGroups: ['nope'] })).toThrow(/validation group 'nope' has no images/);
    // 10 cars, one in five to validation: the 5th and the 10th.
    const many = Array.from({ length: 10 }, (_, i) => ({ name: `c${i}_01`, image: '', mask: '', group: `c${i}` }));
    expect(groupSplit(many).val.map((p) => p.group)).toEqual(['c4', 'c9']);
  });

  it('names the file when a view has no mask or a mask no view', () => {
    const bad = join(root, 'carvana-bad');
    dirs(join(bad, 'train'), join(bad, 'train_masks'));
    writeFileSync(join(bad, 'train', 'abc_01.jpg'), '');
    expect(() => carvanaPairs(bad)).toThrow(/train\/abc_01\.jpg has no mask .*train_masks\/abc_01_mask\.gif/);
    writeFileSync(join(bad, 'train_masks', 'abc_01_mask.gif'), '');
    writeFileSync(join(bad, 'train_masks', 'abc_02_mask.gif'), '');
    expect(() => carvanaPairs(bad)).toThrow(/mask .*abc_02_mask\.gif has no image .*train\/abc_02\.jpg/);
  });
});

describe('generic folder', () => {
  it('matches images and masks by base name across formats (and a _mask suffix)', async () => {
    const pairs = folderPairs(folder);
    expect(pairs.map((p) => [p.name, p.image.slice(folder.length), p.mask.slice(folder.length)])).toEqual([
      ['a', '/images/a.png', '/masks/a_mask.png'],
      ['b', '/images/b.webp', '/masks/b.tif'],
    ]);
    const b = await readCrop(pairs[1]!, { left: 0, top: 0, width: 64, height: 64 });
    expect(Buffer.from(b.mask).equals(positionScene(64, 64, 6).mask)).toBe(true);
    expect(Buffer.from(b.rgb).equals(positionScene(64, 64, 6).rgb)).toBe(true);
  });

  it('errors name the files: missing mask, orphan mask, size mismatch, corrupt file', async () => {
    const bad = join(root, 'folder-bad');
    dirs(join(bad, 'images'), join(bad, 'masks'));
    await raw(Buffer.alloc(64 * 64 * 3), 64, 64, 3)
      .png()
      .toFile(join(bad, 'images', 'x.png'));
    expect(() => folderPairs(bad)).toThrow(/images\/x\.png has no mask in .*masks \(looked for x\.\* and x_mask\.\*\)/);
    await grey(Buffer.alloc(32 * 64), 32, 64)
      .png()
      .toFile(join(bad, 'masks', 'x.png'));
    writeFileSync(join(bad, 'masks', 'y.png'), '');
    expect(() => folderPairs(bad)).toThrow(/mask .*masks\/y\.png has no image/);
    rmSync(join(bad, 'masks', 'y.png'));
    const pairs = folderPairs(bad);
    await expect(openFileSource(pairs)).rejects.toThrow(
      /images\/x\.png is 64×64 but its mask .*masks\/x\.png is 32×64/,
    );
    writeFileSync(join(bad, 'masks', 'x.png'), 'this is not a PNG');
    await expect(openFileSource(pairs)).rejects.toThrow(DatasetError);
    await expect(imageSize(join(bad, 'masks', 'x.png'))).rejects.toThrow(/cannot read image .*masks\/x\.png/);
  });

  it('opens a file source with every size from the headers', async () => {
    const src = await openFileSource(inriaPairs(inria));
    expect(src.kind).toBe('files');
    expect(src.sizes).toEqual(Array.from({ length: 6 }, () => ({ width: 96, height: 64 })));
  });

  it('checks in-memory images', () => {
    expect(() =>
      memorySource([{ name: 'm', image: new Uint8Array(5), mask: new Uint8Array(4), width: 2, height: 2 }]),
    ).toThrow(/m: 5 image bytes and 4 mask bytes do not make an RGB 2×2 image/);
  });
});
