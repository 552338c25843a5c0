/**
 * UNet16 weights: VGG16 ImageNet loading (torchvision and timm names), checkpoints with PyTorch's 76 keys written
 * and read back, architecture detection from keys and shapes (and its errors), UNet11's numFilters guard.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createModel,
  detectArchitecture,
  loadCheckpoint,
  loadVggEncoder,
  readSafetensors,
  StateDictError,
  saveWeights,
  stateDict,
  UNet11,
  UNet16,
  VGG11_CONVS,
  VGG16_CONVS,
  writeSafetensors,
} from '@ternausnet/model';
import { describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';
import { fakeDict, vggFeatures } from './dicts.ts';

const dir = mkdtempSync(join(tmpdir(), 'unet16-test-'));

/** Bit-equal float arrays (vitest's deep equality is slow on millions of elements). */
const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length &&
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** A VGG file's conv tensors (value = index + 0.5 per tensor) plus `extra` classifier tensors. */
function vggDict(convs: readonly { index: number; cin: number; cout: number }[], extra: string[]) {
  return fakeDict([...vggFeatures(convs), ...extra.map((k): [string, number[]] => [k, [4, 2]])]);
}

describe('UNet16 weights', () => {
  useTestDevice();

  it('imagenet: loads the encoder from torchvision and timm VGG16 names; a VGG11 file is refused', async () => {
    const model = new UNet16({ numFilters: 8 });
    const torchvision = vggDict(VGG16_CONVS, ['classifier.0.weight', 'classifier.6.bias']);
    loadVggEncoder(model, torchvision, 'vgg16.safetensors');
    const w28 = await model.namedParameters().get('encoder.28.weight')!.toArray();
    expect(w28[0]).toBe(24.5); // the 25th tensor: features.28.weight
    const timm = vggDict(VGG16_CONVS, ['pre_logits.fc1.weight', 'head.fc.weight']);
    expect(() => loadVggEncoder(model, timm, 'vgg16.tv_in1k.safetensors')).not.toThrow();
    const vgg11 = vggDict(VGG11_CONVS, []);
    let e: unknown;
    try {
      loadVggEncoder(model, vgg11, 'vgg11.safetensors');
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(StateDictError);
    expect((e as Error).message).toMatch(/vgg11\.safetensors \(as VGG16 ImageNet weights\) does not fit VGG16/);
    expect((e as Error).message).toMatch(/missing keys.*features\.28\.weight/);
    model.dispose();
    await expect(
      createModel({ scheme: 'imagenet', architecture: { model: 'unet16', numFilters: 8, deconv: false } }),
    ).rejects.toThrow(/needs a VGG16 ImageNet weight file \(--vgg16 PATH\)/);
  });

  it('saves the 76 PyTorch keys (aliases included) and loads them back with the architecture detected', async () => {
    const model = new UNet16({ seed: 2, numFilters: 8, deconv: true });
    const path = join(dir, 'u16.safetensors');
    await saveWeights(model, path);
    const file = await readSafetensors(path);
    const keys = [...file.tensors.keys()];
    expect(keys).toHaveLength(76);
    expect(keys.slice(26, 28)).toEqual(['conv1.0.weight', 'conv1.0.bias']);
    expect(keys[51]).toBe('conv5.4.bias');
    expect(
      sameBits(file.tensors.get('conv3.4.weight')!.toFloat32(), file.tensors.get('encoder.14.weight')!.toFloat32()),
    ).toBe(true);
    expect(file.metadata).toMatchObject({ model: 'UNet16', num_filters: '8', is_deconv: 'true' });
    const { model: back, architecture } = await loadCheckpoint(path);
    expect(architecture).toEqual({ model: 'unet16', numFilters: 8, deconv: true });
    const a = await stateDict(model);
    const b = await stateDict(back as UNet16);
    for (const [k, v] of a) expect(sameBits(b.get(k)!.data, v.data), k).toBe(true);
    model.dispose();
    back.dispose();
  });

  it('detects UNet11 and both UNet16 decoders from keys and shapes; anything else is a clear error', async () => {
    const u11 = new UNet11();
    const d11 = await stateDict(u11);
    u11.dispose();
    expect(detectArchitecture(d11, 'u11')).toEqual({ model: 'unet11', numFilters: 32, deconv: true });
    const u16 = new UNet16({ numFilters: 4 });
    const d16 = await stateDict(u16, { aliases: false });
    u16.dispose();
    expect(detectArchitecture(d16, 'u16')).toEqual({ model: 'unet16', numFilters: 4, deconv: false });
    // DataParallel's module. prefix.
    const prefixed = new Map([...d16].map(([k, v]) => [`module.${k}`, v]));
    expect(detectArchitecture(prefixed, 'dp')).toEqual({ model: 'unet16', numFilters: 4, deconv: false });
    expect(() => detectArchitecture(new Map([['features.0.weight', { shape: [64, 3, 3, 3] }]]), 'vgg.st')).toThrow(
      /vgg\.st: no 'final\.weight'.*not a TernausNet/,
    );
    const noDecoder = new Map([...d16].filter(([k]) => !k.startsWith('center.')));
    expect(() => detectArchitecture(noDecoder, 'cut.st')).toThrow(/cut\.st: a VGG16 encoder, but neither/);
    await writeSafetensors(join(dir, 'junk.safetensors'), { x: { shape: [1], data: new Float32Array(1) } });
    await expect(loadCheckpoint(join(dir, 'junk.safetensors'))).rejects.toThrow(
      /junk\.safetensors: no 'final\.weight'/,
    );
  });

  it("UNet11 refuses numFilters ≠ 32 (the authors' UNet11 cannot run with it)", () => {
    expect(() => new UNet11({ numFilters: 16 })).toThrow(/numFilters 16 cannot work.*use UNet16/);
  });
});
