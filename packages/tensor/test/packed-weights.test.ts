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

  it(`conv3x3 forward (CPU default 'winograd-inference'): Winograd for calls that ask no gradient (TEST_SEED=${SEED})`, async (test) => {
    const row = variantRows('conv3x3').find((r) => r.pass === 'forward' && r.name === 'winograd-inference')!;
    const problem =
      variantProblem(device(), row) ??
      (device().features.has('timestamp-query') ? null : "no 'timestamp-query' to profile");
    if (problem) {
      console.log(`skipped: ${problem}`);
      test.skip(problem);
      return;
    }
    device().variantOverrides = { 'conv3x3.forward': 'winograd-inference' };
    // Two input segments (32 + 40 channels), an 18×22 plane (≥ 16², W not a multiple of 4), 72 output channels
    // (a partial block of 16): every part of the Winograd path at a small shape that takes it.
    const rng = new Rng(SEED);
    const refs = [[1, 32, 18, 22], [1, 40, 18, 22], [72, 72, 3, 3], [72]].map((s) => randomRef(s, rng));
    const attrs = { segments: 2, bias: true, relu: true };
    const [x1, x2, w, b] = refs.map((r) => toGpu(r)) as [Tensor, Tensor, Tensor, Tensor];
    w.requiresGrad = true;
    const expected = registeredOps()
      .get('conv3x3')!
      .reference.forward(refs, attrs as never).data;
    /** One forward (recording a gradient or not): which paths its dispatches took; its output against float64. */
    const forward = async (what: string, inference = true) => {
      let y: Tensor | null = null;
      const run = () => conv3x3([x1, x2], w, b, { relu: true });
      const labels = (
        await device().profile(() => {
          y = inference ? noGrad(run) : run();
        })
      ).map((d) => d.label);
      // Each output sums 648 products of values in [-1, 1]; float32 (and the Winograd transforms' few extra
      // roundings) stay far inside 1e-3 of it, while any wrong tap or channel is off by O(1).
      expectClose(await y!.toArray(), expected, { atol: 1e-3, rtol: 1e-4 }, `${what} (TEST_SEED=${SEED})`);
      y!.dispose();
      // Every dispatch of the conv names the kernel that ran under the row.
      const convLabels = labels.filter((l) => l.startsWith('conv3x3Forward:'));
      const kernel = inference ? 'winograd' : 'subgroup';
      expect(convLabels.length).toBeGreaterThan(0);
      expect(
        convLabels.every((l) => l.startsWith(`conv3x3Forward:winograd-inference/${kernel} `)),
        convLabels.join('; '),
      ).toBe(true);
      return {
        winograd: labels.some((l) => l.endsWith('(winograd input)')),
        transform: labels.some((l) => l.startsWith('conv3x3 winograd forward weights')),
      };
    };
    try {
      // A call whose gradient will be asked for (a training step) takes the subgroup kernel, always.
      expect(await forward('recording a gradient', false)).toEqual({ winograd: false, transform: false });
      expect(await forward('inference')).toEqual({ winograd: true, transform: true });
      expect(await forward('inference, weight unchanged: U kept')).toEqual({ winograd: true, transform: false });
      expect(await forward('recording a gradient again', false)).toEqual({ winograd: false, transform: false });
      writeData(w, await w.toArray());
      expect(await forward('inference after writeData (new version)')).toEqual({ winograd: true, transform: true });
      // Below 16² the subgroup kernel runs in inference too.
      const xs = toGpu(randomRef([1, 72, 12, 15], rng));
      const smallLabels = (
        await device().profile(() => {
          noGrad(() => tidy(() => void conv3x3(xs, w, b, { relu: true })));
        })
      ).map((d) => d.label);
      expect(smallLabels.some((l) => l.endsWith('(winograd input)'))).toBe(false);
      xs.dispose();
    } finally {
      device().variantOverrides = {};
      for (const t of [x1, x2, w, b]) t.dispose();
    }
  });
});
