/**
 * The paper's three initialisation schemes:
 * - `lecun`: PyTorch's default initialisation of every Conv2d / ConvTranspose2d (what the paper calls LeCun
 *   uniform): weight and bias U(±1/√fan_in), fan_in = weight.size(1)·k², seeded;
 * - `imagenet`: the encoder from VGG11 ImageNet weights (torchvision or timm `vgg11.tv_in1k` names, read from
 *   safetensors), the decoder `lecun`;
 * - `pretrained`: the whole network from a checkpoint (e.g. pre-trained on Carvana).
 */
import { writeData } from '@ternausnet/tensor';
import { type UNet11, VGG11_CONVS } from './unet11.ts';
import { StateDictError, type WeightSource } from './weights.ts';

export type InitScheme = 'lecun' | 'imagenet' | 'pretrained';
export const INIT_SCHEMES: readonly InitScheme[] = ['lecun', 'imagenet', 'pretrained'];

const FEATURE_KEY = /^(?:.*\.)?features\.(\d+)\.(\w+)$/;
/** Keys of the classifier part of VGG files, which TernausNet does not use. */
const CLASSIFIER_KEY = /^(?:.*\.)?(classifier|pre_logits|head|fc)\b/;
const CONV_INDICES = new Set<number>(VGG11_CONVS.map((c) => c.index));

/**
 * Copy VGG11's eight convolutions from a torchvision/timm state dict into the encoder. Classifier tensors are
 * ignored; any other `features.N` tensor (e.g. the BatchNorm of vgg11_bn) is an error.
 */
export function loadVgg11Encoder(model: UNet11, dict: ReadonlyMap<string, WeightSource>, source: string): void {
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
    unexpected.push('(features.N tensors at non-convolution indices: is this vgg11_bn? TernausNet uses plain vgg11)');
  }
  const params = model.namedParameters();
  const wanted = [...params.keys()].filter((k) => k.startsWith('encoder.'));
  const missing = wanted.filter((k) => !found.has(k)).map((k) => k.replace('encoder.', 'features.'));
  const mismatched: string[] = [];
  for (const [k, t] of found) {
    const shape = params.get(k)!.shape;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      mismatched.push(`${k.replace('encoder.', 'features.')}: file [${t.shape}] vs VGG11 [${shape}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    throw new StateDictError(`${source} (as VGG11 ImageNet weights)`, missing, unexpected, mismatched);
  }
  for (const [k, t] of found) writeData(params.get(k)!, t.toFloat32());
}
