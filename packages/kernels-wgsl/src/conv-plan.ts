/**
 * Splitting convolution work so that every binding fits the device's maxStorageBufferBindingSize (128 MiB on
 * lavapipe: one 64×768×768 float32 activation is 151 MB). NCHW makes one image's channel range [c0, c0 + k)
 * contiguous, so operands are split by image and by channel ranges: output channels are independent, input
 * channels are a reduction (later chunks accumulate into the output). A single channel plane larger than one
 * binding cannot be split this way: that is a clear error asking for tiled inference.
 */
import { elementWindow, maxBindingElements, mib } from './layout.ts';
import { type BufferRange, type ContentKey, type KernelContext, KernelLimitError } from './runtime.ts';

export interface ChannelChunk {
  readonly start: number;
  readonly count: number;
}

/** Split `channels` planes of `plane` floats into chunks that each fit one binding (as even as possible). */
export function channelChunks(
  ctx: KernelContext,
  channels: number,
  plane: number,
  what: string,
  /** Extra floats the binding must hold (nothing by default). */
  slack = 0,
): ChannelChunk[] {
  const limit = maxBindingElements(ctx) - slack;
  const perChunk = Math.floor(limit / Math.max(1, plane));
  if (perChunk < 1) {
    throw new KernelLimitError(
      `${what}: one channel plane of ${plane} floats (${mib(plane * 4)}) exceeds this ` +
        `device's maxStorageBufferBindingSize (${mib(ctx.limits.maxStorageBufferBindingSize)}); ` +
        `run the model tile by tile (predict's --tile option) on images this large.`,
    );
  }
  const n = Math.max(1, Math.ceil(channels / perChunk));
  const base = Math.floor(channels / n);
  const extra = channels % n;
  const chunks: ChannelChunk[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const count = base + (i < extra ? 1 : 0);
    chunks.push({ start, count });
    start += count;
  }
  return chunks;
}

/** The binding window of channels [c.start, c.start + c.count) of image `n` of an NCHW tensor. */
export function channelWindow(
  ctx: KernelContext,
  range: BufferRange,
  n: number,
  channels: number,
  plane: number,
  c: ChannelChunk,
): { range: BufferRange; base: number } {
  return elementWindow(ctx, range, (n * channels + c.start) * plane, c.count * plane);
}

/**
 * How many consecutive images (at most `left`) one binding window holds for channel chunk `c` of an NCHW tensor
 * with `channels` channels of `plane` floats: at least 1, since a single image's chunk always fits.
 */
export function imagesPerWindow(
  ctx: KernelContext,
  channels: number,
  plane: number,
  c: ChannelChunk,
  left: number,
): number {
  const room = maxBindingElements(ctx) - c.count * plane;
  return Math.max(1, Math.min(left, 1 + Math.floor(room / (channels * plane))));
}

/** What every single-input NCHW convolution's forward takes; each kernel adds its shape and epilogue. */
export interface ConvForwardOperands {
  /** [N, Cin, …]. */
  readonly input: BufferRange;
  readonly weight: BufferRange;
  /** The weight's content key: kernels that repack the weight keep the packing while it is unchanged. */
  readonly weightKey?: ContentKey;
  /** [Cout], or null for no bias. */
  readonly bias: BufferRange | null;
  /** [N, Cout, …], written. */
  readonly out: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
}

/** What every single-input NCHW convolution's input gradient takes. */
export interface ConvDgradOperands {
  /** [N, Cout, …]. */
  readonly gradOut: BufferRange;
  readonly weight: BufferRange;
  /** As in `ConvForwardOperands`. */
  readonly weightKey?: ContentKey;
  /** [N, Cin, …], written. */
  readonly gradInput: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
}

/** What every single-input NCHW convolution's weight gradient takes. */
export interface ConvWgradOperands {
  readonly input: BufferRange;
  readonly gradOut: BufferRange;
  /** Written (or added to, where the kernel takes `accumulate`). */
  readonly gradWeight: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
}
