/**
 * 1×1 convolution (a per-pixel matrix product over channels), NCHW, weight [Cout, Cin, 1, 1]: TernausNet's
 * final 32 -> 1 layer. y[co, p] = b[co] + Σ_ci w[co, ci] · x[ci, p].
 *
 * Forward and dgrad: one invocation per pixel × 4 output channels, 64 pixels per workgroup; the weights are
 * uniform across the workgroup. wgrad: gw[co, ci] = Σ_{n, p} gy[co, p] · x[ci, p] is a long reduction over
 * pixels with few outputs (32 for the final layer), so each (co, ci) gets a workgroup of 64 invocations striding
 * over the pixels, a tree reduction in workgroup memory, and one dispatch per image accumulating.
 */
import type { ConvDgradOperands, ConvForwardOperands, ConvWgradOperands } from './conv-plan.ts';
import { channelChunks, channelWindow } from './conv-plan.ts';
import { elementWindow, f32Bindings, packUniforms, perElementMain, workgroupGrid, workgroupTreeSum } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

/** input [N, Cin, P] -> out [N, Cout, P], weight [Cout, Cin]. */
export interface Conv1x1Args extends ConvForwardOperands {
  /** Pixels per image (H·W). */
  readonly pixels: number;
}

export interface Conv1x1DgradArgs extends ConvDgradOperands {
  readonly pixels: number;
}

/** gradWeight [Cout, Cin], written. */
export interface Conv1x1WgradArgs extends ConvWgradOperands {
  readonly pixels: number;
}

const WG = 64;
const COB = 4;

/**
 * out[o, p] (+)= Σ_{i < iCount} weight(oStart + o, iStart + i) · in[i, p]; `transposed` reads the weight as
 * [Cin, Cout] (dgrad: out = forward input channels).
 */
function matvecSource(
  P: number,
  iCount: number,
  oCount: number,
  wCols: number,
  transposed: boolean,
  bias: boolean,
  accumulate: boolean,
): string {
  const wIndex = transposed ? `(u.iStart + i) * ${wCols}u + u.oStart + o` : `(u.oStart + o) * ${wCols}u + u.iStart + i`;
  const params = 'struct Params { xBase: u32, yBase: u32, iStart: u32, oStart: u32, bBase: u32 }';
  return /* wgsl */ `
${f32Bindings(bias ? ['x', 'w', 'b'] : ['x', 'w'], 'y', params)}

fn weightAt(o: u32, i: u32) -> f32 {
  if (o >= ${oCount}u) { return 0.0; }
  return w[${wIndex}];
}

${perElementMain(WG, 'p', `${P}u`)}
  let o0 = wid.z * ${COB}u;
  var acc = vec4<f32>(0.0);
  for (var i = 0u; i < ${iCount}u; i++) {
    let v = x[u.xBase + i * ${P}u + p];
    acc += v * vec4<f32>(weightAt(o0, i), weightAt(o0 + 1u, i), weightAt(o0 + 2u, i), weightAt(o0 + 3u, i));
  }
  for (var j = 0u; j < ${COB}u; j++) {
    let o = o0 + j;
    if (o >= ${oCount}u) { break; }
    let idx = u.yBase + o * ${P}u + p;
    var v = acc[j];
    ${bias ? 'v += b[u.bBase + u.oStart + o];' : ''}
    ${accumulate ? 'v += y[idx];' : ''}
    y[idx] = v;
  }
}`;
}

function runMatvec(
  ctx: KernelContext,
  label: string,
  input: BufferRange,
  inCh: number,
  out: BufferRange,
  outCh: number,
  weight: BufferRange,
  bias: BufferRange | null,
  N: number,
  P: number,
  transposed: boolean,
): void {
  const iChunks = channelChunks(ctx, inCh, P, `${label} input`);
  const oChunks = channelChunks(ctx, outCh, P, `${label} output`);
  const w = elementWindow(ctx, weight, 0, inCh * outCh);
  const b = bias ? elementWindow(ctx, bias, 0, outCh) : null;
  const grid = workgroupGrid(ctx, Math.ceil(P / WG));
  const wCols = transposed ? outCh : inCh;
  for (let n = 0; n < N; n++) {
    for (const o of oChunks) {
      iChunks.forEach((i, k) => {
        const addBias = k === 0 && b !== null;
        const x = channelWindow(ctx, input, n, inCh, P, i);
        const y = channelWindow(ctx, out, n, outCh, P, o);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(matvecSource(P, i.count, o.count, wCols, transposed, addBias, k > 0), label),
          bindings: addBias ? [x.range, w.range, b.range, y.range] : [x.range, w.range, y.range],
          uniforms: packUniforms([x.base, y.base, i.start, o.start, b?.base ?? 0]),
          workgroups: [grid[0], grid[1], Math.ceil(o.count / COB)],
        });
      });
    }
  }
}

export function conv1x1Forward(ctx: KernelContext, a: Conv1x1Args): void {
  const label = `conv1x1Forward [${a.batch},${a.inChannels},${a.pixels}px] -> ${a.outChannels}`;
  runMatvec(ctx, label, a.input, a.inChannels, a.out, a.outChannels, a.weight, a.bias, a.batch, a.pixels, false);
}

export function conv1x1Dgrad(ctx: KernelContext, a: Conv1x1DgradArgs): void {
  const label = `conv1x1Dgrad [${a.batch},${a.outChannels},${a.pixels}px] -> ${a.inChannels}`;
  runMatvec(ctx, label, a.gradOut, a.outChannels, a.gradInput, a.inChannels, a.weight, null, a.batch, a.pixels, true);
}

function wgradSource(P: number, iCount: number, cin: number, accumulate: boolean): string {
  return /* wgsl */ `
${f32Bindings(['x', 'gy'], 'gw', 'struct Params { xBase: u32, gyBase: u32, gwBase: u32, iStart: u32, oStart: u32 }')}
var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x;
  let o = wid.y;
  var s = 0.0;
  for (var p = lid; p < ${P}u; p += ${WG}u) {
    s += gy[u.gyBase + o * ${P}u + p] * x[u.xBase + i * ${P}u + p];
  }
${workgroupTreeSum(WG, 'partial', 's', 'k')}
  if (lid == 0u && i < ${iCount}u) {
    let idx = u.gwBase + (u.oStart + o) * ${cin}u + u.iStart + i;
    gw[idx] = ${accumulate ? 'gw[idx] + ' : ''}partial[0];
  }
}`;
}

export function conv1x1Wgrad(ctx: KernelContext, a: Conv1x1WgradArgs): void {
  const { batch: N, inChannels: cin, outChannels: cout, pixels: P } = a;
  const label = `conv1x1Wgrad [${N},${cin},${P}px] -> ${cout}`;
  const iChunks = channelChunks(ctx, cin, P, `${label} input`);
  const oChunks = channelChunks(ctx, cout, P, `${label} gradOut`);
  const gw = elementWindow(ctx, a.gradWeight, 0, cin * cout);
  for (let n = 0; n < N; n++) {
    for (const i of iChunks) {
      for (const o of oChunks) {
        const x = channelWindow(ctx, a.input, n, cin, P, i);
        const g = channelWindow(ctx, a.gradOut, n, cout, P, o);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(wgradSource(P, i.count, cin, n > 0), label),
          bindings: [x.range, g.range, gw.range],
          uniforms: packUniforms([x.base, g.base, gw.base, i.start, o.start]),
          workgroups: [i.count, o.count],
        });
      }
    }
  }
}
