/** The Node entry of @ternausnet/model (its `node` export condition): the core plus file IO. */

export { writeFileAtomic, writeJsonAtomic } from '@ternausnet/tensor/node';
export * from './index.ts';
export { readSafetensors, writeSafetensors } from './node/safetensors-file.ts';
export { type TuneModelOptions, type TuneModelResult, tuneModelKernels } from './node/tune.ts';
export {
  type CreateModelOptions,
  type CreateUNet11Options,
  createModel,
  createUNet11,
  loadCheckpoint,
  loadWeights,
  saveWeights,
} from './node/weights-file.ts';
