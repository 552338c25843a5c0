/**
 * The kernels' public surface: one entry point per kernel (forward and backward), its argument type, and the
 * runtime seam a host implements (`KernelContext`: buffers, pipelines, dispatch). Sources, runners, packers and
 * selectors stay internal; `test/surface.test.ts` keeps the runtime names at 30 or fewer.
 */
export { type AdamArgs, adamUpdate } from './adam.ts';
export { type AdapterKind, type AdapterProfile, describeAdapter } from './adapter.ts';
export {
  type BceJaccardArgs,
  type BceJaccardBackwardArgs,
  bceJaccardBackward,
  bceJaccardForward,
  JACCARD_EPS,
} from './bce-jaccard.ts';
export {
  type ConvTranspose3x3s2Args,
  type ConvTranspose3x3s2DgradArgs,
  type ConvTranspose3x3s2WgradArgs,
  convTranspose3x3s2Dgrad,
  convTranspose3x3s2Forward,
  convTranspose3x3s2Wgrad,
} from './conv-transpose.ts';
export {
  type ConvTranspose4x4s2Args,
  type ConvTranspose4x4s2DgradArgs,
  type ConvTranspose4x4s2WgradArgs,
  convTranspose4x4s2Dgrad,
  convTranspose4x4s2Forward,
  convTranspose4x4s2Wgrad,
} from './conv-transpose4x4.ts';
export {
  type Conv1x1Args,
  type Conv1x1DgradArgs,
  type Conv1x1WgradArgs,
  conv1x1Dgrad,
  conv1x1Forward,
  conv1x1Wgrad,
} from './conv1x1.ts';
export {
  type ChannelSegment,
  type Conv3x3DgradArgs,
  type Conv3x3ForwardArgs,
  type Conv3x3WgradArgs,
  conv3x3Dgrad,
  conv3x3Forward,
  conv3x3Wgrad,
} from './conv3x3.ts';
export { type CopyBlockArgs, copyBlock } from './copy.ts';
export {
  type BinaryExpression,
  type ElementwiseArgs,
  type ElementwiseOperand,
  elementwise,
  type TernaryExpression,
  type UnaryExpression,
} from './elementwise.ts';
export { type MaxPoolArgs, type MaxPoolBackwardArgs, maxPool2x2Backward, maxPool2x2Forward } from './maxpool.ts';
export { type ReduceSumArgs, reduceSum } from './reduce.ts';
export {
  type AdapterClass,
  type BufferRange,
  type ContentKey,
  type DispatchRequest,
  type KernelContext,
  KernelLimitError,
  type KernelLimits,
  type ScratchBuffer,
  type SubgroupSizes,
} from './runtime.ts';
export {
  type UpsampleBilinear2xArgs,
  type UpsampleBilinear2xBackwardArgs,
  upsampleBilinear2xBackward,
  upsampleBilinear2xForward,
} from './upsample-bilinear.ts';
export {
  describeVariants,
  type KernelFamily,
  type KernelPass,
  type KernelProblem,
  runnableVariants,
  type VariantRow,
  type VariantStatus,
  variantProblem,
  variantRows,
} from './variants.ts';

/**
 * Where this package's modules are (this file's URL): a tuning cache hashes the files beside it, so that cached
 * kernel choices are dropped when any kernel's source changes.
 */
// ESM gives every module `import.meta.url` (browsers and Node); the package builds without DOM or Node typings.
export const KERNELS_MODULE_URL: string = (import.meta as ImportMeta & { readonly url: string }).url;
