/**
 * Real data layouts on small files made here with the real formats (Inria TIFF 0/255, Carvana JPEG + GIF 0/1,
 * a generic PNG folder): discovery, the paper's split, decoding, binarisation, crops, flips, prefetch and errors.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGENET_MEAN, IMAGENET_STD } from '@ternausnet/model';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  carvanaPairs,
  DatasetError,
  FileData,
  folderPairs,
  groupSplit,
  inriaPairs,
  inriaSplit,
  readCrop,
} from '../src/data/datasets.ts';
import type { Batch } from '../src/trainer.ts';

const root = mkdtempSync(join(tmpdir(), 'datasets-'));

/** An RGB image whose red channel says where the mask is (red 200 on the mask, 40 elsewhere). */
function scene(w: number, h: number, seed: number) {
  const rgb = Buffer.alloc(w * h * 3);
  const mask = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const on = (x * 7 + y * 3 + seed) % 11 < 4 ? 1 : 0;
      const i = y * w + x;
      mask[i] = on;
      rgb[i * 3] = on ? 200 : 40;
      rgb[i * 3 + 1] = (x * 5 + seed) & 0xff;
      rgb[i * 3 + 2] = (y * 9) & 0xff;
    }
  return { rgb, mask };
}

const raw = (buf: Buffer, w: number, h: number, channels: 1 | 3) =>
  sharp(buf, { raw: { width: w, height: h, channels } });

beforeAll(async () => {
  const inria = join(root, 'inria', 'AerialImageDataset', 'train');
  mkdirSync(join(inria, 'images'), { recursive: true });
  mkdirSync(join(inria, 'gt'), { recursive: true });
  for (const city of ['austin', 'vienna']) {
    for (const n of [1, 2, 10]) {
      const s = scene(96, 64, n);
      await raw(s.rgb, 96, 64, 3)
        .tiff({ compression: 'lzw' })
        .toFile(join(inria, 'images', `${city}${n}.tif`));
      await raw(Buffer.from(s.mask.map((v) => v * 255)), 96, 64, 1)
        .tiff({ compression: 'lzw' })
        .toFile(join(inria, 'gt', `${city}${n}.tif`));
    }
  }
  const carvana = join(root, 'carvana');
  mkdirSync(join(carvana, 'train'), { recursive: true });
  mkdirSync(join(carvana, 'train_masks'), { recursive: true });
  for (const car of ['0cdf5b5d0ce1', '11acc40dc0ea']) {
    for (const view of ['01', '02']) {
      const s = scene(64, 64, view === '01' ? 3 : 5);
      await raw(s.rgb, 64, 64, 3)
        .jpeg({ quality: 100 })
        .toFile(join(carvana, 'train', `${car}_${view}.jpg`));
      await raw(s.mask, 64, 64, 1)
        .gif()
        .toFile(join(carvana, 'train_masks', `${car}_${view}_mask.gif`));
    }
  }
  const folder = join(root, 'folder');
  mkdirSync(join(folder, 'images'), { recursive: true });
  mkdirSync(join(folder, 'masks'), { recursive: true });
  for (const name of ['a', 'b']) {
    const s = scene(64, 64, name === 'a' ? 1 : 2);
    await raw(s.rgb, 64, 64, 3)
      .png()
      .toFile(join(folder, 'images', `${name}.png`));
    await raw(Buffer.from(s.mask.map((v) => v * 255)), 64, 64, 1)
      .png()
      .toFile(join(folder, 'masks', `${name}_mask.png`));
  }
});

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('datasets', () => {
  it('Inria: finds the tiles from any of three roots, in numeric order, and splits the first N per city', () => {
    const pairs = inriaPairs(join(root, 'inria'));
    expect(pairs.map((p) => p.name)).toEqual(['austin1', 'austin2', 'austin10', 'vienna1', 'vienna2', 'vienna10']);
    expect(inriaPairs(join(root, 'inria', 'AerialImageDataset')).length).toBe(6);
    expect(inriaPairs(join(root, 'inria', 'AerialImageDataset', 'train')).length).toBe(6);
    const { train, val } = inriaSplit(pairs, 1);
    expect(val.map((p) => p.name)).toEqual(['austin1', 'vienna1']);
    expect(train.map((p) => p.name)).toEqual(['austin2', 'austin10', 'vienna2', 'vienna10']);
    expect(() => inriaSplit(pairs, 3)).toThrow(/city 'austin' has 3 tiles, not more than valPerCity = 3/);
    expect(() => inriaPairs(join(root, 'folder'))).toThrow(DatasetError);
  });

  it('binarises 0/255 TIFF and 0/1 GIF masks alike, and decodes only the requested region', async () => {
    const [inria] = inriaPairs(join(root, 'inria'));
    const expected = scene(96, 64, 1);
    const c = await readCrop(inria!, { left: 32, top: 16, width: 32, height: 32 });
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) expect(c.mask[y * 32 + x]).toBe(expected.mask[(16 + y) * 96 + 32 + x]);
    expect(c.rgb[0]).toBe(expected.rgb[(16 * 96 + 32) * 3]);
    const car = carvanaPairs(join(root, 'carvana'))[0]!;
    const g = await readCrop(car, { left: 0, top: 0, width: 64, height: 64 });
    const s = scene(64, 64, 3);
    expect(Array.from(g.mask)).toEqual(Array.from(s.mask));
  });

  it('Carvana: pairs every view with its _mask.gif and splits by car, never a car on both sides', () => {
    const pairs = carvanaPairs(join(root, 'carvana'));
    expect(pairs.map((p) => p.group)).toEqual(['0cdf5b5d0ce1', '0cdf5b5d0ce1', '11acc40dc0ea', '11acc40dc0ea']);
    const { train, val } = groupSplit(pairs);
    expect(new Set(train.map((p) => p.group)).size + new Set(val.map((p) => p.group)).size).toBe(2);
    expect(train.some((t) => val.some((v) => v.group === t.group))).toBe(false);
  });

  it('generic folder: matches masks by base name (with or without _mask)', () => {
    expect(folderPairs(join(root, 'folder')).map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('random crops with flips keep image and mask aligned, are deterministic per (seed, epoch), and normalise', async () => {
    const { train, val } = inriaSplit(inriaPairs(join(root, 'inria')), 1);
    const data = await FileData.open(train, val, { cropSize: 32, valCropSize: 64, batchSize: 3, seed: 4 });
    expect(data.trainBatchCount).toBe(2);
    const a = await collect(data.trainBatches(1));
    const b = await collect(data.trainBatches(1));
    const c = await collect(data.trainBatches(2));
    expect(a.map((x) => x.n)).toEqual([3, 1]);
    expect(a[0]!.images).toEqual(b[0]!.images);
    expect(a[0]!.images).not.toEqual(c[0]!.images);
    for (const batch of [...a, ...c]) {
      const plane = 32 * 32;
      for (let k = 0; k < batch.n; k++)
        for (let i = 0; i < plane; i++) {
          const red = batch.images[k * 3 * plane + i]! * IMAGENET_STD[0] + IMAGENET_MEAN[0];
          // Red 200/255 marks mask pixels, 40/255 the rest: a flip applied to one and not the other would show.
          expect(batch.masks[k * plane + i]).toBe(red > 0.5 ? 1 : 0);
        }
    }
    const v = await collect(data.validationBatches());
    expect(v.map((x) => [x.n, x.height, x.width])).toEqual([[2, 64, 64]]);
  });

  it('errors name the file: missing mask, size mismatch, corrupt file, bad crop sizes', async () => {
    const bad = join(root, 'bad');
    mkdirSync(join(bad, 'images'), { recursive: true });
    mkdirSync(join(bad, 'masks'), { recursive: true });
    await raw(Buffer.alloc(64 * 64 * 3), 64, 64, 3)
      .png()
      .toFile(join(bad, 'images', 'x.png'));
    expect(() => folderPairs(bad)).toThrow(/x\.png has no mask/);
    await raw(Buffer.alloc(32 * 64), 32, 64, 1)
      .png()
      .toFile(join(bad, 'masks', 'x.png'));
    const pairs = folderPairs(bad);
    await expect(FileData.open(pairs, pairs, { cropSize: 32, valCropSize: 32, batchSize: 1, seed: 0 })).rejects.toThrow(
      /x\.png is 64×64 but its mask .*x\.png is 32×64/,
    );
    writeFileSync(join(bad, 'masks', 'x.png'), 'this is not a PNG');
    await expect(FileData.open(pairs, pairs, { cropSize: 32, valCropSize: 32, batchSize: 1, seed: 0 })).rejects.toThrow(
      /cannot read image .*masks\/x\.png/,
    );
    const good = folderPairs(join(root, 'folder'));
    await expect(FileData.open(good, good, { cropSize: 48, valCropSize: 32, batchSize: 1, seed: 0 })).rejects.toThrow(
      /crop size 48 is not a multiple of 32.*use 32 or 64/,
    );
    await expect(FileData.open(good, good, { cropSize: 96, valCropSize: 32, batchSize: 1, seed: 0 })).rejects.toThrow(
      /a\.png \(64×64\) is smaller than the 96×96 crop/,
    );
  });
});
