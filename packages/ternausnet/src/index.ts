/**
 * The browser-safe entry of @ternausnet/model (bytes in, bytes out). Node resolves the package to `node.ts`,
 * which adds files: readSafetensors/writeSafetensors, saveWeights/loadWeights, createModel/createUNet11 and
 * loadCheckpoint with weight paths.
 */
export {
  type Architecture,
  buildModel,
  DEFAULT_ARCHITECTURE,
  describeArchitecture,
  detectArchitecture,
  INIT_SCHEMES,
  type InitScheme,
  loadVgg11Encoder,
  loadVggEncoder,
} from './init.ts';
export { lossBinary } from './loss.ts';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizeRegion,
  type Prediction,
  type PredictOptions,
  predict,
  type RgbImage,
  type SegmentationModel,
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
export { ConvRelu, checkUNetInput, nearestValidSizes } from './unet.ts';
export {
  DecoderBlock,
  ENCODER_ALIASES,
  UNet11,
  type UNet11Options,
  VGG11_CONVS,
} from './unet11.ts';
export {
  DecoderBlockV2,
  UNET16_ENCODER_ALIASES,
  UNet16,
  type UNet16Options,
  VGG16_CONVS,
} from './unet16.ts';
export { Vgg11Classifier, type Vgg11ClassifierOptions } from './vgg11.ts';
export {
  canonicalKey,
  loadStateDict,
  loadWeightsFromBytes,
  type SaveWeightsOptions,
  StateDictError,
  serializeWeights,
  stateDict,
  type TernausNetModel,
  type WeightSource,
  weightsMetadata,
} from './weights.ts';
