/**
 * Sampling and the worker loader: crop sizes, plans (bounds, determinism, flips), the normalisation numbers, the
 * batches the workers decode against an independent computation and against the in-process and in-memory paths,
 * errors from workers, and shutdown under vitest, tsx and a Node bin that registers tsx.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IMAGENET_MEAN as MODEL_MEAN, IMAGENET_STD as MODEL_STD, normalizeRegion } from '@ternausnet/model';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { positionScene } from '../../../test/support/images.ts';
import { folderPairs, inriaPairs, memorySource, openFileSource, syntheticDataset } from '../src/data/datasets.ts';
import { DataLoader, type FileSource, type SampleSource } from '../src/data/loader.ts';
import {
  checkCropSize,
  DatasetError,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeImage,
  trainingPlan,
  validationPlan,
} from '../src/data/sampling.ts';
import type { Batch } from '../src/trainer.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const trainPkg = resolve(here, '..');
const root = mkdtempSync(join(tmpdir(), 'ternaus-loader-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const W = 96;
const H = 64;

/** Pixels that encode their position and the mask (test/support/images.ts). */
const scene = (seed: number) => positionScene(W, H, seed);

const inria = join(root, 'AerialImageDataset', 'train');
let files: FileSource;

beforeAll(async () => {
  mkdirSync(join(inria, 'images'), { recursive: true });
  mkdirSync(join(inria, 'gt'), { recursive: true });
  for (const city of ['austin', 'vienna'])
    for (const n of [1, 2, 3]) {
      const s = scene(n + (city === 'vienna' ? 10 : 0));
      await sharp(s.rgb, { raw: { width: W, height: H, channels: 3 } })
        .tiff({ compression: 'lzw' })
        .toFile(join(inria, 'images', `${city}${n}.tif`));
      await sharp(Buffer.from(s.mask.map((v) => v * 255)), { raw: { width: W, height: H, channels: 1 } })
        .toColourspace('b-w')
        .tiff({ compression: 'lzw' })
        .toFile(join(inria, 'gt', `${city}${n}.tif`));
    }
  files = await openFileSource(inriaPairs(root));
});

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/** The files decoded whole (by sharp, in the test) as an in-memory source. */
async function decodedWhole(src: FileSource): Promise<SampleSource> {
  const images = await Promise.all(
    src.pairs.map(async (p) => {
      const rgb = await sharp(p.image).raw().toBuffer();
      const m = await sharp(p.mask).extractChannel(0).raw().toBuffer();
      return { name: p.name, image: rgb, mask: Buffer.from(m.map((v) => (v > 127 ? 1 : 0))), width: W, height: H };
    }),
  );
  return memorySource(images);
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('sampling', () => {
  it('crop sizes must be multiples of 32, and the error names the nearest valid sizes', () => {
    expect(() => checkCropSize(768)).not.toThrow();
    expect(() => checkCropSize(700, 'training crop size')).toThrow(
      /training crop size 700 is not a multiple of 32 .*nearest valid sizes: 672 or 704/,
    );
    expect(() => checkCropSize(20)).toThrow(/crop size 20 .*nearest valid sizes: 32/);
    expect(() => new DataLoader(files, null, { batchSize: 2, cropSize: 48 })).toThrow(/crop size 48 .*32 or 64/);
    expect(() => new DataLoader(files, null, { batchSize: 2 })).toThrow(
      /austin1\.tif is 96×64, smaller than the 768×768 training crop; use a training crop of at most 64/,
    );
    expect(() => new DataLoader(files, files, { batchSize: 2, cropSize: 32, valCropSize: 96 })).toThrow(
      /austin1\.tif is 96×64, smaller than the 96×96 validation centre crop/,
    );
  });

  it('plans every image once per epoch, crops in bounds, reproducibly for a seed and epoch', () => {
    const sizes = [
      { width: 96, height: 64 },
      { width: 64, height: 128 },
      { width: 200, height: 33 },
    ];
    const a = trainingPlan(sizes, 32, 7, 3);
    expect(trainingPlan(sizes, 32, 7, 3)).toEqual(a);
    expect(a.map((p) => p.index).sort()).toEqual([0, 1, 2]);
    const epochs = Array.from({ length: 50 }, (_, e) => trainingPlan(sizes, 32, 7, e));
    let flipsH = 0;
    let flipsV = 0;
    for (const plan of epochs)
      for (const p of plan) {
        const s = sizes[p.index]!;
        expect(p.left >= 0 && p.top >= 0 && p.left + 32 <= s.width && p.top + 32 <= s.height).toBe(true);
        flipsH += Number(p.flipH);
        flipsV += Number(p.flipV);
      }
    // 150 coin flips each: far from 0 and 150 unless the flips are broken.
    expect(flipsH).toBeGreaterThan(45);
    expect(flipsH).toBeLessThan(105);
    expect(flipsV).toBeGreaterThan(45);
    expect(flipsV).toBeLessThan(105);
    expect(new Set(epochs.map((p) => JSON.stringify(p))).size).toBe(50);
    expect(trainingPlan(sizes, 32, 8, 3)).not.toEqual(a);
    expect(trainingPlan(sizes, 32, 7, 3, false).every((p) => !p.flipH && !p.flipV)).toBe(true);
    expect(validationPlan(sizes, 32)).toEqual([
      { index: 0, left: 32, top: 16, size: 32, flipH: false, flipV: false },
      { index: 1, left: 16, top: 48, size: 32, flipH: false, flipV: false },
      { index: 2, left: 84, top: 0, size: 32, flipH: false, flipV: false },
    ]);
  });

  it("normalises as the authors: RGB / 255, ImageNet mean and std (the model package's numbers)", () => {
    expect(IMAGENET_MEAN).toEqual(MODEL_MEAN);
    expect(IMAGENET_STD).toEqual(MODEL_STD);
    // Two pixels, HWC: (0, 128, 255) and (255, 0, 64).
    const out = normalizeImage(new Uint8Array([0, 128, 255, 255, 0, 64]), 1, 2);
    const expected = [-0.485 / 0.229, (1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, -0.456 / 0.224];
    expected.push((1 - 0.406) / 0.225, (64 / 255 - 0.406) / 0.225);
    expect(out.length).toBe(6);
    out.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 5);
    });
    const img = { data: scene(1).rgb, width: W, height: H };
    const ours = normalizeImage(img.data, H, W);
    const model = normalizeRegion(img, 0, 0, W, H);
    expect(ours.every((v, i) => Math.abs(v - model[i]!) < 1e-5)).toBe(true);
    expect(() => normalizeImage(new Uint8Array(5), 1, 2)).toThrow(/5 bytes is not 1×2×3/);
  });
});

describe('DataLoader', () => {
  it('worker batches equal the in-process path, the in-memory path and an independent computation', async () => {
    // A seed whose plan has crops flipped each way, and unflipped ones.
    const seed = [...Array(100).keys()].find((s) => {
      const plan = trainingPlan(files.sizes, 32, s, 5);
      return plan.some((p) => p.flipH) && plan.some((p) => p.flipV) && plan.some((p) => !p.flipH && !p.flipV);
    })!;
    const opts = { batchSize: 4, cropSize: 32, valCropSize: 64, seed };
    const workers = new DataLoader(files, files, { ...opts, workers: 2, prefetch: 3 });
    const inProcess = new DataLoader(files, files, { ...opts, workers: 0 });
    const memory = new DataLoader(await decodedWhole(files), await decodedWhole(files), opts);
    try {
      expect(workers.trainBatchCount).toBe(2);
      const a = await collect(workers.epoch(5));
      expect(a.map((b) => [b.n, b.height, b.width, b.images.length, b.masks.length])).toEqual([
        [4, 32, 32, 4 * 3 * 32 * 32, 4 * 32 * 32],
        [2, 32, 32, 2 * 3 * 32 * 32, 2 * 32 * 32],
      ]);
      for (const other of [await collect(inProcess.epoch(5)), await collect(memory.epoch(5))]) {
        expect(other.length).toBe(a.length);
        other.forEach((b, i) => {
          expect(same(b.images, a[i]!.images) && same(b.masks, a[i]!.masks)).toBe(true);
        });
      }
      // Independently: each output pixel read back from the source pixels the plan points at.
      const plan = workers.plan(5);
      expect(plan.some((p) => p.flipH) && plan.some((p) => p.flipV)).toBe(true);
      const S = 32;
      plan.forEach((p, k) => {
        const batch = a[Math.floor(k / 4)]!;
        const slot = k % 4;
        const name = files.pairs[p.index]!.name;
        const s = scene(Number(name.slice(-1)) + (name.startsWith('vienna') ? 10 : 0));
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++) {
            const sx = p.left + (p.flipH ? S - 1 - x : x);
            const sy = p.top + (p.flipV ? S - 1 - y : y);
            const src = sy * W + sx;
            const d = y * S + x;
            expect(batch.masks[slot * S * S + d]).toBe(s.mask[src]);
            for (let c = 0; c < 3; c++) {
              const v = batch.images[(slot * 3 + c) * S * S + d]!;
              const want = (s.rgb[src * 3 + c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
              if (Math.abs(v - want) > 1e-5) expect(v).toBeCloseTo(want, 5);
            }
          }
      });
      const v = await collect(workers.validation());
      expect(v.map((b) => [b.n, b.height, b.width])).toEqual([
        [4, 64, 64],
        [2, 64, 64],
      ]);
      const vm = await collect(memory.validationBatches());
      expect(same(v[1]!.images, vm[1]!.images) && same(v[1]!.masks, vm[1]!.masks)).toBe(true);
    } finally {
      await Promise.all([workers.close(), inProcess.close(), memory.close()]);
    }
  });

  it('is deterministic for a seed and epoch whatever the worker timing, and differs across epochs', async () => {
    const a = new DataLoader(files, null, { batchSize: 1, cropSize: 32, seed: 3, workers: 3, prefetch: 6 });
    const b = new DataLoader(files, null, { batchSize: 1, cropSize: 32, seed: 3, workers: 1, prefetch: 1 });
    try {
      const [x, y, z] = await Promise.all([collect(a.epoch(2)), collect(b.epoch(2)), collect(a.epoch(3))]);
      expect(x.every((bx, i) => same(bx.images, y[i]!.images) && same(bx.masks, y[i]!.masks))).toBe(true);
      expect(x.every((bx, i) => same(bx.images, z[i]!.images))).toBe(false);
      // Stopping early and starting again gives the same batches.
      for await (const first of a.epoch(2)) {
        expect(same(first.images, x[0]!.images)).toBe(true);
        break;
      }
      expect((await collect(a.epoch(2))).every((bx, i) => same(bx.images, x[i]!.images))).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    await expect(collect(a.epoch(1))).rejects.toThrow(/loader is closed/);
  });

  it('rethrows a worker error on the main thread with the file name', async () => {
    const dir = join(root, 'folder');
    mkdirSync(join(dir, 'images'), { recursive: true });
    mkdirSync(join(dir, 'masks'), { recursive: true });
    for (const n of ['a', 'b']) {
      const s = scene(1);
      await sharp(s.rgb, { raw: { width: W, height: H, channels: 3 } })
        .png()
        .toFile(join(dir, 'images', `${n}.png`));
      await sharp(s.mask, { raw: { width: W, height: H, channels: 1 } })
        .png()
        .toFile(join(dir, 'masks', `${n}.png`));
    }
    const src = await openFileSource(folderPairs(dir));
    // Corrupted after the headers were read: only the decoding in the worker finds out.
    writeFileSync(join(dir, 'images', 'b.png'), 'not a PNG any more');
    for (const workers of [1, 0]) {
      const loader = new DataLoader(src, null, { batchSize: 1, cropSize: 32, workers });
      try {
        const err = await collect(loader.epoch(1)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DatasetError);
        expect((err as Error).message).toMatch(/cannot decode image .*images\/b\.png \(crop 32×32 at \d+,\d+\)/);
      } finally {
        await loader.close();
      }
    }
  });

  it('crops synthetic scenes (generated on the main thread)', async () => {
    const src = syntheticDataset({ kind: 'aerial', count: 3, width: 64, height: 64, firstSeed: 100 });
    const loader = new DataLoader(src, null, { batchSize: 2, cropSize: 32, seed: 1 });
    const a = await collect(loader.epoch(1));
    const b = await collect(loader.epoch(1));
    expect(a.map((x) => x.n)).toEqual([2, 1]);
    expect(a.every((x, i) => same(x.images, b[i]!.images) && same(x.masks, b[i]!.masks))).toBe(true);
    expect(a.every((x) => x.masks.every((v) => v === 0 || v === 1))).toBe(true);
    await loader.close();
  });

  it('takes several crops per image per epoch, and with positiveCrops redraws crops without buildings', async () => {
    const src = syntheticDataset({ kind: 'aerial', count: 6, width: 256, height: 256, firstSeed: 7 });
    const plain = new DataLoader(src, null, { batchSize: 1, cropSize: 32, seed: 3, cropsPerImage: 5 });
    expect(plain.trainBatchCount).toBe(30);
    const plan = plain.plan(2);
    expect(plan.map((p) => p.index).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5].flatMap((i) => [i, i, i, i, i]));
    const empty = (batches: Batch[]) => batches.filter((b) => !b.masks.some((v) => v > 0)).length;
    const a = await collect(plain.epoch(2));
    const positive = new DataLoader(src, null, {
      batchSize: 1,
      cropSize: 32,
      seed: 3,
      cropsPerImage: 5,
      positiveCrops: true,
    });
    const b = await collect(positive.epoch(2));
    // 32² crops of these scenes are often empty; redrawn ten times, (almost) never.
    expect(empty(a)).toBeGreaterThan(3);
    expect(empty(b)).toBeLessThan(empty(a) / 3);
    expect(positive.plan(2)).toEqual(positive.plan(2));
    await Promise.all([plain.close(), positive.close()]);
    const files: SampleSource = { kind: 'files', pairs: [], sizes: [{ width: 64, height: 64 }] };
    expect(() => new DataLoader(files, null, { batchSize: 1, cropSize: 32, positiveCrops: true })).toThrow(
      /positiveCrops needs in-memory/,
    );
    expect(() => new DataLoader(src, null, { batchSize: 1, cropSize: 32, cropsPerImage: 0 })).toThrow(
      /crops per image must be a positive integer, got 0/,
    );
  });

  it('runs its workers under tsx and under a Node bin that registers tsx, and never keeps the process alive', async () => {
    // .mts: an ES module wherever the temporary folder is (no package.json there says "type": "module").
    const script = join(root, 'child.mts');
    const src = (f: string) => JSON.stringify(join(trainPkg, 'src', 'data', f));
    writeFileSync(
      script,
      [
        `import { inriaPairs, openFileSource } from ${src('datasets.ts')};`,
        `import { DataLoader } from ${src('loader.ts')};`,
        `const loader = new DataLoader(await openFileSource(inriaPairs(${JSON.stringify(root)})), null,`,
        `  { batchSize: 2, cropSize: 32, seed: 9, workers: 2 });`,
        'let sum = 0;',
        'for await (const b of loader.epoch(4)) for (let i = 0; i < b.images.length; i++) sum += b.images[i] * (i % 7);',
        'console.log(JSON.stringify({ sum }));',
        // Without close(): idle workers must not keep the process alive.
        "if (process.argv.includes('--close')) await loader.close();",
      ].join('\n'),
    );
    const local = new DataLoader(files, null, { batchSize: 2, cropSize: 32, seed: 9, workers: 0 });
    let sum = 0;
    for await (const b of local.epoch(4)) for (let i = 0; i < b.images.length; i++) sum += b.images[i]! * (i % 7);
    const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
    const bin = `import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(script)});`;
    const opts = { cwd: trainPkg, timeout: 30_000 };
    const [viaTsx, viaBin] = await Promise.all([
      run(process.execPath, [tsxCli, script], opts),
      run(process.execPath, ['--input-type=module', '-e', bin, '--', '--close'], opts),
    ]);
    for (const out of [viaTsx.stdout, viaBin.stdout]) expect(JSON.parse(out).sum).toBeCloseTo(sum, 6);
  });
});
