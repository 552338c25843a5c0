/**
 * lossBinary against a float64 transcription of the authors' `LossBinary` (loss.py): forward value, and gradient
 * against central finite differences of that transcription, on fresh random logits and 0/1 targets, for weights
 * that keep both terms, drop the Jaccard term (w = 0) and drop the BCE term (w = 1).
 *
 * Tolerances: the loss sums M float32 terms (BCE and three Jaccard sums), so its error is a few M·2^-24 relative;
 * rtol 1e-4 covers M = 105 with room. Each gradient element is O(1/M) with float32 rounding of the same order
 * relative to it, hence rtol 1e-4 plus atol 1e-7 for elements near zero. The finite differences are float64
 * (h = 1e-5, truncation error O(h²) ≈ 1e-10), far below both.
 */
import { Rng } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, randomRef, toGpu, toRef, useTestDevice } from '../../../test/support/gpu.ts';
import { lossBinary } from '../src/index.ts';

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 1e9));

/** The authors' LossBinary in float64, written from loss.py rather than from our kernel's formula. */
function authorsLossBinary(logits: Float64Array, targets: Float64Array, w: number): number {
  const n = logits.length;
  let nll = 0; // BCEWithLogitsLoss, mean reduction
  for (let i = 0; i < n; i++) {
    const z = logits[i]!;
    const y = targets[i]!;
    nll += -(y * Math.log(1 / (1 + Math.exp(-z))) + (1 - y) * Math.log(1 - 1 / (1 + Math.exp(-z))));
  }
  let loss = ((1 - w) * nll) / n;
  if (w) {
    const eps = 1e-15;
    let intersection = 0;
    let outputs = 0;
    let jaccardTargets = 0;
    for (let i = 0; i < n; i++) {
      const t = targets[i] === 1 ? 1 : 0;
      const p = 1 / (1 + Math.exp(-logits[i]!));
      intersection += p * t;
      outputs += p;
      jaccardTargets += t;
    }
    const union = outputs + jaccardTargets;
    loss -= w * Math.log((intersection + eps) / (union - intersection + eps));
  }
  return loss;
}

describe(`lossBinary (TEST_SEED=${SEED})`, () => {
  useTestDevice();

  for (const w of [0, 0.3, 1]) {
    it(`matches the authors' LossBinary(jaccard_weight=${w}) in value and gradient`, async () => {
      const rng = new Rng(SEED + Math.round(w * 10));
      const shape = [3, 1, 5, 7];
      const z = randomRef(shape, rng, 'any', 3);
      const t = randomRef(shape, rng, 'binary');
      const logits = toGpu(z, true);
      const target = toGpu(t);
      const loss = lossBinary(logits, target, w);
      expect(loss.shape).toEqual([]);
      const want = authorsLossBinary(z.data, t.data, w);
      expectClose((await toRef(loss)).data, [want], { atol: 1e-6, rtol: 1e-4 }, 'loss');

      loss.backward();
      const h = 1e-5;
      const fd = z.data.map((_, i) => {
        const plus = Float64Array.from(z.data);
        const minus = Float64Array.from(z.data);
        plus[i] = plus[i]! + h;
        minus[i] = minus[i]! - h;
        return (authorsLossBinary(plus, t.data, w) - authorsLossBinary(minus, t.data, w)) / (2 * h);
      });
      expectClose((await toRef(logits.grad!)).data, fd, { atol: 1e-7, rtol: 1e-4 }, 'd loss / d logits');
      for (const x of [loss, logits.grad!, logits, target]) x.dispose();
    });
  }

  it('rejects a weight outside [0, 1] with the reason', () => {
    const z = toGpu({ shape: [1, 1, 2, 2], data: Float64Array.from([0.5, -1, 2, 0.1]) });
    for (const w of [-0.1, 1.5, Number.NaN]) {
      expect(() => lossBinary(z, z, w)).toThrow(/jaccardWeight must be in \[0, 1\].*got/);
    }
    z.dispose();
  });
});
