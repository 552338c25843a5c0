/**
 * The authors' training loss, as they wrote it (ternaus/robot-surgery-segmentation, `loss.py`): a weighting of the
 * generic fused BCE − log J op of the tensor package, which knows nothing of TernausNet.
 */
import { bceJaccardLoss, type Tensor } from '@ternausnet/tensor';

/**
 * The authors' `LossBinary(jaccard_weight=w)`: (1 − w)·H − w·log J, H the mean BCE with logits, J the batch soft
 * Jaccard (targets must be 0/1, as theirs are after `targets == 1`). Note that w = 1 drops the BCE term; the
 * paper's loss is `bceJaccardLoss` with both weights 1. Returns a scalar tensor.
 */
export function lossBinary(logits: Tensor, target: Tensor, jaccardWeight: number): Tensor {
  if (!(jaccardWeight >= 0 && jaccardWeight <= 1)) {
    throw new RangeError(
      `lossBinary: jaccardWeight must be in [0, 1] (the BCE term is weighted 1 − jaccardWeight), got ${jaccardWeight}`,
    );
  }
  return bceJaccardLoss(logits, target, { bceWeight: 1 - jaccardWeight, jaccardWeight });
}
