/**
 * Tensors larger than one storage binding (maxStorageBufferBindingSize, 128 MiB on lavapipe): the kernels
 * must split the work, never fail silently. [1, 40, 1024, 1024] float32 is 168 MB. Checked at sampled elements
 * against float64 computations on the CPU (the full reference would take minutes).
 */
import { add, conv3x3, convTranspose3x3s2, maxPool2x2, Rng, sum, tensor, tidy } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';

describe('tensors over the binding limit', () => {
  const device = useTestDevice();

  it('conv3x3, max-pool and elementwise ops split a 168 MB activation correctly', async () => {
    const [N, C, H, W] = [1, 40, 1024, 1024];
    const plane = H * W;
    expect(N * C * plane * 4).toBeGreaterThan(device().limits.maxStorageBufferBindingSize);
    const rng = new Rng(7);
    const xs = new Float32Array(N * C * plane);
    for (let i = 0; i < xs.length; i++) xs[i] = ((Math.imul(i + 1, 2654435761) >>> 8) / 2 ** 24) * 2 - 1;
    const ws = Float32Array.from({ length: 3 * C * 9 }, () => rng.uniform(-0.1, 0.1));
    const bs = Float32Array.from([0.1, -0.2, 0.3]);
    const x = tensor(xs, [N, C, H, W], { requiresGrad: true });
    const w = tensor(ws, [3, C, 3, 3]);
    const b = tensor(bs, [3]);

    const { y, pooled, doubled } = tidy(() => ({
      y: conv3x3(x, w, b),
      pooled: maxPool2x2(x),
      doubled: add(x, x),
    }));
    const [yv, pv, dv] = await Promise.all([y.toArray(), pooled.toArray(), doubled.toArray()]);
    const at = (c: number, yy: number, xx: number) =>
      yy < 0 || yy >= H || xx < 0 || xx >= W ? 0 : xs[c * plane + yy * W + xx]!;
    for (let s = 0; s < 200; s++) {
      const co = rng.int(3);
      const oy = s < 4 ? [0, H - 1, 0, H - 1][s]! : rng.int(H);
      const ox = s < 4 ? [0, 0, W - 1, W - 1][s]! : rng.int(W);
      let ref = bs[co]!;
      for (let ci = 0; ci < C; ci++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            ref += at(ci, oy + ky - 1, ox + kx - 1) * ws[((co * C + ci) * 3 + ky) * 3 + kx]!;
      // K = 360 products of |x·w| ≤ 0.1: float32 rounding stays far below 1e-4.
      expect(Math.abs(yv[co * plane + oy * W + ox]! - ref)).toBeLessThan(1e-4);
      const c = rng.int(C);
      const py = rng.int(H / 2);
      const px = rng.int(W / 2);
      const m = Math.max(
        at(c, 2 * py, 2 * px),
        at(c, 2 * py, 2 * px + 1),
        at(c, 2 * py + 1, 2 * px),
        at(c, 2 * py + 1, 2 * px + 1),
      );
      expect(pv[((c * H) / 2) * (W / 2) + py * (W / 2) + px]).toBe(m);
      const i = rng.int(xs.length);
      expect(dv[i]).toBe(xs[i]! * 2);
    }
    // The very last elements are in the last chunk of every split.
    expect(dv[xs.length - 1]).toBe(xs[xs.length - 1]! * 2);

    // Backward through the pool: the gradient of Σ pool(x) is 1 at each window's maximum, 0 elsewhere.
    tidy(() => sum(maxPool2x2(x)).backward());
    const g = await x.grad!.toArray();
    let ones = 0;
    for (let k = 0; k < g.length; k++) ones += g[k]!;
    expect(ones).toBe(N * C * (H / 2) * (W / 2));
    for (const t of [x, w, b, y, pooled, doubled]) t.dispose();
  });

  it('the transposed convolution splits a 168 MB output (forward, dgrad, wgrad)', async () => {
    // [1, 6, 512, 512] -> [1, 40, 1024, 1024]: the output and its gradient exceed one binding; the input does not.
    const [C, Co, H, W] = [6, 40, 512, 512];
    const Ho = 2 * H;
    const Wo = 2 * W;
    expect(Co * Ho * Wo * 4).toBeGreaterThan(device().limits.maxStorageBufferBindingSize);
    const rng = new Rng(11);
    const hash = (i: number, k: number) => ((Math.imul(i + k, 2654435761) >>> 8) / 2 ** 24) * 2 - 1;
    const xs = Float32Array.from({ length: C * H * W }, (_, i) => hash(i, 1));
    const gs = Float32Array.from({ length: Co * Ho * Wo }, (_, i) => hash(i, 7) * 0.01);
    const ws = Float32Array.from({ length: C * Co * 9 }, () => rng.uniform(-0.2, 0.2));
    const x = tensor(xs, [1, C, H, W], { requiresGrad: true });
    const w = tensor(ws, [C, Co, 3, 3], { requiresGrad: true });
    const gy = tensor(gs, [1, Co, Ho, Wo]);
    const y = tidy(() => convTranspose3x3s2(x, w, null));
    y.backward(gy);
    const [yv, gx, gw] = await Promise.all([y.toArray(), x.grad!.toArray(), w.grad!.toArray()]);
    // The (input pixel, tap) pairs that reach output (oy, ox): oy = 2·iy − 1 + ky.
    const taps = (o: number, n: number) =>
      [0, 1, 2].map((k) => ({ k, i: (o + 1 - k) / 2 })).filter(({ i }) => Number.isInteger(i) && i >= 0 && i < n);
    for (let s = 0; s < 100; s++) {
      const co = s === 0 ? Co - 1 : rng.int(Co);
      const oy = s === 0 ? Ho - 1 : rng.int(Ho);
      const ox = s === 0 ? Wo - 1 : rng.int(Wo);
      let ref = 0;
      for (let ci = 0; ci < C; ci++)
        for (const ty of taps(oy, H))
          for (const tx of taps(ox, W))
            ref += xs[(ci * H + ty.i) * W + tx.i]! * ws[((ci * Co + co) * 3 + ty.k) * 3 + tx.k]!;
      // At most 6·4 products of |x·w| ≤ 0.2.
      expect(Math.abs(yv[(co * Ho + oy) * Wo + ox]! - ref)).toBeLessThan(1e-5);
      const ci = rng.int(C);
      const iy = rng.int(H);
      const ix = rng.int(W);
      let gref = 0;
      for (let c2 = 0; c2 < Co; c2++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const gy2 = 2 * iy - 1 + ky;
            const gx2 = 2 * ix - 1 + kx;
            if (gy2 >= 0 && gx2 >= 0) gref += gs[(c2 * Ho + gy2) * Wo + gx2]! * ws[((ci * Co + c2) * 3 + ky) * 3 + kx]!;
          }
      // 360 products of |g·w| ≤ 0.002.
      expect(Math.abs(gx[(ci * H + iy) * W + ix]! - gref)).toBeLessThan(1e-5);
    }
    // A few weight-gradient elements: each sums 262 144 products (|x·g| ≤ 0.01) in float32.
    for (let s = 0; s < 3; s++) {
      const ci = rng.int(C);
      const co = s === 0 ? Co - 1 : rng.int(Co);
      const t = rng.int(9);
      const [ky, kx] = [Math.floor(t / 3), t % 3];
      let ref = 0;
      let mag = 0;
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++) {
          const oy = 2 * iy - 1 + ky;
          const ox = 2 * ix - 1 + kx;
          if (oy < 0 || ox < 0) continue;
          const v = xs[(ci * H + iy) * W + ix]! * gs[(co * Ho + oy) * Wo + ox]!;
          ref += v;
          mag += Math.abs(v);
        }
      expect(Math.abs(gw[((ci * Co + co) * 3 + ky) * 3 + kx]! - ref)).toBeLessThan(1e-5 * mag);
    }
    for (const t of [x, w, gy, y]) t.dispose();
  });
});
