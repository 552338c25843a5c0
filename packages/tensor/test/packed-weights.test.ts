/**
 * Weights packed for the subgroup kernels are kept across calls (Device.persistent, keyed by Tensor.contentKey)
 * and must be remade whenever the weight is written: by writeData, by an Adam step. Checked against the same
 * convolution on a fresh copy of the weight (its own storage, so nothing cached): the results must be identical,
 * bit for bit, since the same kernels run on the same values.
 */
import { variantProblem, variantRows } from '@ternausnet/kernels-wgsl';
import {
  Adam,
  conv3x3,
  convTranspose3x3s2,
  noGrad,
  rand,
  registeredOps,
  type Tensor,
  tensor,
  tidy,
  writeData,
} from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, Rng, randomRef, toGpu, useTestDevice } from '../../../test/support/gpu.ts';

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 1e9));

describe('packed weights kept across calls', () => {
  const device = useTestDevice();
  const fresh = async (w: Tensor) => tensor(await w.toArray(), w.shape);
  const ops = [
    // A plane over 32²: training packs there too (smaller ones read the weights in place, tested below).
    { name: 'conv3x3', op: conv3x3, x: [2, 6, 33, 35], w: [20, 6, 3, 3] },
    { name: 'convTranspose3x3s2', op: convTranspose3x3s2, x: [1, 20, 33, 34], w: [20, 6, 3, 3] },
  ] as const;

  for (const { name, op, x: xShape, w: wShape } of ops) {
    it(`${name}: forward and input gradient follow writeData and Adam steps of the weight`, async () => {
      const x = rand([...xShape], { seed: 1, low: -1, high: 1, requiresGrad: true });
      const w = rand([...wShape], { seed: 2, low: -1, high: 1, requiresGrad: true });
      const opt = new Adam([w], { lr: 0.1 });
      /** Output and input gradient of op(x, weight), each a fresh array. */
      const run = async (weight: Tensor) => {
        const [y, gx] = tidy(() => {
          const y = op(x, weight, null);
          y.sum().backward();
          const gx = x.grad!;
          x.grad = null;
          return [y.detach(), gx];
        });
        const out = [await y.toArray(), await gx.toArray()];
        for (const t of [y, gx]) t.dispose();
        return out;
      };
      const check = async (what: string) => {
        const copy = await fresh(w);
        copy.requiresGrad = true;
        expect(await run(w), what).toEqual(await run(copy));
        copy.dispose();
      };
      await check('first use');
      const kept = device().stats().persistentBuffers;
      expect(kept).toBeGreaterThan(0); // the packing is kept ...
      await check('second use');
      expect(device().stats().persistentBuffers).toBe(kept); // ... and reused, not repacked into new buffers

      writeData(
        w,
        Float32Array.from({ length: w.size }, (_, i) => Math.sin(i)),
      );
      await check('after writeData');

      opt.zeroGrad();
      tidy(() => {
        const y = op(x, w, null);
        y.mul(y).sum().backward();
      });
      opt.step();
      x.grad?.dispose();
      x.grad = null;
      await check('after an Adam step');

      // Freed with the storage they derive from: here the optimizer's parameter arena.
      const before = device().stats().persistentBuffers;
      opt.dispose();
      w.dispose();
      expect(device().stats().persistentBuffers).toBeLessThan(before);

      const plain = rand([...wShape], { seed: 3 });
      noGrad(() => tidy(() => op(x, plain, null)));
      const withPlain = device().stats().persistentBuffers;
      expect(withPlain).toBeGreaterThan(0);
      plain.dispose();
      expect(device().stats().persistentBuffers).toBeLessThan(withPlain);
      x.dispose();
    });
  }

  for (const { name, op, w: wShape } of [
    { name: 'conv3x3', op: conv3x3, w: [20, 6, 3, 3] },
    { name: 'convTranspose3x3s2', op: convTranspose3x3s2, w: [6, 20, 3, 3] },
  ] as const) {
    it(`${name} on planes ≤ 32²: a training call reads the weights in place, inference keeps a packing; same bits`, async () => {
      const x = rand([2, 6, 9, 7], { seed: 4, low: -1, high: 1 });
      const w = rand([...wShape], { seed: 5, low: -1, high: 1, requiresGrad: true });
      const before = device().stats().persistentBuffers;
      const recorded = tidy(() => op(x, w, null).detach());
      expect(device().stats().persistentBuffers).toBe(before); // no packing made
      const inferred = noGrad(() => tidy(() => op(x, w, null)));
      expect(device().stats().persistentBuffers).toBeGreaterThan(before); // a packing, kept
      expect(await recorded.toArray()).toEqual(await inferred.toArray());
      for (const t of [x, w, recorded, inferred]) t.dispose();
      expect(device().stats().persistentBuffers).toBe(before);
    });
  }

  it(`conv3x3 (CPU default 'winograd-by-shape'): the kernel each call takes, and its result (TEST_SEED=${SEED})`, async (test) => {
    const row = variantRows('conv3x3').find((r) => r.pass === 'forward' && r.name === 'winograd-by-shape')!;
    const problem =
      variantProblem(device(), row) ??
      (device().features.has('timestamp-query') ? null : "no 'timestamp-query' to profile");
    if (problem) {
      console.log(`skipped: ${problem}`);
      test.skip(problem);
      return;
    }
    device().variantOverrides = { conv3x3: 'winograd-by-shape' };
    const rng = new Rng(SEED);
    const conv = registeredOps().get('conv3x3')!.reference;
    const attrs = { segments: 2, bias: true, relu: true } as never;
    // Two input segments (32 + 40 channels) and 72 output channels (a partial block of 16): every part of the
    // Winograd path. Each output sums 648 products of values in [-1, 1]: float32 and F(4×4)'s transforms
    // (16× a plain sum's rounding, the row's errorGrowth) stay far inside 1e-3 of it; a wrong tap is off by O(1).
    const [w72, b72, w40, b40] = [[72, 72, 3, 3], [72], [40, 72, 3, 3], [40]].map((s) => toGpu(randomRef(s, rng))) as [
      Tensor,
      Tensor,
      Tensor,
      Tensor,
    ];
    for (const w of [w72, w40]) w.requiresGrad = true;
    /** Two input segments (32 + 40 channels) on an H×W plane: float64 values and their float32 tensors. */
    const problemAt = (H: number, W: number) => {
      const refs = [
        [1, 32, H, W],
        [1, 40, H, W],
      ].map((shape) => randomRef(shape, rng));
      return { refs, xs: refs.map((r) => toGpu(r)) };
    };
    /**
     * One conv (recording a gradient and running its input gradient, or not): the kernels its forward and dgrad
     * dispatches name, whether the forward's U was made, whether the call kept new buffers, and its output and
     * input gradient against float64.
     */
    const run = async (what: string, p: ReturnType<typeof problemAt>, inference: boolean, [w, b] = [w72, b72]) => {
      const [x1, x2] = p.xs as [Tensor, Tensor];
      const wRef = { shape: [...w.shape], data: Float64Array.from(await w.toArray()) };
      const bRef = { shape: [...b.shape], data: Float64Array.from(await b.toArray()) };
      const refs = [...p.refs, wRef, bRef];
      const expected = conv.forward(refs, attrs).data;
      const gy = randomRef([1, w.shape[0]!, x1.shape[2]!, x1.shape[3]!], rng);
      const expectedGrads = conv.backward(refs, attrs, gy);
      for (const x of [x1, x2]) x.requiresGrad = !inference;
      let y: Tensor | null = null;
      const keptBefore = device().stats().persistentBuffers;
      const labels = (
        await device().profile(() => {
          const forward = () => conv3x3([x1, x2], w, b, { relu: true });
          if (inference) y = noGrad(forward);
          else {
            y = forward();
            y.backward(toGpu(gy));
          }
        })
      ).map((d) => d.label);
      expectClose(await y!.toArray(), expected, { atol: 1e-3, rtol: 1e-4 }, `${what} (TEST_SEED=${SEED})`);
      if (!inference) {
        for (const [k, x] of [x1, x2].entries()) {
          const g = expectedGrads[k]!.data;
          expectClose(await x.grad!.toArray(), g, { atol: 1e-3, rtol: 1e-4 }, `${what} dgrad ${k} (TEST_SEED=${SEED})`);
          x.grad!.dispose();
          x.grad = null;
        }
        w.grad?.dispose();
        w.grad = null;
        b.grad?.dispose();
        b.grad = null;
      }
      y!.dispose();
      const kernels = (pass: string) => [
        ...new Set(
          labels
            .filter((l) => l.startsWith(`conv3x3${pass}:`))
            .map((l) => /^conv3x3\w+:winograd-by-shape\/([\w-]+) /.exec(l)?.[1] ?? `unnamed: ${l}`),
        ),
      ];
      return {
        forward: kernels('Forward'),
        dgrad: kernels('Dgrad'),
        transform: labels.some((l) => l.startsWith('conv3x3 winograd forward weights')),
        kept: device().stats().persistentBuffers > keptBefore,
      };
    };
    const p18 = problemAt(18, 22); // ≥ 16², < 32²; W not a multiple of 4
    const p33 = problemAt(33, 34); // ≥ 32²: a partial tile row and column of F(4×4)'s 4×4 tiles
    try {
      // 16² ≤ plane < 32²: F(2×2). A training call makes U in scratch (not kept: the next Adam update would make it
      // stale); a call that asks no gradient keeps it while the weight is unchanged.
      const f2 = { forward: ['winograd'], dgrad: ['winograd'] };
      const f2Inference = { forward: ['winograd'], dgrad: [] };
      expect(await run('18×22, recording a gradient', p18, false)).toEqual({ ...f2, transform: true, kept: false });
      expect(await run('18×22, inference', p18, true)).toEqual({ ...f2Inference, transform: true, kept: true });
      expect(await run('18×22, inference, U kept', p18, true)).toEqual({
        ...f2Inference,
        transform: false,
        kept: false,
      });
      writeData(w72, await w72.toArray());
      expect(await run('18×22, inference after writeData', p18, true)).toEqual({
        ...f2Inference,
        transform: true,
        kept: false,
      });
      expect(await run('18×22, recording a gradient again', p18, false)).toEqual({
        ...f2,
        transform: true,
        kept: false,
      });
      // ≥ 32²: F(4×4), forward and dgrad.
      expect(await run('33×34, recording a gradient', p33, false)).toEqual({
        forward: ['winograd-f4'],
        dgrad: ['winograd-f4'],
        transform: true,
        kept: false,
      });
      expect(await run('33×34, inference', p33, true)).toEqual({
        forward: ['winograd-f4'],
        dgrad: [],
        transform: true,
        kept: true,
      });
      // Below 16², or with fewer than 64 output channels: the subgroup kernel, with or without a gradient.
      const subgroup = { forward: ['subgroup'], dgrad: ['subgroup'], transform: false };
      const p12 = problemAt(12, 15);
      expect(await run('12×15, recording a gradient', p12, false)).toMatchObject(subgroup);
      expect(await run('12×15, inference', p12, true)).toMatchObject({ ...subgroup, dgrad: [] });
      expect(await run('33×34 → 40 channels, recording a gradient', p33, false, [w40, b40])).toMatchObject(subgroup);
      expect(await run('33×34 → 40 channels, inference', p33, true, [w40, b40])).toMatchObject({
        ...subgroup,
        dgrad: [],
      });
      for (const t of p12.xs) t.dispose();
    } finally {
      device().variantOverrides = {};
      for (const t of [...p18.xs, ...p33.xs, w72, b72, w40, b40]) t.dispose();
    }
  });
});
