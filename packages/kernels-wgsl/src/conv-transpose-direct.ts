/**
 * What the direct stride-2 transposed convolutions (conv-transpose.ts's 3×3 and conv-transpose4x4.ts's 4×4
 * kernels) share: their arguments, uniform blocks, the dgrad and wgrad shaders (generated for the kernel size k),
 * the forward shader's frame, and the loops that split the operands by image and channel range (conv-plan.ts),
 * which also dispatch the 'tiled' variant's shaders (conv-transpose-tiled.ts).
 * Each size keeps only its forward tap loop: the 3×3 one unrolls a tap set per output parity, the 4×4 one is
 * generic over parities.
 *
 * Tiling, the same for both sizes: forward and dgrad one invocation per pixel × 4 channels (64 pixels per
 * workgroup, workgroup z = channel block); wgrad one invocation per (ci, co) pair holding all its taps, lanes
 * over co. Output channel chunks are independent; input channel chunks (forward) and output channel chunks
 * (dgrad) are a reduction whose later chunks accumulate.
 */
import type { ConvDgradOperands, ConvForwardOperands, ConvWgradOperands } from './conv-plan.ts';
import { channelChunks, channelWindow } from './conv-plan.ts';
import {
  chunkEpilogueFlags,
  elementWindow,
  f32Bindings,
  flagEpilogue,
  memoSource,
  perElementMain,
  uniformBlock,
  workgroupGrid,
} from './layout.ts';
import type { KernelContext } from './runtime.ts';

/**
 * Arguments of a stride-2 transposed convolution: input [N, Cin, H, W] -> out [N, Cout, 2H, 2W], weight
 * [Cin, Cout, k, k] (PyTorch layout).
 */
export interface ConvTransposeS2Args extends ConvForwardOperands {
  /** Input height and width. */
  readonly height: number;
  readonly width: number;
  /** Fuse a ReLU into the epilogue. */
  readonly relu: boolean;
  /**
   * No gradient will be asked of this call (inference, validation): the subgroup kernel then reads a packed copy
   * of the weights kept while they are unchanged, else the weight tensor in place on small planes.
   */
  readonly inference?: boolean;
}

/** gradOut [N, Cout, 2H, 2W] -> gradInput [N, Cin, H, W]. */
export interface ConvTransposeS2DgradArgs extends ConvDgradOperands {
  readonly height: number;
  readonly width: number;
}

/** gradWeight [Cin, Cout, k, k], written (or added to, with `accumulate`). */
export interface ConvTransposeS2WgradArgs extends ConvWgradOperands {
  readonly accumulate?: boolean;
  readonly height: number;
  readonly width: number;
}

/** Invocations per workgroup of every direct transposed-conv kernel. */
const TRANSPOSE_WG = 64;
/** Channels per invocation in forward and dgrad: one vec4 accumulator. */
const TRANSPOSE_CB = 4;

const TRANSPOSE_FORWARD_UNIFORMS = uniformBlock([
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

const TRANSPOSE_DGRAD_UNIFORMS = uniformBlock([
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

const TRANSPOSE_WGRAD_UNIFORMS = uniformBlock([
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

/** The forward kernels' bindings: x, w and b read, y written, then the forward uniforms (the runner's order). */
export const TRANSPOSE_FORWARD_BINDINGS = f32Bindings(['x', 'w', 'b'], 'y', TRANSPOSE_FORWARD_UNIFORMS.wgsl);

/** The dgrad kernels' bindings: gy and w read, gx written, then the dgrad uniforms. */
export const TRANSPOSE_DGRAD_BINDINGS = f32Bindings(['gy', 'w'], 'gx', TRANSPOSE_DGRAD_UNIFORMS.wgsl);

/** What a k×k kernel's forward shader puts inside `transposeForwardSource`'s frame. */
export interface TransposeForwardBody {
  /** The name and count (WGSL) of the pixels one invocation each takes; invocations past the count return. */
  readonly pixel: string;
  readonly pixels: string;
  /** Sets `p` (the output pixel in its plane) and `acc` (the sums of the invocation's 4 output channels). */
  readonly body: string;
  /** The WGSL for the output plane's size. */
  readonly outPlane: string;
}

/**
 * The forward shader of a k×k kernel around `main`'s body: one invocation per pixel × 4 output channels from
 * `co0`; the epilogue adds the bias, the earlier input chunks' partial sums and the ReLU as `u.flags` ask.
 */
export function transposeForwardSource(k: number, { pixel, pixels, body, outPlane }: TransposeForwardBody): string {
  return /* wgsl */ `
${TRANSPOSE_FORWARD_BINDINGS}

fn weightAt(ci: u32, co: u32, tap: u32) -> f32 {
  if (co >= u.coCount) { return 0.0; }
  return w[((u.ciStart + ci) * u.cout + u.coStart + co) * ${k * k}u + tap];
}

${perElementMain(TRANSPOSE_WG, pixel, pixels)}
  _ = &b;
  let co0 = wid.z * ${TRANSPOSE_CB}u;
${body}  for (var j = 0u; j < ${TRANSPOSE_CB}u; j++) {
    let co = co0 + j;
    if (co >= u.coCount) { break; }
    let idx = u.yBase + co * ${outPlane} + p;
    var v = acc[j];
${flagEpilogue('u.bBase + u.coStart + co', '    ')}  }
}`;
}

/**
 * The tap count and edge tests of a k×k kernel's gather from gy: oy = 2·iy − 1 + ky < 0 only at ky = 0, iy = 0; oy ≥ 2H only
 * when ky ≥ 3 (2·(H − 1) − 1 + ky ≥ 2H), so the 3×3 kernels test the lower edge alone.
 */
function gatherEdges(k: number): { taps: number; ho: string; rowEnd: string; colEnd: string } {
  return k > 3
    ? { taps: k * k, ho: '  let Ho = 2u * u.H;\n', rowEnd: ' || oy >= i32(Ho)', colEnd: ' || ox >= i32(Wo)' }
    : { taps: k * k, ho: '', rowEnd: '', colEnd: '' };
}

/**
 * Opens the loops over the taps (ky, kx) of input pixel (iy, ix) whose output pixel (oy, ox) = (2iy − 1 + ky,
 * 2ix − 1 + kx) lies inside the 2H × 2W gradient; the caller's body and two closing braces follow.
 */
function gatherTapLoops(k: number, indent: string): string {
  const { rowEnd, colEnd } = gatherEdges(k);
  const lines = [
    `for (var ky = 0u; ky < ${k}u; ky++) {`,
    '  let oy = i32(2u * iy + ky) - 1;',
    `  if (oy < 0${rowEnd}) { continue; }`,
    `  for (var kx = 0u; kx < ${k}u; kx++) {`,
    '    let ox = i32(2u * ix + kx) - 1;',
    `    if (ox < 0${colEnd}) { continue; }`,
  ];
  return lines.map((line) => `${indent}${line}\n`).join('');
}

/**
 * dgrad of a k×k kernel: gx[ci, iy, ix] = Σ_{co, ky, kx} gy[co, 2iy − 1 + ky, 2ix − 1 + kx] · w[ci, co, ky, kx],
 * taps outside the output skipped. One invocation per input pixel × 4 input channels, reduction over co.
 */
const transposeDgradSource = memoSource((k: number): string => {
  const { taps, ho } = gatherEdges(k);
  return /* wgsl */ `
${TRANSPOSE_DGRAD_BINDINGS}

fn weightAt(ci: u32, co: u32, tap: u32) -> f32 {
  if (ci >= u.ciCount) { return 0.0; }
  return w[((u.ciStart + ci) * u.cout + u.coStart + co) * ${taps}u + tap];
}

${perElementMain(TRANSPOSE_WG, 'p', 'u.H * u.W')}
  let hw = u.H * u.W;
${ho}  let Wo = 2u * u.W;
  let ci0 = wid.z * ${TRANSPOSE_CB}u;
  let iy = p / u.W;
  let ix = p % u.W;
  var acc = vec4<f32>(0.0);
  for (var co = 0u; co < u.coCount; co++) {
    let plane = u.gyBase + co * 4u * hw;
${gatherTapLoops(k, '    ')}        let g = gy[plane + u32(oy) * Wo + u32(ox)];
        let t = ky * ${k}u + kx;
        acc += g * vec4<f32>(weightAt(ci0, co, t), weightAt(ci0 + 1u, co, t), weightAt(ci0 + 2u, co, t),
                             weightAt(ci0 + 3u, co, t));
      }
    }
  }
  for (var j = 0u; j < ${TRANSPOSE_CB}u; j++) {
    let ci = ci0 + j;
    if (ci >= u.ciCount) { break; }
    let idx = u.gxBase + ci * hw + p;
    var v = acc[j];
    if (u.accumulate != 0u) { v += gx[idx]; }
    gx[idx] = v;
  }
}`;
});

/**
 * wgrad of a k×k kernel: gw[ci, co, ky, kx] = Σ_{n, iy, ix} x[ci, iy, ix] · gy[co, 2iy − 1 + ky, 2ix − 1 + kx]:
 * one invocation per (ci, co) pair holding its k·k taps, lanes over co (x[ci, ·] is uniform across the
 * workgroup's lanes); images accumulate dispatch after dispatch.
 */
const transposeWgradSource = memoSource((k: number): string => {
  const { taps, ho } = gatherEdges(k);
  return /* wgsl */ `
${f32Bindings(['x', 'gy'], 'gw', TRANSPOSE_WGRAD_UNIFORMS.wgsl)}

@compute @workgroup_size(${TRANSPOSE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let co = wid.x * ${TRANSPOSE_WG}u + lid;
  let ci = wid.y;
  if (co >= u.coCount || ci >= u.ciCount) { return; }
  let hw = u.H * u.W;
${ho}  let Wo = 2u * u.W;
  var acc: array<f32, ${taps}>;
  for (var t = 0u; t < ${taps}u; t++) { acc[t] = 0.0; }
  let xPlane = u.xBase + ci * hw;
  let gPlane = u.gyBase + co * 4u * hw;
  for (var iy = 0u; iy < u.H; iy++) {
    for (var ix = 0u; ix < u.W; ix++) {
      let v = x[xPlane + iy * u.W + ix];
${gatherTapLoops(k, '      ')}          acc[ky * ${k}u + kx] += v * gy[gPlane + u32(oy) * Wo + u32(ox)];
        }
      }
    }
  }
  let base = u.gwBase + ((u.ciStart + ci) * u.cout + u.coStart + co) * ${taps}u;
  let keep = u.accumulate != 0u;
  for (var t = 0u; t < ${taps}u; t++) {
    var v = acc[t];
    if (keep) { v += gw[base + t]; }
    gw[base + t] = v;
  }
}`;
});

/**
 * How the workgroups of one dispatch cover its window: `pixels` output pixels each along the 2-D grid, `channels`
 * channels each along z. The runners below dispatch every variant whose shaders take the bindings and uniforms above.
 */
export interface TransposeWorkgroupTile {
  readonly pixels: number;
  readonly channels: number;
}

/** The direct kernels' workgroup: 64 pixels × one block of 4 channels. */
const DIRECT_TILE: TransposeWorkgroupTile = { pixels: TRANSPOSE_WG, channels: TRANSPOSE_CB };

/** How a kernel size's forward shaders cover the output: one dispatch per source, each over `pixels` invocations. */
export interface TransposeForwardPasses {
  readonly sources: readonly string[];
  /** Pixels one dispatch covers, given the input's H·W (a parity class covers H·W, a generic shader 4·H·W). */
  readonly pixels: (hw: number) => number;
  /** The shaders' workgroup (the direct kernels' by default). */
  readonly tile?: TransposeWorkgroupTile;
}

/** A dgrad shader taking `TRANSPOSE_DGRAD_BINDINGS` and its workgroup. */
export interface TransposeDgradPass {
  readonly source: string;
  readonly tile: TransposeWorkgroupTile;
}

/** Forward of a k×k kernel over every (image, output chunk, input chunk) window. */
export function runTransposeS2Forward(
  ctx: KernelContext,
  a: ConvTransposeS2Args,
  label: string,
  k: number,
  passes: TransposeForwardPasses,
): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} output`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * k * k);
  const b = a.bias ? elementWindow(ctx, a.bias, 0, cout) : null;
  const tile = passes.tile ?? DIRECT_TILE;
  const grid = workgroupGrid(ctx, Math.ceil(passes.pixels(hw) / tile.pixels));
  for (let n = 0; n < N; n++) {
    for (const co of coChunks) {
      ciChunks.forEach((ci, k) => {
        const x = channelWindow(ctx, a.input, n, cin, hw, ci);
        const y = channelWindow(ctx, a.out, n, cout, 4 * hw, co);
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
              flags: chunkEpilogueFlags(k, ciChunks.length, b !== null, a.relu),
            }),
            workgroups: [grid[0], grid[1], Math.ceil(co.count / tile.channels)],
          });
        }
      });
    }
  }
}

/** dgrad of a k×k kernel over every (image, input chunk, output chunk) window (the direct shader by default). */
export function runTransposeS2Dgrad(
  ctx: KernelContext,
  a: ConvTransposeS2DgradArgs,
  label: string,
  k: number,
  { source, tile }: TransposeDgradPass = { source: transposeDgradSource(k), tile: DIRECT_TILE },
): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const ciChunks = channelChunks(ctx, cin, hw, `${label} gradInput`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * k * k);
  const grid = workgroupGrid(ctx, Math.ceil(hw / tile.pixels));
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
            // Later gradOut chunks add their partial sums to the first one's.
            accumulate: k > 0 ? 1 : 0,
          }),
          workgroups: [grid[0], grid[1], Math.ceil(ci.count / tile.channels)],
        });
      });
    }
  }
}

/** wgrad of a k×k kernel over every (image, input chunk, output chunk) window. */
export function runTransposeS2Wgrad(ctx: KernelContext, a: ConvTransposeS2WgradArgs, label: string, k: number): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const source = transposeWgradSource(k);
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const gw = elementWindow(ctx, a.gradWeight, 0, cin * cout * k * k);
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
