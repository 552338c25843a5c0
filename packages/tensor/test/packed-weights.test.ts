/**
 * Weights packed for the subgroup kernels are kept across calls (Device.persistent, keyed by Tensor.contentKey)
 * and must be remade whenever the weight is written: by writeData, by an Adam step. Checked against the same
 * convolution on a fresh copy of the weight (its own storage, so nothing cached): the results must be identical,
 * bit for bit, since the same kernels run on the same values.
 */
import {
  Adam,
  conv3x3,
  convTranspose3x3s2,
  noGrad,
  rand,
  type Tensor,
  tensor,
  tidy,
  writeData,
} from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';

describe('packed weights kept across calls', () => {
  const device = useTestDevice();
  const fresh = async (w: Tensor) => tensor(await w.toArray(), w.shape);
  const ops = [
    { name: 'conv3x3', op: conv3x3, x: [2, 6, 9, 7], w: [20, 6, 3, 3] },
    { name: 'convTranspose3x3s2', op: convTranspose3x3s2, x: [1, 20, 5, 6], w: [20, 6, 3, 3] },
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
});
