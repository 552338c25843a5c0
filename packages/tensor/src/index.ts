/// <reference types="@webgpu/types" preserve="true" />
/**
 * The browser-safe entry of @ternausnet/tensor: the GPU comes from `navigator.gpu` or `initDevice({ gpu })`.
 * Node resolves the package to `node.ts` instead, which adds Dawn.
 */
import './methods.ts';

export { isGradEnabled, noGrad, record } from './autograd.ts';
export { getDevice, initDevice } from './context.ts';
export {
  type CreateOptions,
  full,
  ones,
  type RandomOptions,
  rand,
  randn,
  tensor,
  writeData,
  zeros,
} from './creation.ts';
export { Device, type DeviceStats } from './device.ts';
export { DeviceLostError, GPUOperationError } from './errors.ts';
export {
  Conv2d,
  ConvTranspose2d,
  type LayerOptions,
  Module,
  ModuleList,
  pytorchDefaultBound,
  uniformParameter,
} from './nn.ts';
export { convTranspose3x3s2, convTranspose4x4s2 } from './ops/conv-transpose.ts';
export { conv1x1 } from './ops/conv1x1.ts';
export { type ConvOptions, conv3x3 } from './ops/conv3x3.ts';
export { abs, add, div, exp, log, mul, neg, pow, relu, sigmoid, sqrt, sub } from './ops/elementwise.ts';
export { type BceJaccardOptions, bceJaccardLoss, sigmoidThreshold } from './ops/loss.ts';
export { maxPool2x2 } from './ops/maxpool.ts';
export { mean, sum } from './ops/reduce.ts';
export { type OpDefinition, type OpReference, registeredOps } from './ops/registry.ts';
export { concat, reshape } from './ops/shape.ts';
export { upsampleBilinear2x } from './ops/upsample.ts';
export { Adam, type AdamOptions } from './optim/adam.ts';
export { type DeviceOptions, parseVariantOverrides } from './platform.ts';
export { Rng } from './random.ts';
export type { RefTensor } from './reference.ts';
export * as reference from './reference.ts';
export { DisposedTensorError, type DType, keep, Storage, Tensor, type TensorOptions, tidy } from './tensor.ts';
export type { DispatchTime } from './timing.ts';
export {
  collectKernelProblems,
  type TunedProblem,
  type TuneOptions,
  type TuneProgress,
  type TuneResult,
  tuneKernels,
} from './tuning.ts';
