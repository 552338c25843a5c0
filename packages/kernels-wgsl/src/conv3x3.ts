/**
 * 3×3 convolution, stride 1, padding 1, NCHW, PyTorch weight layout [Cout, Cin, 3, 3]:
 * forward with a fused bias + ReLU epilogue, input gradient (dgrad) and weight gradient (wgrad).
 *
 * dgrad is the forward convolution of the output gradient with the weights transposed (ci ↔ co) and flipped
 * (ky, kx → 2 − ky, 2 − kx), so both share one shader generator that differs only in how weights are indexed.
 *
 * Baseline tiling ("direct"): one invocation per output pixel and COB = 4 output channels, 64 invocations
 * (consecutive pixels) per workgroup, workgroup z = block of output channels. All invocations of a workgroup
 * read the same weights (uniform addresses, which llvmpipe loads once per SIMD batch) and neighbouring pixels
 * (which share cache lines). Padding is a bounds check per tap row/column. No workgroup memory, no barriers:
 * on CPU adapters, lanes are SIMD lanes and barriers split the loop.
 *
 * Operands larger than one storage binding are split by image and by channel ranges (conv-plan.ts); the
 * concatenated-channel input of a U-Net decoder arrives as several segments, each a partial sum over its
 * channels, so skip connections need no concatenation copy.
 */

import { type ChannelChunk, channelChunks, channelWindow, imagesPerWindow } from './conv-plan.ts';
import {
  packConv3x3Weights,
  runSubgroupConv,
  runSubgroupWgrad,
  type SubgroupBlocking,
  subgroupBlock,
  subgroupConvBlocking,
} from './conv3x3-subgroup.ts';
import { elementWindow, f32Bindings, packUniforms, perElementMain, workgroupGrid } from './layout.ts';
import type { BufferRange, ContentKey, KernelContext } from './runtime.ts';
import { directWeights, readsWeightsInPlace } from './subgroup-codegen.ts';
import { GEMM_TILE, tiledGemmMain } from './tiled-gemm.ts';
import { runSelectedVariant } from './variants.ts';
import { dispatchTiledWgrad } from './wgrad-tiled.ts';

/** A tensor [N, channels, H, W] that is one segment of a channel concatenation. */
export interface ChannelSegment {
  readonly range: BufferRange;
  readonly channels: number;
}

export interface Conv3x3ForwardArgs {
  /** Input segments concatenated along channels (one segment for a plain convolution). */
  readonly input: readonly ChannelSegment[];
  /** [Cout, Cin, 3, 3], Cin = total channels of `input`. */
  readonly weight: BufferRange;
  /** The weight's content key: kernels that repack the weight keep the packing while it is unchanged. */
  readonly weightKey?: ContentKey;
  /** [Cout], or null for no bias. */
  readonly bias: BufferRange | null;
  /** [N, Cout, H, W]. */
  readonly out: BufferRange;
  /**
   * No gradient will be asked of this call (inference, validation): the Winograd rows keep their transformed
   * weights for such calls while the weight is unchanged (in a training step the next Adam update would make
   * them stale).
   */
  readonly inference?: boolean;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly relu: boolean;
}

export interface Conv3x3DgradArgs {
  /** Gradient of the output, [N, Cout, H, W]. */
  readonly gradOut: BufferRange;
  readonly weight: BufferRange;
  /** As in the forward's arguments. */
  readonly weightKey?: ContentKey;
  /**
   * Gradient of each input segment, [N, channels, H, W] each (written, not accumulated); a null range skips a
   * segment whose gradient nobody needs.
   */
  readonly gradInput: readonly { readonly range: BufferRange | null; readonly channels: number }[];
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
}

export interface Conv3x3WgradArgs {
  readonly input: readonly ChannelSegment[];
  readonly gradOut: BufferRange;
  /** [Cout, Cin, 3, 3], written (or added to, with `accumulate`). */
  readonly gradWeight: BufferRange;
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly outChannels: number;
  readonly accumulate?: boolean;
}

const WG = 64;
const COB = 4;

interface DirectShape {
  mode: 'forward' | 'dgrad';
  H: number;
  W: number;
  /** Channels of the bound input window (the reduction of this dispatch). */
  ciCount: number;
  /** Channels of the bound output window. */
  coCount: number;
  /** Weight tensor dims [Cout_fwd, Cin_fwd]. */
  wOut: number;
  wIn: number;
  bias: boolean;
  accumulate: boolean;
  relu: boolean;
}

/** The direct and tiled kernels' bindings: 'auto' layouts drop unused ones, so b exists only when read. */
function directBindings(bias: boolean): string {
  return f32Bindings(
    bias ? ['x', 'w', 'b'] : ['x', 'w'],
    'y',
    'struct Params { xBase: u32, yBase: u32, ciStart: u32, coStart: u32, bBase: u32 }',
  );
}
/**
 * One dispatch computes out[co, p] (+)= Σ_{ci < ciCount} Σ_taps in[ci, p + tap] · weight(coStart + co,
 * ciStart + ci, tap) for the bound windows, then the epilogue (bias, accumulate, ReLU).
 */
function directSource(s: DirectShape): string {
  const weightIndex =
    s.mode === 'forward'
      ? `((u.coStart + co) * ${s.wIn}u + u.ciStart + ci) * 9u + ky * 3u + kx`
      : // dgrad: output channel = forward input channel, reduction over forward output channels, flipped taps.
        `((u.ciStart + ci) * ${s.wIn}u + u.coStart + co) * 9u + (2u - ky) * 3u + (2u - kx)`;
  const hw = s.H * s.W;
  return /* wgsl */ `
${directBindings(s.bias)}

fn weightAt(co: u32, ci: u32, ky: u32, kx: u32) -> f32 {
  if (co >= ${s.coCount}u) { return 0.0; }
  return w[${weightIndex}];
}

${perElementMain(WG, 'p', `${hw}u`)}
  let co0 = wid.z * ${COB}u;
  let oy = p / ${s.W}u;
  let ox = p % ${s.W}u;
  var acc = vec4<f32>(0.0);
  for (var ci = 0u; ci < ${s.ciCount}u; ci++) {
    let plane = u.xBase + ci * ${hw}u;
    for (var ky = 0u; ky < 3u; ky++) {
      let iy = i32(oy) + i32(ky) - 1;
      if (iy < 0 || iy >= ${s.H}) { continue; }
      for (var kx = 0u; kx < 3u; kx++) {
        let ix = i32(ox) + i32(kx) - 1;
        if (ix < 0 || ix >= ${s.W}) { continue; }
        let v = x[plane + u32(iy) * ${s.W}u + u32(ix)];
        let wv = vec4<f32>(weightAt(co0, ci, ky, kx), weightAt(co0 + 1u, ci, ky, kx),
                           weightAt(co0 + 2u, ci, ky, kx), weightAt(co0 + 3u, ci, ky, kx));
        acc += v * wv;
      }
    }
  }
  for (var j = 0u; j < ${COB}u; j++) {
    let co = co0 + j;
    if (co >= ${s.coCount}u) { break; }
    let idx = u.yBase + co * ${hw}u + p;
    var v = acc[j];
    ${s.bias ? 'v += b[u.bBase + u.coStart + co];' : ''}
    ${s.accumulate ? 'v += y[idx];' : ''}
    ${s.relu ? 'v = select(v, 0.0, v < 0.0);' : ''}
    y[idx] = v;
  }
}`;
}

/**
 * GPU variant ("tiled" implicit GEMM, tiled-gemm.ts's skeleton): out[co, p] = Σ_k W[co, k] · X[k, p] with
 * k = (ci, ky, kx) and X the im2col view of the input, gathered on the fly (padding becomes zeros). A workgroup
 * of 16×16 invocations computes a 64 (channels) × 64 (pixels) output tile, staging 16-deep k-steps in workgroup
 * memory. On a GPU this trades 2×16 global loads per k-step for 256 FMAs per invocation; on a CPU adapter the
 * barriers serialise the lanes, so lavapipe uses the direct kernel instead.
 */
function tiledSource(s: DirectShape): string {
  const K = s.ciCount * 9;
  const hw = s.H * s.W;
  const weightIndex =
    s.mode === 'forward'
      ? `(u.coStart + co) * ${s.wIn * 9}u + u.ciStart * 9u + k`
      : `(u.ciStart + k / 9u) * ${s.wIn * 9}u + (u.coStart + co) * 9u + 8u - k % 9u`;
  return `${directBindings(s.bias)}
${tiledGemmMain({
  pixel: 'p',
  channel: 'co',
  pixels: `${hw}u`,
  channels: `${s.coCount}u`,
  prelude: '',
  K: `${K}u`,
  stage: /* wgsl */ `
      let co = co0 + m;
      var wv = 0.0;
      if (k < ${K}u && co < ${s.coCount}u) { wv = w[${weightIndex}]; }
      ws[idx] = wv;
      let p = p0 + m;
      var xv = 0.0;
      if (k < ${K}u && p < ${hw}u) {
        let ci = k / 9u;
        let t = k % 9u;
        let iy = i32(p / ${s.W}u) + i32(t / 3u) - 1;
        let ix = i32(p % ${s.W}u) + i32(t % 3u) - 1;
        if (iy >= 0 && iy < ${s.H} && ix >= 0 && ix < ${s.W}) {
          xv = x[u.xBase + ci * ${hw}u + u32(iy) * ${s.W}u + u32(ix)];
        }
      }
      xs[idx] = xv;`,
  index: `u.yBase + co * ${hw}u + p`,
  store: /* wgsl */ `      ${s.bias ? 'v += b[u.bBase + u.coStart + co];' : ''}
      ${s.accumulate ? 'v += y[idx];' : ''}
      ${s.relu ? 'v = select(v, 0.0, v < 0.0);' : ''}
      y[idx] = v;`,
})}`;
}

/** The tilings `runDirect` dispatches: the baseline and the workgroup-memory GEMM (GPUs). */
type Tiling = 'direct' | 'tiled';

const VARIANTS: Record<Tiling, { source(s: DirectShape): string; pixelsPerGroup: number; channelsPerGroup: number }> = {
  direct: { source: directSource, pixelsPerGroup: WG, channelsPerGroup: COB },
  tiled: { source: tiledSource, pixelsPerGroup: GEMM_TILE, channelsPerGroup: GEMM_TILE },
};

interface DirectPass {
  input: BufferRange;
  inChannels: number;
  /** Offset of the bound input's channel 0 in the weight's reduction dimension. */
  ciOffset: number;
  out: BufferRange;
  outChannels: number;
  coOffset: number;
}

/** Run the direct kernel over all images and channel chunks: out (+)= conv(in) with the epilogue on the last. */
function runDirect(
  ctx: KernelContext,
  mode: 'forward' | 'dgrad',
  label: string,
  pass: DirectPass,
  weight: BufferRange,
  bias: BufferRange | null,
  dims: { N: number; H: number; W: number; wOut: number; wIn: number },
  epilogue: { firstWrites: boolean; relu: boolean },
  tiling: Tiling,
): void {
  const { N, H, W } = dims;
  const hw = H * W;
  const ciChunks = channelChunks(ctx, pass.inChannels, hw, `${label} input`);
  const coChunks = channelChunks(ctx, pass.outChannels, hw, `${label} output`);
  const w = elementWindow(ctx, weight, 0, dims.wOut * dims.wIn * 9);
  const b = bias ? elementWindow(ctx, bias, 0, dims.wOut) : null;
  const variant = VARIANTS[tiling];
  const pixelGrid = workgroupGrid(ctx, Math.ceil(hw / variant.pixelsPerGroup));
  for (let n = 0; n < N; n++) {
    for (const co of coChunks) {
      ciChunks.forEach((ci: ChannelChunk, k) => {
        const first = k === 0 && epilogue.firstWrites;
        const last = k === ciChunks.length - 1;
        const addBias = first && b !== null;
        const source = variant.source({
          mode,
          H,
          W,
          ciCount: ci.count,
          coCount: co.count,
          wOut: dims.wOut,
          wIn: dims.wIn,
          bias: addBias,
          accumulate: !first,
          relu: last && epilogue.relu,
        });
        const x = channelWindow(ctx, pass.input, n, pass.inChannels, hw, ci);
        const y = channelWindow(ctx, pass.out, n, pass.outChannels, hw, co);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(source, label),
          bindings: addBias ? [x.range, w.range, b.range, y.range] : [x.range, w.range, y.range],
          uniforms: packUniforms([x.base, y.base, pass.ciOffset + ci.start, pass.coOffset + co.start, b?.base ?? 0]),
          workgroups: [pixelGrid[0], pixelGrid[1], Math.ceil(co.count / variant.channelsPerGroup)],
        });
      });
    }
  }
}

export const totalChannels = (segments: readonly { readonly channels: number }[]) =>
  segments.reduce((p, s) => p + s.channels, 0);

/**
 * The segments of a channel concatenation, each with `offset`, where its channels start in the weight's input
 * channel dimension, and whether it is the `first` or the `last`.
 */
export function withOffsets<S extends { readonly channels: number }>(
  segments: readonly S[],
): { seg: S; offset: number; first: boolean; last: boolean }[] {
  let offset = 0;
  return segments.map((seg, i) => {
    const placed = { seg, offset, first: i === 0, last: i === segments.length - 1 };
    offset += seg.channels;
    return placed;
  });
}

/**
 * A forward's passes over its input segments (everything but the weights): each segment's input and its offset in
 * Cin, the bias added by the first, which writes the output, the ReLU applied by the last, the others accumulating.
 */
export function forwardSegmentPasses(a: Conv3x3ForwardArgs, label: string) {
  return withOffsets(a.input).map(({ seg, offset, first, last }) => ({
    input: seg.range,
    inChannels: seg.channels,
    ciOffset: offset,
    out: a.out,
    outChannels: a.outChannels,
    bias: first ? a.bias : null,
    N: a.batch,
    H: a.height,
    W: a.width,
    firstWrites: first,
    relu: a.relu && last,
    label,
  }));
}

/** The shape part of the dispatch labels of forward and wgrad. */
const inputShapeLabel = (a: Pick<Conv3x3WgradArgs, 'batch' | 'input' | 'height' | 'width' | 'outChannels'>) =>
  `[${a.batch},${totalChannels(a.input)},${a.height},${a.width}] -> ${a.outChannels}`;

/** The forward pass under the adapter's variant (variants.ts); the dispatch labels name the variant. */
export function conv3x3Forward(ctx: KernelContext, a: Conv3x3ForwardArgs): void {
  runSelectedVariant(ctx, 'conv3x3', 'forward', a, 'conv3x3Forward', inputShapeLabel(a));
}

/** Forward runner of the 'subgroup' variant (conv3x3-subgroup.ts). */
export function conv3x3ForwardSubgroup(
  ctx: KernelContext,
  a: Conv3x3ForwardArgs,
  label: string,
  blocking?: SubgroupBlocking,
): void {
  const cin = totalChannels(a.input);
  const { maxR, rows } = blocking ?? subgroupConvBlocking(a.height, a.width);
  const R = subgroupBlock(a.outChannels, maxR);
  const passes = forwardSegmentPasses(a, label);
  if (readsWeightsInPlace(ctx, a.height, a.width, a.inference === true && a.weightKey !== undefined)) {
    // A block's rows (output channels) are Cin·9 apart, its reduction channels 9.
    const w = elementWindow(ctx, a.weight, 0, a.outChannels * cin * 9);
    const direct = directWeights(w, a.outChannels * cin * 9, 'forward', R, { row: cin * 9, channel: 9 });
    for (const pass of passes)
      runSubgroupConv(ctx, { ...pass, weights: { range: w.range, R, channels: cin, direct }, rows });
    return;
  }
  const weights = packConv3x3Weights(ctx, a.weight, 'forward', a.outChannels, cin, 0, a.outChannels, R, a.weightKey);
  for (const pass of passes) runSubgroupConv(ctx, { ...pass, weights, rows });
  weights.release();
}

/** Forward runner of the 'direct' and 'tiled' variants. */
export function conv3x3ForwardTiling(ctx: KernelContext, a: Conv3x3ForwardArgs, label: string, tiling: Tiling): void {
  const cin = totalChannels(a.input);
  for (const { seg, offset, first, last } of withOffsets(a.input)) {
    runDirect(
      ctx,
      'forward',
      label,
      {
        input: seg.range,
        inChannels: seg.channels,
        ciOffset: offset,
        out: a.out,
        outChannels: a.outChannels,
        coOffset: 0,
      },
      a.weight,
      a.bias,
      { N: a.batch, H: a.height, W: a.width, wOut: a.outChannels, wIn: cin },
      { firstWrites: first, relu: a.relu && last },
      tiling,
    );
  }
}

/** The input gradient under the adapter's variant (variants.ts). */
export function conv3x3Dgrad(ctx: KernelContext, a: Conv3x3DgradArgs): void {
  // Nothing wanted (the image under the first layer): no problem for the tuner to find either.
  if (a.gradInput.every((seg) => seg.range === null)) return;
  runSelectedVariant(
    ctx,
    'conv3x3',
    'dgrad',
    a,
    'conv3x3Dgrad',
    `[${a.batch},${a.outChannels},${a.height},${a.width}] -> ${totalChannels(a.gradInput)}`,
  );
}

/** dgrad runner of the 'subgroup' variant. */
export function conv3x3DgradSubgroup(
  ctx: KernelContext,
  a: Conv3x3DgradArgs,
  label: string,
  blocking?: SubgroupBlocking,
): void {
  const cin = totalChannels(a.gradInput);
  const { maxR, rows } = blocking ?? subgroupConvBlocking(a.height, a.width);
  const inPlace = readsWeightsInPlace(ctx, a.height, a.width, false);
  const w = elementWindow(ctx, a.weight, 0, a.outChannels * cin * 9);
  for (const { offset, channels, pass } of dgradSegmentPasses(a, label)) {
    // Each segment's gradient is the forward convolution of gradOut with its own slice of flipped weights.
    const R = subgroupBlock(channels, maxR);
    if (inPlace) {
      // For each gradOut channel (Cin·9 apart) the segment's input channels are one run of 9 taps each.
      const strides = { row: 9, channel: cin * 9, first: offset * 9 };
      const direct = directWeights(w, a.outChannels * cin * 9, 'dgrad', R, strides);
      runSubgroupConv(ctx, { ...pass, weights: { range: w.range, R, channels, direct }, rows });
      continue;
    }
    const weights = packConv3x3Weights(ctx, a.weight, 'dgrad', a.outChannels, cin, offset, channels, R, a.weightKey);
    runSubgroupConv(ctx, { ...pass, weights, rows });
    weights.release();
  }
}

/**
 * A dgrad's passes, one per input segment that wants its gradient (everything but the weights): the forward
 * convolution of gradOut into that segment, with `offset` and `channels`, the segment's slice of the weight's Cin.
 */
export function dgradSegmentPasses(a: Conv3x3DgradArgs, label: string) {
  return withOffsets(a.gradInput).flatMap(({ seg, offset }) =>
    seg.range
      ? [
          {
            offset,
            channels: seg.channels,
            pass: {
              input: a.gradOut,
              inChannels: a.outChannels,
              ciOffset: 0,
              out: seg.range,
              outChannels: seg.channels,
              bias: null,
              N: a.batch,
              H: a.height,
              W: a.width,
              firstWrites: true,
              relu: false,
              label,
            },
          },
        ]
      : [],
  );
}

/** dgrad runner of the 'direct' and 'tiled' variants. */
export function conv3x3DgradTiling(ctx: KernelContext, a: Conv3x3DgradArgs, label: string, tiling: Tiling): void {
  const cin = totalChannels(a.gradInput);
  for (const { seg, offset } of withOffsets(a.gradInput)) {
    if (!seg.range) continue;
    // Each input segment's gradient is its own output: weight rows [offset, offset + channels).
    runDirect(
      ctx,
      'dgrad',
      label,
      {
        input: a.gradOut,
        inChannels: a.outChannels,
        ciOffset: 0,
        out: seg.range,
        outChannels: seg.channels,
        coOffset: offset,
      },
      a.weight,
      null,
      { N: a.batch, H: a.height, W: a.width, wOut: a.outChannels, wIn: cin },
      { firstWrites: true, relu: false },
      tiling,
    );
  }
}

/**
 * wgrad baseline: one invocation per (co, ci) pair accumulates its 9 taps over every pixel of one image;
 * lanes run over consecutive ci (the gradient value gy[co, p] is uniform across a workgroup's lanes).
 * Images (and channel chunks) are separate dispatches that accumulate.
 */
function wgradSource(H: number, W: number, ciCount: number, coCount: number, cin: number, accumulate: boolean) {
  const hw = H * W;
  return /* wgsl */ `
${f32Bindings(['x', 'gy'], 'gw', 'struct Params { xBase: u32, gyBase: u32, gwBase: u32, ciStart: u32, coStart: u32 }')}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ci = wid.x * ${WG}u + lid;
  let co = wid.y;
  if (ci >= ${ciCount}u || co >= ${coCount}u) { return; }
  var acc: array<f32, 9>;
  for (var t = 0u; t < 9u; t++) { acc[t] = 0.0; }
  let xPlane = u.xBase + ci * ${hw}u;
  let gPlane = u.gyBase + co * ${hw}u;
  for (var oy = 0u; oy < ${H}u; oy++) {
    for (var ox = 0u; ox < ${W}u; ox++) {
      let g = gy[gPlane + oy * ${W}u + ox];
      for (var ky = 0u; ky < 3u; ky++) {
        let iy = i32(oy) + i32(ky) - 1;
        if (iy < 0 || iy >= ${H}) { continue; }
        for (var kx = 0u; kx < 3u; kx++) {
          let ix = i32(ox) + i32(kx) - 1;
          if (ix < 0 || ix >= ${W}) { continue; }
          acc[ky * 3u + kx] += g * x[xPlane + u32(iy) * ${W}u + u32(ix)];
        }
      }
    }
  }
  let base = u.gwBase + ((u.coStart + co) * ${cin}u + u.ciStart + ci) * 9u;
  for (var t = 0u; t < 9u; t++) {
    gw[base + t] = ${accumulate ? 'gw[base + t] + ' : ''}acc[t];
  }
}`;
}

/** The weight gradient under the adapter's variant (variants.ts). */
export function conv3x3Wgrad(ctx: KernelContext, a: Conv3x3WgradArgs): void {
  runSelectedVariant(ctx, 'conv3x3', 'wgrad', a, 'conv3x3Wgrad', inputShapeLabel(a));
}

/** wgrad runner of the 'subgroup' variant. */
export function conv3x3WgradSubgroup(
  ctx: KernelContext,
  a: Conv3x3WgradArgs,
  label: string,
  block: { rco?: number; stripRows?: number } = {},
): void {
  const cin = totalChannels(a.input);
  for (const { seg, offset } of withOffsets(a.input)) {
    runSubgroupWgrad(ctx, {
      ...block,
      input: seg.range,
      inChannels: seg.channels,
      ciOffset: offset,
      gradOut: a.gradOut,
      outChannels: a.outChannels,
      gradWeight: a.gradWeight,
      weightCin: cin,
      N: a.batch,
      H: a.height,
      W: a.width,
      accumulate: a.accumulate ?? false,
      label,
    });
  }
}

/** wgrad runner of the 'direct' variant. */
export function conv3x3WgradDirect(ctx: KernelContext, a: Conv3x3WgradArgs, label: string): void {
  const cin = totalChannels(a.input);
  const H = a.height;
  const W = a.width;
  const hw = H * W;
  const gw = elementWindow(ctx, a.gradWeight, 0, a.outChannels * cin * 9);
  const coChunks = channelChunks(ctx, a.outChannels, hw, `${label} gradOut`);
  for (const { seg, offset } of withOffsets(a.input)) {
    const ciChunks = channelChunks(ctx, seg.channels, hw, `${label} input`);
    for (let n = 0; n < a.batch; n++) {
      for (const co of coChunks) {
        for (const ci of ciChunks) {
          const x = channelWindow(ctx, seg.range, n, seg.channels, hw, ci);
          const g = channelWindow(ctx, a.gradOut, n, a.outChannels, hw, co);
          // Other segments cover other weight columns: the first image of each segment writes them.
          const source = wgradSource(H, W, ci.count, co.count, cin, (a.accumulate ?? false) || n > 0);
          ctx.dispatch({
            label,
            pipeline: ctx.pipeline(source, label),
            bindings: [x.range, g.range, gw.range],
            uniforms: packUniforms([x.base, g.base, gw.base, offset + ci.start, co.start]),
            workgroups: [Math.ceil(ci.count / WG), co.count],
          });
        }
      }
    }
  }
}

/** wgrad runner of the 'tiled' variant (GPUs). */
export function conv3x3WgradTiled(ctx: KernelContext, a: Conv3x3WgradArgs, label: string): void {
  const cin = totalChannels(a.input);
  const { height: H, width: W, outChannels: cout } = a;
  const HW = H * W;
  const gw = elementWindow(ctx, a.gradWeight, 0, cout * cin * 9);
  const coChunks = channelChunks(ctx, cout, HW, `${label} gradOut`);
  for (const { seg, offset } of withOffsets(a.input)) {
    for (const ci of channelChunks(ctx, seg.channels, HW, `${label} input`)) {
      for (const co of coChunks) {
        const outBase = gw.base + (co.start * cin + offset + ci.start) * 9;
        for (let n0 = 0; n0 < a.batch; ) {
          // As many images per dispatch as both windows hold: the pixels of all of them are one reduction.
          const k = Math.min(
            imagesPerWindow(ctx, seg.channels, HW, ci, a.batch - n0),
            imagesPerWindow(ctx, cout, HW, co, a.batch - n0),
          );
          const x = elementWindow(
            ctx,
            seg.range,
            (n0 * seg.channels + ci.start) * HW,
            ((k - 1) * seg.channels + ci.count) * HW,
          );
          const g = elementWindow(ctx, a.gradOut, (n0 * cout + co.start) * HW, ((k - 1) * cout + co.count) * HW);
          dispatchTiledWgrad(ctx, {
            mode: 'conv',
            rows: g,
            cols: x,
            rowImage: cout * HW,
            colImage: seg.channels * HW,
            H,
            W,
            images: k,
            rowCount: co.count,
            colChannels: ci.count,
            gradWeight: gw,
            outBase,
            rowStride: cin,
            accumulate: (a.accumulate ?? false) || n0 > 0,
            label,
          });
          n0 += k;
        }
      }
    }
  }
}
