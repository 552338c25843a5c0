/** The results report: the verdict says what the numbers show, the plot is by Adam step. */
import { describe, expect, it } from 'vitest';
import { jaccardPlotSvg, type SchemeResult, verdict } from '../src/report.ts';
import type { EpochRecord } from '../src/trainer.ts';

function history(ious: number[], predicted = 0.2): EpochRecord[] {
  return ious.map((valIoU, i) => ({
    epoch: i + 1,
    step: 25 * (i + 1),
    trainLoss: 1,
    valLoss: 1,
    valIoU,
    valIoUGlobal: valIoU,
    valPredictedFraction: predicted,
    valTrueFraction: 0.15,
    emptyBatches: 0,
    seconds: 1,
    imagesPerSecond: 1,
  }));
}

describe('report', () => {
  it('names the winner and the margin, and whether the paper ordering holds at the end and early', () => {
    const results: SchemeResult[] = [
      { scheme: 'lecun', history: history([0.1, 0.3]) },
      { scheme: 'imagenet', title: 'Stand-in encoder', history: history([0.2, 0.5]) },
      { scheme: 'pretrained', history: history([0.05, 0.4]) },
    ];
    const v = verdict(results);
    expect(v).toMatch(
      /^Stand-in encoder ends best \(val IoU 0\.500\), 0\.100 ahead of Pre-trained on Carvana \(0\.400\)\./,
    );
    expect(v).toMatch(/holds at the end and does not hold at the first evaluation \(step 25: lecun 0\.100/);
    expect(v).not.toMatch(/constant mask/);
  });

  it('flags a scheme that ends on a constant mask', () => {
    const v = verdict([
      { scheme: 'lecun', history: history([0.1, 0.11], 1) },
      { scheme: 'imagenet', history: history([0.3, 0.6]) },
    ]);
    expect(v).toMatch(/LeCun uniform ends on a constant mask \(100\.0 % predicted positive\)/);
    expect(v).toMatch(/ordering .* holds at the end and holds at the first evaluation/);
  });

  it('plots against Adam steps', () => {
    const svg = jaccardPlotSvg([{ scheme: 'lecun', history: history([0.1, 0.2, 0.3, 0.4]) }]);
    expect(svg).toMatch(/>Adam steps</);
    expect(svg).toMatch(/>100</);
    expect(svg).toMatch(/final 0\.400/);
  });
});
