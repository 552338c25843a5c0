/**
 * 2×2 max-pool, stride 2 (PyTorch `MaxPool2d(2, 2)`: the output is floor(H/2) × floor(W/2); trailing odd
 * rows/columns are dropped). The forward also writes which of the 4 inputs won (0..3, u32) so the backward is a
 * gather: each input element reads its window's winner and the gradient, no atomics. Ties go to the first
 * maximum in (row, column) order and NaN propagates, as in PyTorch.
 *
 * Tiling: one invocation per output element (forward; per two where rows allow, see `forwardPairSource`) or
 * per input element (backward; per four, see `backwardQuadSource`), 256 per workgroup.
 * N·C planes are independent, so tensors over the binding limit are split by ranges of planes.
 */
import { channelChunks, channelWindow } from './conv-plan.ts';
import { packUniforms, perElementMain, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface MaxPoolArgs {
  readonly input: BufferRange;
  /** Planes = N·C. */
  readonly planes: number;
  readonly height: number;
  readonly width: number;
  readonly out: BufferRange;
  /** u32 winner index per output element. */
  readonly argmax: BufferRange;
}

export interface MaxPoolBackwardArgs {
  readonly gradOut: BufferRange;
  readonly argmax: BufferRange;
  readonly planes: number;
  readonly height: number;
  readonly width: number;
  /** Gradient of the input, [planes, H, W] (every element written). */
  readonly gradInput: BufferRange;
}

const WG = 256;

/**
 * The window's maximum and which of its four values won. NaN is tested on the bits: llvmpipe compiles WGSL
 * with finite-math assumptions, under which `v != v` folds to false and a NaN would lose to any number.
 */
const WINNER_WGSL = /* wgsl */ `
fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
fn winner(a: f32, b: f32, c: f32, d: f32) -> vec2<f32> {
  var best = a;
  var which = 0u;
  let candidates = array<f32, 3>(b, c, d);
  for (var k = 0u; k < 3u; k++) {
    let v = candidates[k];
    // PyTorch lets the first NaN win so that it propagates; ties keep the first maximum.
    if (!isNan(best) && (v > best || isNan(v))) { best = v; which = k + 1u; }
  }
  return vec2<f32>(best, bitcast<f32>(which));
}`;

/**
 * The frame every pool shader shares: three storage bindings (`access> name: type`), a uniform block of their
 * element bases, and one invocation per index `i` below `count`.
 */
function poolShader(bindings: readonly [string, string, string], bases: string, count: number, body: string): string {
  return /* wgsl */ `
${bindings.map((b, k) => `@group(0) @binding(${k}) var<storage, ${b};`).join('\n')}
struct Params { ${bases} }
@group(0) @binding(3) var<uniform> u: Params;
${WINNER_WGSL}
${perElementMain(WG, 'i', `${count}u`)}
${body}
}`;
}

const FORWARD_BASES = 'xBase: u32, yBase: u32, aBase: u32';
const BACKWARD_BASES = 'gyBase: u32, aBase: u32, gxBase: u32';

function forwardSource(H: number, W: number, planes: number): string {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  return poolShader(
    ['read> x: array<f32>', 'read_write> y: array<f32>', 'read_write> arg: array<u32>'],
    FORWARD_BASES,
    planes * Ho * Wo,
    /* wgsl */ `
  let plane = i / ${Ho * Wo}u;
  let r = i % ${Ho * Wo}u;
  let oy = r / ${Wo}u;
  let ox = r % ${Wo}u;
  let base = u.xBase + plane * ${H * W}u + (2u * oy) * ${W}u + 2u * ox;
  let w = winner(x[base], x[base + 1u], x[base + ${W}u], x[base + ${W + 1}u]);
  y[u.yBase + i] = w.x;
  arg[u.aBase + i] = bitcast<u32>(w.y);`,
  );
}

/**
 * Forward, one invocation per two neighbouring outputs of a row (W % 4 == 0): their 2×4 input block is two
 * vec4 loads instead of eight per-lane gathers.
 */
function forwardPairSource(H: number, W: number, planes: number): string {
  const Ho = Math.floor(H / 2);
  const Wo = W / 2;
  const pairs = (Ho * Wo) / 2;
  return poolShader(
    ['read> x: array<vec4<f32>>', 'read_write> y: array<f32>', 'read_write> arg: array<u32>'],
    FORWARD_BASES,
    planes * pairs,
    /* wgsl */ `
  let plane = i / ${pairs}u;
  let r = i % ${pairs}u;
  let oy = r / ${Wo / 2}u;
  let px = r % ${Wo / 2}u;
  let row = u.xBase + (plane * ${H * W}u + (2u * oy) * ${W}u) / 4u + px;
  let top = x[row];
  let bottom = x[row + ${W / 4}u];
  let w0 = winner(top.x, top.y, bottom.x, bottom.y);
  let w1 = winner(top.z, top.w, bottom.z, bottom.w);
  let o = 2u * i;
  y[u.yBase + o] = w0.x;
  y[u.yBase + o + 1u] = w1.x;
  arg[u.aBase + o] = bitcast<u32>(w0.y);
  arg[u.aBase + o + 1u] = bitcast<u32>(w1.y);`,
  );
}

function backwardSource(H: number, W: number, planes: number): string {
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  return poolShader(
    ['read> gy: array<f32>', 'read> arg: array<u32>', 'read_write> gx: array<f32>'],
    BACKWARD_BASES,
    planes * H * W,
    /* wgsl */ `
  let plane = i / ${H * W}u;
  let r = i % ${H * W}u;
  let iy = r / ${W}u;
  let ix = r % ${W}u;
  var g = 0.0;
  if (iy < ${2 * Ho}u && ix < ${2 * Wo}u) {
    let o = plane * ${Ho * Wo}u + (iy / 2u) * ${Wo}u + ix / 2u;
    if (arg[u.aBase + o] == (iy % 2u) * 2u + ix % 2u) { g = gy[u.gyBase + o]; }
  }
  gx[u.gxBase + i] = g;`,
  );
}

/**
 * Backward, one invocation per four consecutive input elements of a row (W % 4 == 0): two windows' winners and
 * gradients, one vec4 store. llvmpipe turns a scalar per-lane store into a scatter; a vec4 per lane is one
 * contiguous store.
 */
function backwardQuadSource(H: number, W: number, planes: number): string {
  const Ho = Math.floor(H / 2);
  const Wo = W / 2;
  const quads = (H * W) / 4;
  return poolShader(
    ['read> gy: array<f32>', 'read> arg: array<u32>', 'read_write> gx: array<vec4<f32>>'],
    BACKWARD_BASES,
    planes * quads,
    /* wgsl */ `
  let plane = i / ${quads}u;
  let r = i % ${quads}u;
  let iy = r / ${W / 4}u;
  let qx = r % ${W / 4}u;
  var g = vec4<f32>(0.0);
  if (iy < ${2 * Ho}u) {
    let o = plane * ${Ho * Wo}u + (iy / 2u) * ${Wo}u + 2u * qx;
    let left = (iy % 2u) * 2u;
    let a0 = arg[u.aBase + o];
    let a1 = arg[u.aBase + o + 1u];
    let g0 = gy[u.gyBase + o];
    let g1 = gy[u.gyBase + o + 1u];
    g = vec4<f32>(select(0.0, g0, a0 == left), select(0.0, g0, a0 == left + 1u),
                  select(0.0, g1, a1 == left), select(0.0, g1, a1 == left + 1u));
  }
  gx[u.gxBase + i] = g;`,
  );
}

/** Chunks of planes such that input, output and argmax windows all fit one binding. */
function planeChunks(ctx: KernelContext, planes: number, H: number, W: number, what: string) {
  return channelChunks(ctx, planes, H * W, what);
}

export function maxPool2x2Forward(ctx: KernelContext, a: MaxPoolArgs): void {
  const { planes, height: H, width: W } = a;
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  if (planes === 0 || Ho === 0 || Wo === 0) return;
  const label = `maxPool2x2Forward [${planes}x${H}x${W}]`;
  for (const c of planeChunks(ctx, planes, H, W, label)) {
    const x = channelWindow(ctx, a.input, 0, planes, H * W, c);
    const y = channelWindow(ctx, a.out, 0, planes, Ho * Wo, c);
    const g = channelWindow(ctx, a.argmax, 0, planes, Ho * Wo, c);
    const pairs = W % 4 === 0 && x.base % 4 === 0;
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline((pairs ? forwardPairSource : forwardSource)(H, W, c.count), label),
      bindings: [x.range, y.range, g.range],
      uniforms: packUniforms([pairs ? x.base / 4 : x.base, y.base, g.base]),
      workgroups: workgroupGrid(ctx, Math.ceil((c.count * Ho * Wo) / (pairs ? 2 : 1) / WG)),
    });
  }
}

export function maxPool2x2Backward(ctx: KernelContext, a: MaxPoolBackwardArgs): void {
  const { planes, height: H, width: W } = a;
  const Ho = Math.floor(H / 2);
  const Wo = Math.floor(W / 2);
  if (planes === 0 || H === 0 || W === 0) return;
  const label = `maxPool2x2Backward [${planes}x${H}x${W}]`;
  for (const c of planeChunks(ctx, planes, H, W, label)) {
    const gy = channelWindow(ctx, a.gradOut, 0, planes, Ho * Wo, c);
    const g = channelWindow(ctx, a.argmax, 0, planes, Ho * Wo, c);
    const gx = channelWindow(ctx, a.gradInput, 0, planes, H * W, c);
    const quads = W % 4 === 0 && gx.base % 4 === 0;
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline((quads ? backwardQuadSource : backwardSource)(H, W, c.count), label),
      bindings: [gy.range, g.range, gx.range],
      uniforms: packUniforms([gy.base, g.base, quads ? gx.base / 4 : gx.base]),
      workgroups: workgroupGrid(ctx, Math.ceil((c.count * H * W) / (quads ? 4 : 1) / WG)),
    });
  }
}
