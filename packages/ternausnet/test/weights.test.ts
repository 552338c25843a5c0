/**
 * UNet11 weights: PyTorch state-dict names (checked against the authors' key list from the golden fixture),
 * checkpoints with aliases / `module.` prefixes, the three init schemes, and the errors a wrong file gets.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createUNet11,
  loadStateDict,
  loadVgg11Encoder,
  readSafetensors,
  StateDictError,
  saveWeights,
  stateDict,
  UNet11,
  VGG11_CONVS,
  writeSafetensors,
} from '@ternausnet/model';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { fakeDict, vggFeatures } from './dicts.ts';

const dir = mkdtempSync(join(tmpdir(), 'weights-test-'));
const keysFixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/unet11_state_dict_keys.json', import.meta.url), 'utf8'),
) as { state_dict: { key: string; shape: number[]; alias_of: string | null; fan_in: number }[]; parameters: string[] };

describe('UNet11 weights', () => {
  useTestDevice();

  it("has exactly PyTorch's parameter names, order and shapes; its state dict has the authors' 56 keys", async () => {
    const model = new UNet11();
    const params = model.namedParameters();
    expect([...params.keys()]).toEqual(keysFixture.parameters);
    expect(model.parameterCount()).toBe(22_927_393);
    const sd = await stateDict(model);
    expect([...sd.keys()]).toEqual(keysFixture.state_dict.map((e) => e.key));
    for (const e of keysFixture.state_dict) expect([...sd.get(e.key)!.shape]).toEqual(e.shape);
    model.dispose();
  });

  it('lecun init: U(±1/√fan_in) with PyTorch fan_in (ConvTranspose2d: Cout·9), seeded and reproducible', async () => {
    const a = new UNet11({ seed: 7 });
    const b = new UNet11({ seed: 7 });
    const c = new UNet11({ seed: 8 });
    const fan = new Map(keysFixture.state_dict.map((e) => [e.key, e.fan_in]));
    for (const [name, p] of a.namedParameters()) {
      const v = await p.toArray();
      const bound = Math.fround(1 / Math.sqrt(fan.get(name)!));
      const max = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(max).toBeLessThanOrEqual(bound);
      // Uniform samples reach close to the bound (loose for the 1-element final bias).
      if (v.length >= 64) expect(max).toBeGreaterThan(0.9 * bound);
    }
    const first = async (m: UNet11) => (await m.namedParameters().get('dec2.block.1.weight')!.toArray()).slice(0, 8);
    expect(await first(a)).toEqual(await first(b));
    expect(await first(a)).not.toEqual(await first(c));
    for (const m of [a, b, c]) m.dispose();
  });

  it('saves a checkpoint PyTorch can load strictly and loads it back; aliases and module. prefixes load', async () => {
    const a = new UNet11({ seed: 1 });
    const path = join(dir, 'a.safetensors');
    await saveWeights(a, path);
    const file = await readSafetensors(path);
    expect([...file.tensors.keys()]).toEqual(keysFixture.state_dict.map((e) => e.key));
    expect(file.metadata.format).toBe('pt');
    const b = new UNet11({ seed: 2 });
    loadStateDict(b, file.tensors, path);
    const w = async (m: UNet11, k: string) => Array.from(await m.namedParameters().get(k)!.toArray());
    expect(await w(b, 'dec3.block.1.weight')).toEqual(await w(a, 'dec3.block.1.weight'));
    expect(await w(b, 'encoder.0.weight')).toEqual(await w(a, 'encoder.0.weight'));

    // DataParallel prefix, only alias names for the encoder.
    const prefixed = new Map(
      [...file.tensors].filter(([k]) => !k.startsWith('encoder.')).map(([k, t]) => [`module.${k}`, t] as const),
    );
    const c = new UNet11({ seed: 3 });
    loadStateDict(c, prefixed, 'prefixed');
    expect(await w(c, 'encoder.13.bias')).toEqual(await w(a, 'encoder.13.bias'));
    for (const m of [a, b, c]) m.dispose();
  });

  it('errors list missing keys, unexpected keys and wrong shapes', () => {
    const model = new UNet11();
    const entries = keysFixture.state_dict
      .filter((e) => !e.alias_of)
      .map((e) => [e.key, e.shape] as [string, number[]]);
    const broken = entries
      .filter(([k]) => k !== 'final.bias' && k !== 'dec1.conv.weight')
      .map(([k, s]) =>
        k === 'center.block.1.weight' ? ([k, [256, 512, 3, 3]] as [string, number[]]) : ([k, s] as [string, number[]]),
      );
    broken.push(['decoder.extra.weight', [3]]);
    let err: unknown;
    try {
      loadStateDict(model, fakeDict(broken), 'broken.safetensors');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const e = err as StateDictError;
    expect(e.missing).toEqual(['dec1.conv.weight', 'final.bias']);
    expect(e.unexpected).toEqual(['decoder.extra.weight']);
    expect(e.mismatched).toEqual(['center.block.1.weight: file [256,512,3,3] vs model [512,256,3,3]']);
    expect(e.message).toMatch(/broken\.safetensors does not fit UNet11/);
    model.dispose();
  });

  it('imagenet: loads the encoder from torchvision and timm VGG11 files, ignoring the classifier', async () => {
    const features = vggFeatures(VGG11_CONVS);
    const small = (shape: readonly number[], v: number) => ({
      shape,
      data: new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(v),
    });
    // torchvision: features.N.* + classifier.{0,3,6}.*; timm vgg11.tv_in1k: features.N.* + pre_logits.fc1/fc2 + head.fc.
    const torchvision = new Map(features.map(([k, s], i) => [k, small(s, i + 1)] as const));
    torchvision.set('classifier.6.weight', small([10, 4], 9));
    const tvPath = join(dir, 'vgg11-torchvision.safetensors');
    await writeSafetensors(tvPath, torchvision);
    const timm = new Map(features.map(([k, s], i) => [k, small(s, -(i + 1))] as const));
    timm.set('pre_logits.fc1.weight', small([4, 4], 1));
    timm.set('head.fc.bias', small([10], 1));
    const timmPath = join(dir, 'vgg11-timm.safetensors');
    await writeSafetensors(timmPath, timm);

    const m = await createUNet11({ scheme: 'imagenet', vgg11: tvPath, seed: 5 });
    const lecun = await createUNet11({ scheme: 'lecun', seed: 5 });
    expect((await m.namedParameters().get('encoder.8.weight')!.toArray())[0]).toBe(7);
    expect((await m.namedParameters().get('encoder.18.bias')!.toArray())[3]).toBe(16);
    // The decoder is the seeded lecun init.
    expect(Array.from(await m.namedParameters().get('dec5.block.1.weight')!.toArray())).toEqual(
      Array.from(await lecun.namedParameters().get('dec5.block.1.weight')!.toArray()),
    );
    const t = await createUNet11({ scheme: 'imagenet', vgg11: timmPath });
    expect((await t.namedParameters().get('encoder.0.weight')!.toArray())[0]).toBe(-1);

    // vgg11_bn has BatchNorm tensors at other features indices: a clear error.
    const bn = fakeDict([...features, ['features.1.running_mean', [64]]]);
    expect(() => loadVgg11Encoder(m, bn, 'vgg11_bn.safetensors')).toThrow(/is this vgg11_bn/);
    await expect(createUNet11({ scheme: 'imagenet' })).rejects.toThrow(/needs a VGG11 ImageNet weight file/);
    await expect(createUNet11({ scheme: 'pretrained' })).rejects.toThrow(/needs a UNet11 checkpoint/);
    for (const x of [m, lecun, t]) x.dispose();
  });

  it('pretrained: the whole network from a checkpoint', async () => {
    const a = new UNet11({ seed: 11 });
    const path = join(dir, 'pre.safetensors');
    await saveWeights(a, path, { aliases: false });
    const b = await createUNet11({ scheme: 'pretrained', checkpoint: path });
    expect(Array.from(await b.namedParameters().get('final.weight')!.toArray())).toEqual(
      Array.from(await a.namedParameters().get('final.weight')!.toArray()),
    );
    a.dispose();
    b.dispose();
  });
});
