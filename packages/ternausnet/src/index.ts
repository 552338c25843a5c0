export { writeFileAtomic, writeJsonAtomic } from './files.ts';
export {
  type Architecture,
  buildModel,
  type CreateModelOptions,
  type CreateUNet11Options,
  createModel,
  createUNet11,
  DEFAULT_ARCHITECTURE,
  describeArchitecture,
  detectArchitecture,
  INIT_SCHEMES,
  type InitScheme,
  loadCheckpoint,
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
  readSafetensors,
  type SafetensorsDtype,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
  writeSafetensors,
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
export {
  checkUNetInput,
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
  loadWeights,
  type SaveWeightsOptions,
  StateDictError,
  saveWeights,
  stateDict,
  type TernausNetModel,
  type WeightSource,
} from './weights.ts';
