/**
 * The stand-in VGG11 file: `ternausnet pretrain-encoder` at a tiny size writes torchvision's layout, and the file
 * loads through the same `--vgg11` path a real torchvision/timm file takes (classifier ignored, a missing
 * `features.N` tensor an error). The shape images are deterministic and every class occurs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUNet11, readSafetensors, StateDictError, writeSafetensors } from '@ternausnet/model';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { generateShapeImage, SHAPE_CLASSES } from '../src/data/shapes.ts';
import { describeVgg11, STAND_IN_DESCRIPTION } from '../src/pretrain-encoder.ts';
import { cliArgs, ternausnet } from './cli.ts';

describe('shape images', () => {
  it('are a function of the seed, draw every class, and are not blank', () => {
    const a = generateShapeImage(42, 32);
    expect(generateShapeImage(42, 32).image).toEqual(a.image);
    expect(generateShapeImage(43, 32).image).not.toEqual(a.image);
    const seen = new Set<number>();
    for (let s = 0; s < 200; s++) {
      const im = generateShapeImage(s, 32);
      seen.add(im.label);
      let min = 255;
      let max = 0;
      for (const v of im.image) [min, max] = [Math.min(min, v), Math.max(max, v)];
      expect(max - min).toBeGreaterThan(40);
    }
    expect(seen.size).toBe(SHAPE_CLASSES.length);
    expect(() => generateShapeImage(1, 4)).toThrow(/size must be an integer ≥ 8/);
  });
});

describe('ternausnet pretrain-encoder', () => {
  useTestDevice();

  it('writes torchvision-named VGG11 weights that --vgg11 loads (classifier ignored, missing features.N refused)', {
    timeout: 600_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'encoder-'));
    const file = join(dir, 'vgg11-tiny.safetensors');
    const r = await ternausnet(
      cliArgs('pretrain-encoder', {
        out: file,
        steps: 2,
        'batch-size': 2,
        'image-size': 32,
        'val-images': 4,
        half: true,
      }),
    );
    expect(r.out).toMatch(/held-out top-1 \d+\.\d %/);
    expect(r.code).toBe(0);
    const f = await readSafetensors(file);
    expect(f.metadata.description).toBe(STAND_IN_DESCRIPTION);
    expect([...f.tensors.keys()].sort()).toEqual(
      [0, 3, 6, 8, 11, 13, 16, 18]
        .flatMap((i) => [`features.${i}.weight`, `features.${i}.bias`])
        .concat(['classifier.weight', 'classifier.bias'])
        .sort(),
    );
    expect(f.tensors.get('classifier.weight')!.shape).toEqual([SHAPE_CLASSES.length, 512]);
    expect(f.tensors.get('features.3.weight')!.dtype).toBe('F16');
    expect((await describeVgg11(file)).note).toMatch(/not ImageNet: 10 classes, held-out top-1/);

    // The imagenet scheme takes the encoder from it, exactly (the F16 values widened), and ignores the classifier.
    const model = await createUNet11({ scheme: 'imagenet', vgg11: file, seed: 0 });
    const params = model.namedParameters();
    for (const i of [0, 8, 18]) {
      expect(await params.get(`encoder.${i}.weight`)!.toArray()).toEqual(
        f.tensors.get(`features.${i}.weight`)!.toFloat32(),
      );
    }
    model.dispose();

    const broken = join(dir, 'missing.safetensors');
    const kept = new Map(
      [...f.tensors]
        .filter(([k]) => k !== 'features.3.weight')
        .map(([k, t]) => [k, { shape: t.shape, data: t.toFloat32() }]),
    );
    await writeSafetensors(broken, kept);
    const err = await createUNet11({ scheme: 'imagenet', vgg11: broken }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(String(err)).toMatch(/features\.3\.weight/);
  });
});
