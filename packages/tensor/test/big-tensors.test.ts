/**
 * Tensors larger than one storage binding (maxStorageBufferBindingSize, 128 MiB on lavapipe): the kernels
 * must split the work, never fail silently. [1, 40, 1024, 1024] float32 is 168 MB. Checked at sampled elements
 * against float64 computations on the CPU (the full reference would take minutes).
 */
import { add, conv3x3, maxPool2x2, Rng, sum, tensor, tidy } from '@ternausnet/tensor';
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
});
