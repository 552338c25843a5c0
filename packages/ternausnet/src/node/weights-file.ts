/** Weight files in Node: UNet11 state dicts saved and loaded as safetensors, and the init schemes that read them. */
import type { Device, Module } from '@ternausnet/tensor';
import { INIT_SCHEMES, type InitScheme, loadVgg11Encoder } from '../init.ts';
import { UNet11 } from '../unet11.ts';
import { loadStateDict, type SaveWeightsOptions, stateDict, weightsMetadata } from '../weights.ts';
import { readSafetensors, writeSafetensors } from './safetensors-file.ts';

/** Write the model's weights as a safetensors state dict (atomically). */
export async function saveWeights(model: UNet11, path: string, options: SaveWeightsOptions = {}): Promise<void> {
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
  /** `pretrained`: path of a whole-network UNet11 checkpoint. */
  checkpoint?: string;
  device?: Device;
}

/** A UNet11 initialised by one of the paper's schemes. */
export async function createUNet11(options: CreateUNet11Options): Promise<UNet11> {
  const model = new UNet11({ seed: options.seed ?? 0, ...(options.device ? { device: options.device } : {}) });
  try {
    switch (options.scheme) {
      case 'lecun':
        break;
      case 'imagenet': {
        if (!options.vgg11) {
          throw new Error(
            "init 'imagenet' needs a VGG11 ImageNet weight file (--vgg11 PATH): see README, 'VGG11 ImageNet weights'",
          );
        }
        const file = await readSafetensors(options.vgg11);
        loadVgg11Encoder(model, file.tensors, options.vgg11);
        break;
      }
      case 'pretrained':
        if (!options.checkpoint) throw new Error("init 'pretrained' needs a UNet11 checkpoint (--pretrained PATH)");
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
