/**
 * tuneModelKernels: the problems of a model's training step, a budget-limited run that a second run continues
 * from the cache, and the refusal of sizes the model cannot take.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ARCHITECTURE, tuneModelKernels } from '@ternausnet/model';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';

describe('tuneModelKernels', () => {
  const device = useTestDevice();
  const dir = mkdtempSync(join(tmpdir(), 'tune-model-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds UNet11 training-step problems; a spent budget saves nothing; sizes must be multiples of 32', async () => {
    const cachePath = join(dir, 'kernel-tuning.json');
    const r = await tuneModelKernels(DEFAULT_ARCHITECTURE, { sizes: [32], budgetMs: 0, cachePath, device: device() });
    // 14 conv3x3 layers (forward, dgrad but for the image, wgrad) and 5 transposed ones (3 passes), less the
    // 3 passes of encoder.18, which at 32² has encoder.16's shape (512 channels at 2×2) and so its key.
    expect(r.problems).toBe(14 * 3 - 1 + 5 * 3 - 3);
    expect(r.tuned).toEqual([]);
    expect(r.untuned).toHaveLength(r.problems);
    expect(r.fromCache).toBe(0);
    expect(device().kernelChoices.size).toBe(0);
    await expect(tuneModelKernels(DEFAULT_ARCHITECTURE, { sizes: [48], cachePath, device: device() })).rejects.toThrow(
      /multiples of 32 .* got 48/,
    );
  });
});
