/** Weight files in Node: TernausNet state dicts saved and loaded as safetensors, and the init schemes that read them. */
import type { Device, Module } from '@ternausnet/tensor';
import {
  type Architecture,
  buildModel,
  DEFAULT_ARCHITECTURE,
  detectArchitecture,
  INIT_SCHEMES,
  type InitScheme,
  loadVggEncoder,
} from '../init.ts';
import type { UNet11 } from '../unet11.ts';
import {
  loadStateDict,
  type SaveWeightsOptions,
  stateDict,
  type TernausNetModel,
  weightsMetadata,
} from '../weights.ts';
import { readSafetensors, writeSafetensors } from './safetensors-file.ts';

/** Write the model's weights as a safetensors state dict (atomically). */
export async function saveWeights(
  model: TernausNetModel,
  path: string,
  options: SaveWeightsOptions = {},
): Promise<void> {
  const dict = await stateDict(model, options.aliases === undefined ? {} : { aliases: options.aliases });
  await writeSafetensors(path, dict, weightsMetadata(model, options));
}

/** Load a whole-network checkpoint (ours, or the authors' PyTorch one converted to safetensors) into any module. */
export async function loadWeights(model: Module, path: string): Promise<void> {
  const file = await readSafetensors(path);
  loadStateDict(model, file.tensors, path);
}

export interface CreateUNet11Options {
  scheme: InitScheme;
  /** Seed of the `lecun` initialisation (of the decoder, for `imagenet`). */
  seed?: number;
  /** `imagenet`: path of a VGG11 ImageNet safetensors file (see README: how to obtain it). */
  vgg11?: string;
  /** `pretrained`: path of a whole-network checkpoint. */
  checkpoint?: string;
  device?: Device;
}

/** A UNet11 initialised by one of the paper's schemes. */
export async function createUNet11(options: CreateUNet11Options): Promise<UNet11> {
  return (await createModel({ ...options, architecture: DEFAULT_ARCHITECTURE })) as UNet11;
}

export interface CreateModelOptions extends CreateUNet11Options {
  architecture: Architecture;
  /** `imagenet` for UNet16: path of a VGG16 ImageNet safetensors file. */
  vgg16?: string;
}

/** A UNet11 or UNet16 initialised by one of the paper's schemes. */
export async function createModel(options: CreateModelOptions): Promise<TernausNetModel> {
  const model = buildModel(options.architecture, {
    seed: options.seed ?? 0,
    ...(options.device ? { device: options.device } : {}),
  });
  const vgg = options.architecture.model === 'unet16' ? 'vgg16' : 'vgg11';
  try {
    switch (options.scheme) {
      case 'lecun':
        break;
      case 'imagenet': {
        const path = options[vgg];
        if (!path) {
          const name = vgg.toUpperCase();
          throw new Error(
            `init 'imagenet' needs a ${name} ImageNet weight file (--${vgg} PATH): see README, '${name} ImageNet weights'`,
          );
        }
        const file = await readSafetensors(path);
        loadVggEncoder(model, file.tensors, path);
        break;
      }
      case 'pretrained':
        if (!options.checkpoint) {
          const name = options.architecture.model === 'unet16' ? 'UNet16' : 'UNet11';
          throw new Error(`init 'pretrained' needs a ${name} checkpoint (--pretrained PATH)`);
        }
        await loadWeights(model, options.checkpoint);
        break;
      default:
        throw new RangeError(`unknown init scheme '${options.scheme as string}' (use ${INIT_SCHEMES.join(', ')})`);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Load a whole-network checkpoint of either model (ours, or PyTorch's state dict in safetensors, aliases and
 * `module.` prefixes accepted): the architecture comes from the file's keys and shapes (`detectArchitecture`).
 */
export async function loadCheckpoint(
  path: string,
  options: { device?: Device } = {},
): Promise<{ model: TernausNetModel; architecture: Architecture }> {
  const file = await readSafetensors(path);
  const architecture = detectArchitecture(file.tensors, path);
  const model = buildModel(architecture, options);
  try {
    loadStateDict(model, file.tensors, path);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, architecture };
}
