/**
 * The browser-safe entry of @ternausnet/model (bytes in, bytes out). Node resolves the package to `node.ts`,
 * which adds files: readSafetensors/writeSafetensors, saveWeights/loadWeights, createUNet11 with weight paths.
 */
export { INIT_SCHEMES, type InitScheme, loadVgg11Encoder } from './init.ts';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeRegion,
  type Prediction,
  type PredictOptions,
  predict,
  type RgbImage,
  tileOrigins,
} from './predict.ts';
export {
  DTYPE_BYTES,
  floatToHalf,
  halfToFloat,
  type LoadedTensor,
  MAX_HEADER_BYTES,
  parseSafetensors,
  type ReadOptions,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
} from './safetensors.ts';
export {
  ConvRelu,
  checkUNet11Input,
  DecoderBlock,
  ENCODER_ALIASES,
  nearestValidSizes,
  UNet11,
  type UNet11Options,
  VGG11_CONVS,
} from './unet11.ts';
export { Vgg11Classifier, type Vgg11ClassifierOptions } from './vgg11.ts';
export {
  canonicalKey,
  loadStateDict,
  loadWeightsFromBytes,
  type SaveWeightsOptions,
  StateDictError,
  serializeWeights,
  stateDict,
  type WeightSource,
  weightsMetadata,
} from './weights.ts';
