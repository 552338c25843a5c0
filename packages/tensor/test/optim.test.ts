/** Adam against a float64 transcription of torch.optim.Adam, and the parameter/gradient arenas it builds. */
import { adamUpdate } from '@ternausnet/kernels-wgsl';
import { Adam, getDevice, mul, sigmoidThreshold, sum, tensor, tidy } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, Rng, randomRef, toGpu, useTestDevice } from '../../../test/support/gpu.ts';

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 1e9));

/** torch.optim.Adam's single-tensor update, in float64. */
function refAdam(
  p: Float64Array,
  grads: Float64Array[],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number },
): Float64Array {
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const theta = p.slice();
  grads.forEach((gStep, t) => {
    const step = t + 1;
    const bc1 = 1 - o.b1 ** step;
    const bc2 = 1 - o.b2 ** step;
    for (let i = 0; i < p.length; i++) {
      const g = gStep[i]! + o.wd * theta[i]!;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g * g;
      theta[i] = theta[i]! - ((o.lr / bc1) * m[i]!) / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + o.eps);
    }
  });
  return theta;
}

describe(`Adam (TEST_SEED=${SEED})`, () => {
  useTestDevice();

  for (const wd of [0, 0.01]) {
    it(`matches torch.optim.Adam over 3 steps (weight decay ${wd}), several parameter tensors`, async () => {
      const rng = new Rng(SEED);
      const shapes = [[5, 3, 3, 3], [5], [7, 13], [1]];
      const refs = shapes.map((s) => randomRef(s, rng));
      const params = refs.map((r) => toGpu(r, true));
      const opt = new Adam(params, { lr: 0.01, weightDecay: wd });
      // Gradients are set through backward of Σ c·p with random c (dL/dp = c), like a real training step.
      const coeffs = [0, 1, 2].map(() => shapes.map((s) => randomRef(s, rng)));
      for (let t = 0; t < 3; t++) {
        opt.zeroGrad();
        tidy(() => {
          const terms = params.map((p, k) => sum(mul(p, toGpu(coeffs[t]![k]!))));
          terms.reduce((a, b) => a.add(b)).backward();
        });
        opt.step();
      }
      for (let k = 0; k < params.length; k++) {
        const expected = refAdam(
          refs[k]!.data,
          coeffs.map((c) => c[k]!.data),
          { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd },
        );
        // Each step is a handful of float32 operations on O(1) values: 1e-6 absolute.
        expectClose(await params[k]!.toArray(), expected, { atol: 2e-6, rtol: 1e-5 }, `param ${k}`);
      }
      expect(opt.stepCount).toBe(3);
      opt.dispose();
      for (const p of params) p.dispose();
    });
  }

  // The kernel on its own, on ranges that do not start at a binding-aligned offset (the arenas above always do):
  // the vec4 variant where the count and offset are multiples of 4, the scalar one elsewhere.
  for (const [count, offset] of [
    [7, 0],
    [12, 3],
    [10, 4],
    [1000, 0],
    [68, 8],
  ] as const) {
    it(`the kernel on ${count} parameters at element offset ${offset}`, async () => {
      const rng = new Rng(SEED + count);
      const [p, g, m, v] = [0, 1, 2, 3].map(() => randomRef([offset + count], rng));
      for (let i = 0; i < v!.data.length; i++) v!.data[i] = Math.abs(v!.data[i]!);
      const [tp, tg, tm, tv] = [p!, g!, m!, v!].map((r) => toGpu(r));
      const range = (t: typeof tp) => {
        const r = t!.rangeFor('test');
        return { buffer: r.buffer, offset: r.offset + offset * 4, size: count * 4 };
      };
      adamUpdate(getDevice(), {
        params: range(tp),
        grads: range(tg),
        m: range(tm),
        v: range(tv),
        count,
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.01,
        step: 3,
      });
      const want = p!.data.slice();
      for (let i = offset; i < offset + count; i++) {
        const gi = g!.data[i]! + 0.01 * p!.data[i]!;
        const mi = 0.9 * m!.data[i]! + 0.1 * gi;
        const vi = 0.999 * v!.data[i]! + 0.001 * gi * gi;
        want[i] = p!.data[i]! - ((0.01 / (1 - 0.9 ** 3)) * mi) / (Math.sqrt(vi) / Math.sqrt(1 - 0.999 ** 3) + 1e-8);
      }
      // Elements before the offset are untouched; the others take one float32 step of O(1) values.
      expectClose(await tp!.toArray(), want, { atol: 2e-6, rtol: 1e-5 }, 'params');
      for (const t of [tp, tg, tm, tv]) t!.dispose();
    });
  }

  it('zeroGrad sets .grad to null; backward overwrites the arena slot; a parameter without gradient steps on momentum', async () => {
    const a = tensor([1, -2, 3], [3], { requiresGrad: true });
    const b = tensor([0.5, 4], [2], { requiresGrad: true });
    const opt = new Adam([a, b], { lr: 0.1 });
    const grad1 = { a: [0.3, -1, 2], b: [-0.7, 0.2] };
    const grad2a = [-0.4, 0.9, 0.1];
    opt.zeroGrad();
    expect([a.grad, b.grad]).toEqual([null, null]);
    tidy(() =>
      sum(mul(a, tensor(grad1.a, [3])))
        .add(sum(mul(b, tensor(grad1.b, [2]))))
        .backward(),
    );
    const slotA = a.grad;
    opt.step();
    opt.zeroGrad();
    expect([a.grad, b.grad]).toEqual([null, null]);
    // Step 2: only a receives a gradient; it must replace step 1's values in the arena, not add to them.
    tidy(() => sum(mul(a, tensor(grad2a, [3]))).backward());
    expect(a.grad).toBe(slotA);
    expect(Array.from(await a.grad!.toArray())).toEqual(Array.from(Float32Array.from(grad2a)));
    expect(b.grad).toBeNull();
    opt.step();
    expect(Array.from(await b.grad!.toArray())).toEqual([0, 0]);
    const o = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0 };
    const wantA = refAdam(Float64Array.from([1, -2, 3]), [Float64Array.from(grad1.a), Float64Array.from(grad2a)], o);
    const wantB = refAdam(Float64Array.from([0.5, 4]), [Float64Array.from(grad1.b), new Float64Array(2)], o);
    expectClose(await a.toArray(), wantA, { atol: 2e-6, rtol: 1e-5 }, 'a');
    expectClose(await b.toArray(), wantB, { atol: 2e-6, rtol: 1e-5 }, 'b');
    opt.dispose();
    expect([a.reservedGrad, b.reservedGrad]).toEqual([null, null]);
    a.dispose();
    b.dispose();
  });

  it('rejects bad hyper-parameters with the value named', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => new Adam(p ? [p] : [], { lr: -1 })).toThrow(/lr must be a finite number ≥ 0, got -1/);
    expect(() => new Adam([p], { betas: [1, 0.9] })).toThrow(/betas must be in \[0, 1\)/);
    expect(() => new Adam([])).toThrow(/no parameters/);
    p.dispose();
  });

  it('sigmoidThreshold binarises at the given probability', async () => {
    const z = tensor([-3, -0.85, -0.84, 0, 2], [5]);
    // sigmoid(-0.847) ≈ 0.3: -0.85 is below the paper's 0.3 threshold, -0.84 above.
    expect(Array.from(await sigmoidThreshold(z).toArray())).toEqual([0, 0, 1, 1, 1]);
    expect(Array.from(await sigmoidThreshold(z, 0.5).toArray())).toEqual([0, 0, 0, 0, 1]);
    expect(() => sigmoidThreshold(z, 1.5)).toThrow(/threshold must be in \(0, 1\), got 1.5/);
    // Eight elements: the vec4 variant of the kernel (five above: the scalar one).
    const z8 = tensor([-3, -0.85, -0.84, 0, 2, 0.1, -0.1, -5], [8]);
    expect(Array.from(await sigmoidThreshold(z8).toArray())).toEqual([0, 0, 1, 1, 1, 1, 1, 0]);
    z.dispose();
    z8.dispose();
  });
});
