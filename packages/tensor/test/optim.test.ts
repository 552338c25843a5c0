/** Adam against a float64 transcription of torch.optim.Adam, and the parameter/gradient arenas it builds. */
import { Adam, mul, sigmoidThreshold, sum, tensor, tidy } from '@ternausnet/tensor';
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
    z.dispose();
  });
});
