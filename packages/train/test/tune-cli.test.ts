/**
 * `ternausnet tune` and `--tune`: a budget-limited tuning run saves what it measured, a second run continues from
 * the cache, predict applies the cached choices (and `--tune off` does not), bad values are refused by name.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveWeights, UNet11 } from '@ternausnet/model';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { image } from '../../../test/support/images.ts';
import { cliArgs, ternausnet } from './cli.ts';

describe('ternausnet tune', () => {
  useTestDevice();

  it('tunes within a budget, continues from the cache, and predict uses it unless --tune off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tune-cli-'));
    const cache = join(dir, 'tuning.json');
    // Enough budget for the defaults and a few problems' candidates, not for all 53 (~60 s here).
    const first = await ternausnet(cliArgs('tune', { size: 32, 'tune-budget': 20, 'tune-cache': cache }));
    expect(first.code, first.out).toBe(0);
    const m = /53 kernel problems: (\d+) tuned now .*, 0 from the cache, (\d+) left/.exec(first.out);
    expect(m, first.out).not.toBeNull();
    const tuned = Number(m![1]);
    expect(tuned).toBeGreaterThan(0);
    expect(tuned + Number(m![2])).toBe(53);
    const saved = JSON.parse(readFileSync(cache, 'utf8'));
    expect(Object.keys(saved.entries[0].problems)).toHaveLength(tuned);

    const second = await ternausnet(cliArgs('tune', { size: 32, 'tune-budget': 0, 'tune-cache': cache }));
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(
      new RegExp(`53 kernel problems: 0 tuned now .*, ${tuned} from the cache, ${53 - tuned} left`),
    );

    const model = new UNet11({ seed: 3 });
    const weights = join(dir, 'w.safetensors');
    await saveWeights(model, weights);
    model.dispose();
    const input = join(dir, 'in.png');
    const img = image(40, 32, 5);
    await sharp(Buffer.from(img.data), { raw: { width: 40, height: 32, channels: 3 } })
      .png()
      .toFile(input);
    const out = join(dir, 'mask.png');
    const withCache = await ternausnet(cliArgs('predict', { weights, input, out, 'tune-cache': cache }));
    expect(withCache.code, withCache.out).toBe(0);
    expect(withCache.out).toMatch(/kernel tuning: \d+ tuned choices from .*tuning\.json/);
    const off = await ternausnet(cliArgs('predict', { weights, input, out, 'tune-cache': cache, tune: 'off' }));
    expect(off.code, off.out).toBe(0);
    expect(off.out).not.toMatch(/kernel tuning/);

    const badSize = await ternausnet(cliArgs('tune', { size: 48, 'tune-cache': cache }));
    expect(badSize.code).toBe(1);
    expect(badSize.out).toMatch(/multiples of 32 .*got 48/);
    const badMode = await ternausnet(cliArgs('predict', { weights, input, out, tune: 'sometimes' }));
    expect(badMode.code).toBe(1);
    expect(badMode.out).toMatch(/--tune must be one of cached, auto, off, got 'sometimes'/);
  });
});
