/**
 * The dispatch side of the direct stride-2 transposed convolutions (conv-transpose.ts's 3×3 and
 * conv-transpose4x4.ts's 4×4 kernels): their arguments, uniform blocks and the loops that split the operands by
 * image and channel range (conv-plan.ts). The two kernel sizes share all of it; each file keeps its WGSL (the tap
 * sets differ) and passes its sources in.
 *
 * Tiling, the same for both sizes: forward and dgrad one invocation per pixel × 4 channels (64 pixels per
 * workgroup, workgroup z = channel block); wgrad one invocation per (ci, co) pair holding all its taps, lanes
 * over co. Output channel chunks are independent; input channel chunks (forward) and output channel chunks
 * (dgrad) are a reduction whose later chunks accumulate.
 */
import { channelChunks, channelWindow } from './conv-plan.ts';
import { elementWindow, FLAG_ACCUMULATE, FLAG_BIAS, FLAG_RELU, uniformBlock, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

/** Arguments of a stride-2 transposed convolution [N, Cin, H, W] -> [N, Cout, 2H, 2W], weight [Cin, Cout, k, k]. */
export interface ConvTransposeS2Args {
  /** [N, Cin, H, W]. */
  readonly input: BufferRange;
  /** [Cin, Cout, k, k] (PyTorch layout). */
  readonly weight: BufferRange;
  readonly bias: BufferRange | null;
  /** [N, Cout, 2H, 2W], written. */
  readonly out: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Input height and width. */
  readonly height: number;
  readonly width: number;
  /** Fuse a ReLU into the epilogue. */
  readonly relu: boolean;
}

export interface ConvTransposeS2DgradArgs {
  /** [N, Cout, 2H, 2W]. */
  readonly gradOut: BufferRange;
  readonly weight: BufferRange;
  /** [N, Cin, H, W], written. */
  readonly gradInput: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly height: number;
  readonly width: number;
}

export interface ConvTransposeS2WgradArgs {
  readonly input: BufferRange;
  readonly gradOut: BufferRange;
  /** [Cin, Cout, k, k], written (or added to, with `accumulate`). */
  readonly gradWeight: BufferRange;
  readonly accumulate?: boolean;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly height: number;
  readonly width: number;
}

/** Invocations per workgroup of every direct transposed-conv kernel. */
export const TRANSPOSE_WG = 64;
/** Channels per invocation in forward and dgrad: one vec4 accumulator. */
export const TRANSPOSE_CB = 4;

export const TRANSPOSE_FORWARD_UNIFORMS = uniformBlock([
  'xBase',
  'yBase',
  'ciStart',
  'coStart',
  'bBase',
  'H',
  'W',
  'ciCount',
  'coCount',
  'cout',
  'flags',
]);

export const TRANSPOSE_DGRAD_UNIFORMS = uniformBlock([
  'gyBase',
  'gxBase',
  'ciStart',
  'coStart',
  'H',
  'W',
  'coCount',
  'ciCount',
  'cout',
  'accumulate',
]);

export const TRANSPOSE_WGRAD_UNIFORMS = uniformBlock([
  'xBase',
  'gyBase',
  'gwBase',
  'ciStart',
  'coStart',
  'H',
  'W',
  'ciCount',
  'coCount',
  'cout',
  'accumulate',
]);

/** How a kernel size's forward shaders cover the output: one dispatch per source, each over `pixels` invocations. */
export interface TransposeForwardPasses {
  readonly sources: readonly string[];
  /** Pixels one dispatch covers, given the input's H·W (a parity class covers H·W, a generic shader 4·H·W). */
  readonly pixels: (hw: number) => number;
}

/** Forward over every (image, output chunk, input chunk) window; `taps` = k·k. */
export function runTransposeS2Forward(
  ctx: KernelContext,
  a: ConvTransposeS2Args,
  label: string,
  taps: number,
  passes: TransposeForwardPasses,
): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} output`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * taps);
  const b = a.bias ? elementWindow(ctx, a.bias, 0, cout) : null;
  const grid = workgroupGrid(ctx, Math.ceil(passes.pixels(hw) / TRANSPOSE_WG));
  for (let n = 0; n < N; n++) {
    for (const co of coChunks) {
      ciChunks.forEach((ci, k) => {
        const first = k === 0;
        const last = k === ciChunks.length - 1;
        const x = channelWindow(ctx, a.input, n, cin, hw, ci);
        const y = channelWindow(ctx, a.out, n, cout, 4 * hw, co);
        const flags = (first && b ? FLAG_BIAS : 0) | (first ? 0 : FLAG_ACCUMULATE) | (last && a.relu ? FLAG_RELU : 0);
        for (const source of passes.sources) {
          ctx.dispatch({
            label,
            pipeline: ctx.pipeline(source, label),
            // Without a bias the weights stand in for the (unread) bias binding.
            bindings: [x.range, w.range, b?.range ?? w.range, y.range],
            uniforms: TRANSPOSE_FORWARD_UNIFORMS.pack({
              xBase: x.base,
              yBase: y.base,
              ciStart: ci.start,
              coStart: co.start,
              bBase: b?.base ?? 0,
              H,
              W,
              ciCount: ci.count,
              coCount: co.count,
              cout,
              flags,
            }),
            workgroups: [grid[0], grid[1], Math.ceil(co.count / TRANSPOSE_CB)],
          });
        }
      });
    }
  }
}

/** dgrad over every (image, input chunk, output chunk) window, one invocation per input pixel × 4 channels. */
export function runTransposeS2Dgrad(
  ctx: KernelContext,
  a: ConvTransposeS2DgradArgs,
  label: string,
  taps: number,
  source: string,
): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const ciChunks = channelChunks(ctx, cin, hw, `${label} gradInput`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * taps);
  const grid = workgroupGrid(ctx, Math.ceil(hw / TRANSPOSE_WG));
  for (let n = 0; n < N; n++) {
    for (const ci of ciChunks) {
      coChunks.forEach((co, k) => {
        const gy = channelWindow(ctx, a.gradOut, n, cout, 4 * hw, co);
        const gx = channelWindow(ctx, a.gradInput, n, cin, hw, ci);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(source, label),
          bindings: [gy.range, w.range, gx.range],
          uniforms: TRANSPOSE_DGRAD_UNIFORMS.pack({
            gyBase: gy.base,
            gxBase: gx.base,
            ciStart: ci.start,
            coStart: co.start,
            H,
            W,
            coCount: co.count,
            ciCount: ci.count,
            cout,
            accumulate: k > 0 ? 1 : 0,
          }),
          workgroups: [grid[0], grid[1], Math.ceil(ci.count / TRANSPOSE_CB)],
        });
      });
    }
  }
}

/** wgrad over every (image, input chunk, output chunk) window; images accumulate dispatch after dispatch. */
export function runTransposeS2Wgrad(
  ctx: KernelContext,
  a: ConvTransposeS2WgradArgs,
  label: string,
  taps: number,
  source: string,
): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const gw = elementWindow(ctx, a.gradWeight, 0, cin * cout * taps);
  for (let n = 0; n < N; n++) {
    for (const ci of ciChunks) {
      for (const co of coChunks) {
        const x = channelWindow(ctx, a.input, n, cin, hw, ci);
        const g = channelWindow(ctx, a.gradOut, n, cout, 4 * hw, co);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(source, label),
          bindings: [x.range, g.range, gw.range],
          uniforms: TRANSPOSE_WGRAD_UNIFORMS.pack({
            xBase: x.base,
            gyBase: g.base,
            gwBase: gw.base,
            ciStart: ci.start,
            coStart: co.start,
            H,
            W,
            ciCount: ci.count,
            coCount: co.count,
            cout,
            accumulate: n > 0 || a.accumulate ? 1 : 0,
          }),
          workgroups: [Math.ceil(co.count / TRANSPOSE_WG), ci.count],
        });
      }
    }
  }
}
