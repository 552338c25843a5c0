/**
 * Inference: predict() on an image that fits one tile is exactly the network on the reflection-padded image;
 * on an image of several tiles, every pixel seen by one tile only is exactly that tile's prediction and every
 * other pixel is a convex blend of the tiles that see it; GPU memory is bounded by the tile, not the image.
 */
import { getDevice, noGrad, sigmoid, tensor, tidy } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, useTestDevice } from '../../../test/support/gpu.ts';
import { image } from '../../../test/support/images.ts';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeRegion,
  predict,
  type RgbImage,
  tileOrigins,
  UNet11,
} from '../src/index.ts';

/** sigmoid(model(normalizeRegion(...))) of one region, as a plain array (the untiled computation). */
async function regionProbabilities(model: UNet11, img: RgbImage, x0: number, y0: number, w: number, h: number) {
  const p = noGrad(() => tidy(() => sigmoid(model.forward(tensor(normalizeRegion(img, x0, y0, w, h), [1, 3, h, w])))));
  const out = await p.toArray();
  p.dispose();
  return out;
}

describe('predict', () => {
  useTestDevice();

  it('normalises as the authors did and mirrors pixels outside the image', () => {
    const img = image(5, 3);
    const n = normalizeRegion(img, -1, 0, 7, 4);
    const at = (c: number, x: number, y: number) => n[c * 28 + y * 7 + x]!;
    const want = (c: number, sx: number, sy: number) =>
      (img.data[(sy * 5 + sx) * 3 + c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
    for (let c = 0; c < 3; c++) {
      expect(at(c, 1, 0)).toBeCloseTo(want(c, 0, 0), 6); // inside
      expect(at(c, 0, 0)).toBeCloseTo(want(c, 1, 0), 6); // x = −1 mirrors x = 1
      expect(at(c, 6, 2)).toBeCloseTo(want(c, 3, 2), 6); // x = 5 mirrors x = 3
      expect(at(c, 2, 3)).toBeCloseTo(want(c, 1, 1), 6); // y = 3 mirrors y = 1
    }
  });

  it('an image that fits one tile is exactly the network on the padded image (odd sides)', async () => {
    const model = new UNet11({ seed: 4 });
    const img = image(45, 70);
    const p = await predict(model, img, { tile: 128 });
    expect([p.width, p.height, p.probabilities.length]).toEqual([45, 70, 45 * 70]);
    const padded = await regionProbabilities(model, img, 0, 0, 64, 96);
    const want = new Float32Array(45 * 70);
    for (let y = 0; y < 70; y++) for (let x = 0; x < 45; x++) want[y * 45 + x] = padded[y * 64 + x]!;
    // The same kernels on the same input: only summation order could differ, and it does not.
    expectClose(p.probabilities, want, { atol: 1e-7, rtol: 0 }, 'single-tile probabilities');
    for (let i = 0; i < want.length; i++) expect(p.mask[i]).toBe(want[i]! > 0.3 ? 1 : 0);
    await expect(predict(model, img, { tile: 100 })).rejects.toThrow(/tile must be a positive multiple of 32/);
    await expect(predict(model, img, { threshold: 1.5 })).rejects.toThrow(/threshold must be in \(0, 1\), got 1.5/);
    model.dispose();
  });

  it('tiles: singly covered pixels are their tile exactly, overlaps are convex blends', async () => {
    const model = new UNet11({ seed: 5 });
    const img = image(150, 100, 7);
    const tile = 64;
    const overlap = 16;
    const p = await predict(model, img, { tile, overlap });
    const xs = tileOrigins(150, tile, overlap);
    const ys = tileOrigins(100, tile, overlap);
    expect(xs.length * ys.length).toBeGreaterThan(4);
    const lo = new Float32Array(150 * 100).fill(Number.POSITIVE_INFINITY);
    const hi = new Float32Array(150 * 100).fill(Number.NEGATIVE_INFINITY);
    const cover = new Uint8Array(150 * 100);
    const only = new Float32Array(150 * 100);
    for (const y0 of ys) {
      for (const x0 of xs) {
        const t = await regionProbabilities(model, img, x0, y0, tile, tile);
        for (let y = 0; y < tile; y++) {
          for (let x = 0; x < tile; x++) {
            const i = (y0 + y) * 150 + x0 + x;
            const v = t[y * tile + x]!;
            lo[i] = Math.min(lo[i]!, v);
            hi[i] = Math.max(hi[i]!, v);
            cover[i]!++;
            only[i] = v;
          }
        }
      }
    }
    let single = 0;
    let blended = 0;
    for (let i = 0; i < cover.length; i++) {
      expect(cover[i]).toBeGreaterThan(0);
      if (cover[i] === 1) {
        single++;
        expect(Math.abs(p.probabilities[i]! - only[i]!)).toBeLessThanOrEqual(1e-7);
      } else {
        blended++;
        // Float32 division of a weighted sum by its weights: a few ulps outside [lo, hi] at most.
        expect(p.probabilities[i]).toBeGreaterThanOrEqual(lo[i]! - 1e-6);
        expect(p.probabilities[i]).toBeLessThanOrEqual(hi[i]! + 1e-6);
      }
    }
    expect(single).toBeGreaterThan(0);
    expect(blended).toBeGreaterThan(0);
    model.dispose();
  });

  it('GPU memory is bounded by the tile size, not the image size', async () => {
    const device = getDevice();
    const model = new UNet11({ seed: 6 });
    const peak = async (img: RgbImage, tile: number) => {
      await device.sync();
      device.resetPeakStats();
      const before = device.stats().liveBytes;
      await predict(model, img, { tile, overlap: 16 });
      return device.stats().peakLiveBytes - before;
    };
    const big = image(256, 192, 3);
    // The weights' kept layouts are made once per model, not per call, and which ones depends on the planes (the
    // big ones take the Winograd forward): made first, so each peak below is one call's working set.
    for (const tile of [256, 64]) await peak(big, tile);
    const untiled = await peak(big, 256);
    const tiled = await peak(big, 64);
    const oneTile = await peak(image(64, 64), 64);
    // Tiled, the peak is that of a single 64×64 tile, whatever the image size.
    expect(tiled).toBeLessThanOrEqual(oneTile * 1.05);
    expect(tiled).toBeLessThan(untiled / 2);
    model.dispose();
  });
});
