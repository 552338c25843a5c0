/**
 * UNet16's new ops on tensors larger than one storage binding (128 MiB on lavapipe): bilinear upsampling whose
 * output, and a 4×4 transposed convolution whose input, exceed it, so both kernels run split (by plane chunks,
 * and by input-channel chunks that accumulate). Sampled elements against float64 on the CPU, borders and the
 * last elements (the last chunk) included.
 */
import { convTranspose4x4s2, Rng, tensor, tidy, upsampleBilinear2x } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';

/** PyTorch's bilinear ×2 source taps along an axis of length n (align_corners=False). */
function taps(o: number, n: number): [number, number, number, number] {
  const s = Math.max(0, (o + 0.5) / 2 - 0.5);
  const i0 = Math.min(Math.floor(s), n - 1);
  return [i0, Math.min(i0 + 1, n - 1), 1 - (s - i0), s - i0];
}

const hashed = (i: number) => ((Math.imul(i + 1, 2654435761) >>> 8) / 2 ** 24) * 2 - 1;

describe('UNet16 ops over the binding limit', () => {
  const device = useTestDevice();

  it('upsampleBilinear2x: a 168 MB output and its gradient', async () => {
    const [C, H, W] = [10, 1024, 1024];
    expect(C * 4 * H * W * 4).toBeGreaterThan(device().limits.maxStorageBufferBindingSize);
    const xs = Float32Array.from({ length: C * H * W }, (_, i) => hashed(i));
    const x = tensor(xs, [1, C, H, W], { requiresGrad: true });
    const y = tidy(() => upsampleBilinear2x(x));
    const yv = await y.toArray();
    // The gradient of Σ y·g with g = y's own values: each input gathers its ≤ 16 outputs.
    y.backward(tensor(yv, y.shape));
    const gx = await x.grad!.toArray();
    const rng = new Rng(3);
    const Ho = 2 * H;
    const Wo = 2 * W;
    const up = (c: number, oy: number, ox: number) => {
      const [y0, y1, wy0, wy1] = taps(oy, H);
      const [x0, x1, wx0, wx1] = taps(ox, W);
      const at = (iy: number, ix: number) => xs[(c * H + iy) * W + ix]!;
      return wy0 * (wx0 * at(y0, x0) + wx1 * at(y0, x1)) + wy1 * (wx0 * at(y1, x0) + wx1 * at(y1, x1));
    };
    const weight = (o: number, i: number, n: number) => {
      const [i0, i1, w0, w1] = taps(o, n);
      return (i0 === i ? w0 : 0) + (i1 === i ? w1 : 0);
    };
    for (let s = 0; s < 300; s++) {
      const c = s < 4 ? C - 1 : rng.int(C);
      const oy = s < 4 ? [0, Ho - 1, 0, Ho - 1][s]! : rng.int(Ho);
      const ox = s < 4 ? [0, 0, Wo - 1, Wo - 1][s]! : rng.int(Wo);
      expect(Math.abs(yv[(c * Ho + oy) * Wo + ox]! - up(c, oy, ox))).toBeLessThan(1e-6);
      const iy = s < 4 ? [0, H - 1, 0, H - 1][s]! : rng.int(H);
      const ix = s < 4 ? [0, 0, W - 1, W - 1][s]! : rng.int(W);
      let ref = 0;
      for (let oy2 = 2 * iy - 1; oy2 <= 2 * iy + 2; oy2++)
        for (let ox2 = 2 * ix - 1; ox2 <= 2 * ix + 2; ox2++) {
          if (oy2 < 0 || oy2 >= Ho || ox2 < 0 || ox2 >= Wo) continue;
          ref += weight(oy2, iy, H) * weight(ox2, ix, W) * up(c, oy2, ox2);
        }
      expect(Math.abs(gx[(c * H + iy) * W + ix]! - ref)).toBeLessThan(1e-5);
    }
    for (const t of [x, y]) t.dispose();
  });

  it('convTranspose4x4s2: a 168 MB input split into accumulating channel chunks', async () => {
    const [C, H, W, cout] = [40, 1024, 1024, 2];
    expect(C * H * W * 4).toBeGreaterThan(device().limits.maxStorageBufferBindingSize);
    const xs = Float32Array.from({ length: C * H * W }, (_, i) => hashed(i));
    const rng = new Rng(5);
    const ws = Float32Array.from({ length: C * cout * 16 }, () => rng.uniform(-0.1, 0.1));
    const bs = Float32Array.from([0.25, -0.5]);
    const x = tensor(xs, [1, C, H, W]);
    const w = tensor(ws, [C, cout, 4, 4]);
    const b = tensor(bs, [cout]);
    const y = tidy(() => convTranspose4x4s2(x, w, b));
    const yv = await y.toArray();
    const Ho = 2 * H;
    const Wo = 2 * W;
    for (let s = 0; s < 200; s++) {
      const co = rng.int(cout);
      const oy = s < 4 ? [0, Ho - 1, 0, Ho - 1][s]! : rng.int(Ho);
      const ox = s < 4 ? [0, 0, Wo - 1, Wo - 1][s]! : rng.int(Wo);
      let ref = bs[co]!;
      for (let ci = 0; ci < C; ci++)
        for (let ky = 0; ky < 4; ky++) {
          if ((oy + 1 - ky) % 2 !== 0) continue;
          const iy = (oy + 1 - ky) / 2;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < 4; kx++) {
            if ((ox + 1 - kx) % 2 !== 0) continue;
            const ix = (ox + 1 - kx) / 2;
            if (ix < 0 || ix >= W) continue;
            ref += xs[(ci * H + iy) * W + ix]! * ws[((ci * cout + co) * 4 + ky) * 4 + kx]!;
          }
        }
      // ≤ 160 products of |x·w| ≤ 0.1: float32 rounding stays far below 1e-4.
      expect(Math.abs(yv[(co * Ho + oy) * Wo + ox]! - ref)).toBeLessThan(1e-4);
    }
    for (const t of [x, w, b, y]) t.dispose();
  });
});
