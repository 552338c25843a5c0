/**
 * The weighted loss L = α·H − β·log J (H: mean BCE with logits, J: batch soft Jaccard), fused in two kernels,
 * and the sigmoid-threshold masks used for the IoU metric. The authors' `LossBinary` weighting of it is the model
 * package's (ternausnet/src/loss.ts).
 */
import { bceJaccardBackward, bceJaccardForward, JACCARD_EPS } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import { Tensor } from '../tensor.ts';
import { mapTensors } from './elementwise.ts';
import { defineOp } from './registry.ts';
import { deviceOf, output, sameShape } from './util.ts';

export interface BceJaccardOptions {
  /** α, the weight of the BCE term (default 1). */
  bceWeight?: number;
  /** β, the weight of the −log J term (default 1). */
  jaccardWeight?: number;
}

interface Attrs {
  bceWeight: number;
  jaccardWeight: number;
}

const lossOp = defineOp<Attrs>({
  name: 'bceJaccardLoss',
  inputs: ['logits', 'target'],
  apply: ([z, t], attrs) => {
    if (!sameShape(z!.shape, t!.shape)) {
      throw new RangeError(
        `bceJaccardLoss: logits ${z!.describe()} and target ${t!.describe()} must have the same shape`,
      );
    }
    const device = deviceOf('bceJaccardLoss', [z!, t!]);
    const stats = output(device, [5], 'bceJaccardLoss stats');
    bceJaccardForward(device, {
      logits: z!.rangeFor('bceJaccardLoss'),
      target: t!.rangeFor('bceJaccardLoss'),
      count: z!.size,
      stats: stats.rangeFor('bceJaccardLoss'),
      ...attrs,
    });
    // The loss is element 0 of the stats buffer: a scalar view, no copy.
    const loss = new Tensor(stats.storageFor('bceJaccardLoss').view(0, 4), []);
    const result = record(
      'bceJaccardLoss',
      [z!, t!],
      loss,
      (gl, [sz, st, ss]) => {
        const gz = output(device, sz!.shape, 'bceJaccardLoss backward');
        bceJaccardBackward(device, {
          logits: sz!.rangeFor('bceJaccardLoss backward'),
          target: st!.rangeFor('bceJaccardLoss backward'),
          count: sz!.size,
          stats: ss!.rangeFor('bceJaccardLoss backward'),
          gradLoss: gl.rangeFor('bceJaccardLoss backward'),
          gradLogits: gz.rangeFor('bceJaccardLoss backward'),
          ...attrs,
        });
        return [gz, null];
      },
      [z!, t!, stats],
    );
    stats.dispose();
    return result;
  },
  reference: {
    forward: ([z, t], attrs) => refTensor([], [refLoss(z!, t!, attrs).loss]),
    backward: ([z, t], attrs, gy) => {
      const { I, U, M } = refLoss(z!, t!, attrs);
      const g = gy.data[0]!;
      const gz = refTensor(z!.shape);
      for (let i = 0; i < M; i++) {
        const p = 1 / (1 + Math.exp(-z!.data[i]!));
        const y = t!.data[i]!;
        const dJ = p * (1 - p) * ((1 - y) / (U + JACCARD_EPS) - y / (I + JACCARD_EPS));
        gz.data[i] = g * ((attrs.bceWeight * (p - y)) / M + attrs.jaccardWeight * dJ);
      }
      return [gz, null];
    },
  },
});

function refLoss(z: RefTensor, t: RefTensor, attrs: Attrs) {
  const M = z.data.length;
  let bce = 0;
  let I = 0;
  let P = 0;
  let Y = 0;
  for (let i = 0; i < M; i++) {
    const zi = z.data[i]!;
    const y = t.data[i]!;
    const p = 1 / (1 + Math.exp(-zi));
    bce += Math.max(zi, 0) - zi * y + Math.log1p(Math.exp(-Math.abs(zi)));
    I += p * y;
    P += p;
    Y += y;
  }
  const U = P + Y - I;
  const loss = (attrs.bceWeight * bce) / M - attrs.jaccardWeight * Math.log((I + JACCARD_EPS) / (U + JACCARD_EPS));
  return { loss, I, U, M };
}

/**
 * The paper's loss: L = H − log J, H = mean binary cross-entropy with logits over all pixels of the batch
 * (PyTorch's BCEWithLogitsLoss), J = (Σ p·y + ε) / (Σ p + Σ y − Σ p·y + ε), p = sigmoid(logits), ε = 1e-15.
 * Options weight the two terms (α·H − β·log J). Returns a scalar tensor.
 */
export function bceJaccardLoss(logits: Tensor, target: Tensor, options: BceJaccardOptions = {}): Tensor {
  const bceWeight = options.bceWeight ?? 1;
  const jaccardWeight = options.jaccardWeight ?? 1;
  for (const [k, v] of Object.entries({ bceWeight, jaccardWeight })) {
    if (!Number.isFinite(v)) throw new RangeError(`bceJaccardLoss: ${k} must be finite, got ${v}`);
  }
  return lossOp.apply([logits, target], { bceWeight, jaccardWeight });
}

/** Binary masks: 1 where sigmoid(logits) > threshold (the paper binarises at 0.3), else 0. Not differentiable. */
export function sigmoidThreshold(logits: Tensor, threshold = 0.3): Tensor {
  if (!(threshold > 0 && threshold < 1))
    throw new RangeError(`sigmoidThreshold: threshold must be in (0, 1), got ${threshold}`);
  deviceOf('sigmoidThreshold', [logits]);
  return mapTensors('sigmoidThreshold', [logits], logits.shape, [threshold]);
}
