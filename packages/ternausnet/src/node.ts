/** The Node entry of @ternausnet/model (its `node` export condition): the core plus file IO. */
export * from './index.ts';
export { writeFileAtomic, writeJsonAtomic } from './node/files.ts';
export { readSafetensors, writeSafetensors } from './node/safetensors-file.ts';
export {
  type CreateModelOptions,
  type CreateUNet11Options,
  createModel,
  createUNet11,
  loadCheckpoint,
  loadWeights,
  saveWeights,
} from './node/weights-file.ts';
