/**
 * Validation metrics: IoU (Jaccard index) of binary masks at the paper's 0.3 threshold.
 * - per-image IoU averaged over images (the mean Jaccard, reported as the main number, as the paper's Table);
 * - global IoU: total intersection over total union of the whole validation set (Inria's official metric).
 * An image whose prediction and ground truth are both empty has IoU 1 (a perfect answer), not 0/0.
 */

export interface IoUCounts {
  intersection: number;
  predicted: number;
  truth: number;
}

/** Counts for `images` masks of `pixels` each, from 0/1 predictions and 0/1 truth (row-major, image-major). */
export function iouCounts(
  pred: ArrayLike<number>,
  truth: ArrayLike<number>,
  images: number,
  pixels: number,
): IoUCounts[] {
  if (pred.length !== images * pixels || truth.length !== images * pixels) {
    throw new RangeError(`iouCounts: expected ${images}×${pixels} values, got ${pred.length} and ${truth.length}`);
  }
  const out: IoUCounts[] = [];
  for (let n = 0; n < images; n++) {
    let intersection = 0;
    let predicted = 0;
    let t = 0;
    for (let i = n * pixels; i < (n + 1) * pixels; i++) {
      const p = pred[i]! > 0.5 ? 1 : 0;
      const y = truth[i]! > 0.5 ? 1 : 0;
      intersection += p & y;
      predicted += p;
      t += y;
    }
    out.push({ intersection, predicted, truth: t });
  }
  return out;
}

export function iou(c: IoUCounts): number {
  const union = c.predicted + c.truth - c.intersection;
  return union === 0 ? 1 : c.intersection / union;
}

/** Mean of per-image IoU. */
export function meanIoU(counts: readonly IoUCounts[]): number {
  if (counts.length === 0) return Number.NaN;
  return counts.reduce((s, c) => s + iou(c), 0) / counts.length;
}

/** IoU of the summed counts. */
export function globalIoU(counts: readonly IoUCounts[]): number {
  const total = counts.reduce(
    (s, c) => ({
      intersection: s.intersection + c.intersection,
      predicted: s.predicted + c.predicted,
      truth: s.truth + c.truth,
    }),
    { intersection: 0, predicted: 0, truth: 0 },
  );
  return iou(total);
}
