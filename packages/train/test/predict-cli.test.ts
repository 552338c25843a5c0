/** `ternausnet predict`: a PNG in, the mask PNG and the probabilities tensor out, equal to the library's predict(). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predict, readSafetensors, saveWeights, UNet11 } from '@ternausnet/model';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { expectClose, useTestDevice } from '../../../test/support/gpu.ts';
import { image } from '../../../test/support/images.ts';
import { cliArgs, ternausnet } from './cli.ts';

describe('ternausnet predict', () => {
  useTestDevice();

  it('writes the mask PNG and the probabilities tensor [1, H, W]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'predict-'));
    const model = new UNet11({ seed: 8 });
    const weights = join(dir, 'w.safetensors');
    await saveWeights(model, weights);
    const img = image(70, 40, 9);
    const input = join(dir, 'in.png');
    await sharp(Buffer.from(img.data), { raw: { width: 70, height: 40, channels: 3 } })
      .png()
      .toFile(input);
    const want = await predict(model, img, { threshold: 0.4 });
    model.dispose();
    const mask = join(dir, 'mask.png');
    const probabilities = join(dir, 'p.safetensors');
    const r = await ternausnet(cliArgs('predict', { weights, input, out: mask, threshold: 0.4, probabilities }));
    expect(r.code, r.out).toBe(0);
    const t = (await readSafetensors(probabilities)).tensors.get('probabilities')!;
    expect(t.shape).toEqual([1, 40, 70]);
    expectClose(t.toFloat32(), want.probabilities, { atol: 1e-6, rtol: 0 }, 'CLI probabilities');
    const { data, info } = await sharp(mask).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([70, 40]);
    for (let i = 0; i < want.mask.length; i++) expect(data[i * info.channels]! > 0 ? 1 : 0).toBe(want.mask[i]);

    const bad = await ternausnet(cliArgs('predict', { weights: join(dir, 'missing.safetensors'), input, out: mask }));
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/missing\.safetensors/);
  });
});
