/**
 * The paper's three initialisation schemes:
 * - `lecun`: PyTorch's default initialisation of every Conv2d / ConvTranspose2d (what the paper calls LeCun
 *   uniform): weight and bias U(±1/√fan_in), fan_in = weight.size(1)·k², seeded;
 * - `imagenet`: the encoder from VGG11 (UNet11) or VGG16 (UNet16) ImageNet weights (torchvision `vgg11`/`vgg16`
 *   or timm `vgg11.tv_in1k`/`vgg16.tv_in1k` names, read from safetensors), the decoder `lecun`;
 * - `pretrained`: the whole network from a checkpoint (e.g. pre-trained on Carvana).
 */
import { type Device, writeData } from '@ternausnet/tensor';
import { UNet11, VGG11_CONVS } from './unet11.ts';
import { UNet16, VGG16_CONVS } from './unet16.ts';
import { StateDictError, type TernausNetModel, type WeightSource } from './weights.ts';

export type InitScheme = 'lecun' | 'imagenet' | 'pretrained';
export const INIT_SCHEMES: readonly InitScheme[] = ['lecun', 'imagenet', 'pretrained'];

const FEATURE_KEY = /^(?:.*\.)?features\.(\d+)\.(\w+)$/;
/** Keys of the classifier part of VGG files, which TernausNet does not use. */
const CLASSIFIER_KEY = /^(?:.*\.)?(classifier|pre_logits|head|fc)\b/;

/**
 * Copy VGG11's eight convolutions (UNet11) or VGG16's thirteen (UNet16) from a torchvision/timm state dict into
 * the encoder. Classifier tensors are ignored; any other `features.N` tensor (e.g. the BatchNorm of vgg11_bn) is
 * an error.
 */
export function loadVggEncoder(model: TernausNetModel, dict: ReadonlyMap<string, WeightSource>, source: string): void {
  const vgg = model instanceof UNet16 ? 'VGG16' : 'VGG11';
  const lower = vgg.toLowerCase();
  const CONV_INDICES = new Set<number>((model instanceof UNet16 ? VGG16_CONVS : VGG11_CONVS).map((c) => c.index));
  const found = new Map<string, WeightSource>();
  const unexpected: string[] = [];
  for (const [name, t] of dict) {
    const m = FEATURE_KEY.exec(name);
    if (m && CONV_INDICES.has(Number(m[1])) && (m[2] === 'weight' || m[2] === 'bias')) {
      found.set(`encoder.${m[1]}.${m[2]}`, t);
    } else if (m) unexpected.push(name);
    else if (!CLASSIFIER_KEY.test(name)) unexpected.push(name);
  }
  if (unexpected.some((k) => FEATURE_KEY.test(k))) {
    unexpected.push(
      `(features.N tensors at non-convolution indices: is this ${lower}_bn, or the other VGG? ` +
        `${model instanceof UNet16 ? 'UNet16' : 'UNet11'} uses plain ${lower})`,
    );
  }
  const params = model.namedParameters();
  const wanted = [...params.keys()].filter((k) => k.startsWith('encoder.'));
  const missing = wanted.filter((k) => !found.has(k)).map((k) => k.replace('encoder.', 'features.'));
  const mismatched: string[] = [];
  for (const [k, t] of found) {
    const shape = params.get(k)!.shape;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      mismatched.push(`${k.replace('encoder.', 'features.')}: file [${t.shape}] vs ${vgg} [${shape}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    throw new StateDictError(`${source} (as ${vgg} ImageNet weights)`, missing, unexpected, mismatched, vgg);
  }
  for (const [k, t] of found) writeData(params.get(k)!, t.toFloat32());
}

/** UNet11's encoder from VGG11 ImageNet weights (see `loadVggEncoder`). */
export function loadVgg11Encoder(model: UNet11, dict: ReadonlyMap<string, WeightSource>, source: string): void {
  loadVggEncoder(model, dict, source);
}

/** Which TernausNet: UNet11 (VGG11 encoder; num_filters 32 only) or UNet16 (VGG16; either decoder). */
export interface Architecture {
  readonly model: 'unet11' | 'unet16';
  readonly numFilters: number;
  /** `is_deconv`: transposed convolutions (always, for UNet11) rather than bilinear upsampling. */
  readonly deconv: boolean;
}

export const DEFAULT_ARCHITECTURE: Architecture = { model: 'unet11', numFilters: 32, deconv: true };

/** A fresh, `lecun`-initialised model of `arch`. */
export function buildModel(arch: Architecture, options: { seed?: number; device?: Device } = {}): TernausNetModel {
  const common = {
    seed: options.seed ?? 0,
    numFilters: arch.numFilters,
    ...(options.device ? { device: options.device } : {}),
  };
  if (arch.model === 'unet16') return new UNet16({ ...common, deconv: arch.deconv });
  if (!arch.deconv) throw new RangeError('UNet11 has no bilinear decoder (is_deconv=False exists for UNet16 only)');
  return new UNet11(common);
}

/** "UNet16 (num_filters 16, bilinear upsampling decoder)". */
export function describeArchitecture(arch: Architecture): string {
  const decoder = arch.deconv
    ? `transposed-convolution decoder (${arch.model === 'unet16' ? '4×4' : '3×3'}, stride 2)`
    : 'bilinear-upsampling decoder';
  return `${arch.model === 'unet16' ? 'UNet16' : 'UNet11'} (num_filters ${arch.numFilters}, ${decoder})`;
}

/**
 * The architecture a state dict was written for, from its keys and shapes alone: VGG16's `encoder.28` (or
 * its alias `conv5.4`) means UNet16; `final.weight` [1, F, 1, 1] gives num_filters; in UNet16 a transposed
 * convolution `center.block.1.weight` [M, O, 4, 4] means is_deconv, a ConvRelu `center.block.1.conv.weight`
 * means bilinear upsampling.
 */
export function detectArchitecture(
  dict: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  source: string,
): Architecture {
  const get = (key: string) => dict.get(key)?.shape ?? dict.get(`module.${key}`)?.shape;
  const final = get('final.weight');
  if (final?.length !== 4 || final[0] !== 1) {
    throw new RangeError(
      `${source}: no 'final.weight' of shape [1, num_filters, 1, 1] (got ${final ? `[${final}]` : 'none'}): ` +
        'not a TernausNet (UNet11/UNet16, one class) checkpoint',
    );
  }
  const numFilters = final[1]!;
  if (get('encoder.28.weight') || get('conv5.4.weight')) {
    const up = get('center.block.1.weight');
    if (up?.length === 4 && up[2] === 4) return { model: 'unet16', numFilters, deconv: true };
    if (get('center.block.1.conv.weight')) return { model: 'unet16', numFilters, deconv: false };
    throw new RangeError(
      `${source}: a VGG16 encoder, but neither 'center.block.1.weight' [·, ·, 4, 4] (is_deconv) nor ` +
        `'center.block.1.conv.weight' (bilinear): not a TernausNet UNet16 checkpoint`,
    );
  }
  if (get('encoder.18.weight') || get('conv5.weight')) return { model: 'unet11', numFilters, deconv: true };
  throw new RangeError(
    `${source}: neither VGG16's encoder.28 nor VGG11's encoder.18 convolution: not a UNet11/UNet16 checkpoint`,
  );
}
