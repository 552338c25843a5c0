/**
 * Transposed 3×3 convolution, stride 2, padding 1, output_padding 1 (PyTorch `ConvTranspose2d(cin, cout, 3,
 * stride=2, padding=1, output_padding=1)`, weight [Cin, Cout, 3, 3]): [N, Cin, H, W] -> [N, Cout, 2H, 2W].
 *
 * y[co, oy, ox] = Σ_{ci, ky, kx : oy = 2·iy − 1 + ky, ox = 2·ix − 1 + kx} x[ci, iy, ix] · w[ci, co, ky, kx].
 * Only a quarter of the taps of a zero-inserted dense convolution are real, and which ones depends on the
 * output's parity: the forward runs four dispatches, one per parity class (py, px) of the output, each a small
 * dense convolution over the input grid with a fixed tap set known at compile time:
 *   even rows use ky = 1 (iy = qy); odd rows use ky = 0 (iy = qy + 1) and ky = 2 (iy = qy); same for columns,
 * i.e. 1, 2, 2 and 4 taps (9 per 2×2 output block, no multiplication by inserted zeros). Lanes of a workgroup
 * all share a parity, so no SIMD lane idles on a tap it does not have.
 *
 * Backward: dgrad is a stride-2 gather over the output gradient (every one of the 9 taps is real), wgrad a
 * reduction over the input pixels. Tiling as conv3x3's direct kernels: an invocation per pixel × 4 channels,
 * 64 pixels per workgroup, workgroup z = channel block; no workgroup memory.
 */
import { channelChunks, channelWindow } from './conv-plan.ts';
import { elementWindow, packUniforms, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface ConvTranspose3x3s2Args {
  /** [N, Cin, H, W]. */
  readonly input: BufferRange;
  /** [Cin, Cout, 3, 3] (PyTorch layout). */
  readonly weight: BufferRange;
  readonly bias: BufferRange | null;
  /** [N, Cout, 2H, 2W]. */
  readonly out: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Input height and width. */
  readonly height: number;
  readonly width: number;
  readonly relu: boolean;
}

export interface ConvTranspose3x3s2DgradArgs {
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

export interface ConvTranspose3x3s2WgradArgs {
  readonly input: BufferRange;
  readonly gradOut: BufferRange;
  /** [Cin, Cout, 3, 3], written. */
  readonly gradWeight: BufferRange;
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly height: number;
  readonly width: number;
}

const WG = 64;
const COB = 4;

/** The (tap, input offset) pairs of one output parity along one axis: parity 0 -> ky 1; parity 1 -> ky 0, 2. */
function taps(parity: number): { k: number; d: number }[] {
  return parity === 0
    ? [{ k: 1, d: 0 }]
    : [
        { k: 0, d: 1 },
        { k: 2, d: 0 },
      ];
}

function forwardSource(
  H: number,
  W: number,
  py: number,
  px: number,
  ciCount: number,
  coCount: number,
  cout: number,
  bias: boolean,
  accumulate: boolean,
  relu: boolean,
): string {
  const Wo = 2 * W;
  const hwo = 4 * H * W;
  let body = '';
  for (const ty of taps(py)) {
    for (const tx of taps(px)) {
      const guard = [ty.d ? `qy + 1u < ${H}u` : '', tx.d ? `qx + 1u < ${W}u` : ''].filter(Boolean).join(' && ');
      const load = `x[plane + (qy + ${ty.d}u) * ${W}u + qx + ${tx.d}u]`;
      const tap = ty.k * 3 + tx.k;
      const stmt = `acc += ${load} * vec4<f32>(weightAt(ci, co0, ${tap}u), weightAt(ci, co0 + 1u, ${tap}u), weightAt(ci, co0 + 2u, ${tap}u), weightAt(ci, co0 + 3u, ${tap}u));`;
      body += guard ? `    if (${guard}) { ${stmt} }\n` : `    ${stmt}\n`;
    }
  }
  const yBinding = bias ? 3 : 2;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
${bias ? '@group(0) @binding(2) var<storage, read> b: array<f32>;' : ''}
@group(0) @binding(${yBinding}) var<storage, read_write> y: array<f32>;
struct Params { xBase: u32, yBase: u32, ciStart: u32, coStart: u32, bBase: u32 }
@group(0) @binding(${yBinding + 1}) var<uniform> u: Params;

fn weightAt(ci: u32, co: u32, tap: u32) -> f32 {
  if (co >= ${coCount}u) { return 0.0; }
  return w[((u.ciStart + ci) * ${cout}u + u.coStart + co) * 9u + tap];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (q >= ${H * W}u) { return; }
  let co0 = wid.z * ${COB}u;
  let qy = q / ${W}u;
  let qx = q % ${W}u;
  var acc = vec4<f32>(0.0);
  for (var ci = 0u; ci < ${ciCount}u; ci++) {
    let plane = u.xBase + ci * ${H * W}u;
${body}  }
  let p = (2u * qy + ${py}u) * ${Wo}u + 2u * qx + ${px}u;
  for (var j = 0u; j < ${COB}u; j++) {
    let co = co0 + j;
    if (co >= ${coCount}u) { break; }
    let idx = u.yBase + co * ${hwo}u + p;
    var v = acc[j];
    ${bias ? 'v += b[u.bBase + u.coStart + co];' : ''}
    ${accumulate ? 'v += y[idx];' : ''}
    ${relu ? 'v = select(v, 0.0, v < 0.0);' : ''}
    y[idx] = v;
  }
}`;
}

export function convTranspose3x3s2Forward(ctx: KernelContext, a: ConvTranspose3x3s2Args): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const label = `convTranspose3x3s2Forward [${N},${cin},${H},${W}] -> ${cout}`;
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} output`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * 9);
  const b = a.bias ? elementWindow(ctx, a.bias, 0, cout) : null;
  const grid = workgroupGrid(ctx, Math.ceil(hw / WG));
  for (let n = 0; n < N; n++) {
    for (const co of coChunks) {
      ciChunks.forEach((ci, k) => {
        const first = k === 0;
        const last = k === ciChunks.length - 1;
        const x = channelWindow(ctx, a.input, n, cin, hw, ci);
        const y = channelWindow(ctx, a.out, n, cout, 4 * hw, co);
        for (let py = 0; py < 2; py++) {
          for (let px = 0; px < 2; px++) {
            const addBias = first && b !== null;
            const source = forwardSource(H, W, py, px, ci.count, co.count, cout, addBias, !first, last && a.relu);
            ctx.dispatch({
              label,
              pipeline: ctx.pipeline(source, label),
              bindings: addBias ? [x.range, w.range, b.range, y.range] : [x.range, w.range, y.range],
              uniforms: packUniforms([x.base, y.base, ci.start, co.start, b?.base ?? 0]),
              workgroups: [grid[0], grid[1], Math.ceil(co.count / COB)],
            });
          }
        }
      });
    }
  }
}

/**
 * dgrad: gx[ci, iy, ix] = Σ_{co, ky, kx} gy[co, 2iy − 1 + ky, 2ix − 1 + kx] · w[ci, co, ky, kx]; rows/columns
 * −1 (ky = 0 at iy = 0) are outside. One invocation per input pixel × 4 input channels, reduction over co.
 */
function dgradSource(H: number, W: number, coCount: number, ciCount: number, cout: number, accumulate: boolean) {
  const Wo = 2 * W;
  const hwo = 4 * H * W;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
struct Params { gyBase: u32, gxBase: u32, ciStart: u32, coStart: u32 }
@group(0) @binding(3) var<uniform> u: Params;

fn weightAt(ci: u32, co: u32, tap: u32) -> f32 {
  if (ci >= ${ciCount}u) { return 0.0; }
  return w[((u.ciStart + ci) * ${cout}u + u.coStart + co) * 9u + tap];
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let p = (wid.y * nwg.x + wid.x) * ${WG}u + lid;
  if (p >= ${H * W}u) { return; }
  let ci0 = wid.z * ${COB}u;
  let iy = p / ${W}u;
  let ix = p % ${W}u;
  var acc = vec4<f32>(0.0);
  for (var co = 0u; co < ${coCount}u; co++) {
    let plane = u.gyBase + co * ${hwo}u;
    for (var ky = 0u; ky < 3u; ky++) {
      let oy = i32(2u * iy + ky) - 1;
      if (oy < 0) { continue; }
      for (var kx = 0u; kx < 3u; kx++) {
        let ox = i32(2u * ix + kx) - 1;
        if (ox < 0) { continue; }
        let g = gy[plane + u32(oy) * ${Wo}u + u32(ox)];
        let t = ky * 3u + kx;
        acc += g * vec4<f32>(weightAt(ci0, co, t), weightAt(ci0 + 1u, co, t), weightAt(ci0 + 2u, co, t),
                             weightAt(ci0 + 3u, co, t));
      }
    }
  }
  for (var j = 0u; j < ${COB}u; j++) {
    let ci = ci0 + j;
    if (ci >= ${ciCount}u) { break; }
    let idx = u.gxBase + ci * ${H * W}u + p;
    gx[idx] = ${accumulate ? 'gx[idx] + ' : ''}acc[j];
  }
}`;
}

export function convTranspose3x3s2Dgrad(ctx: KernelContext, a: ConvTranspose3x3s2DgradArgs): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const label = `convTranspose3x3s2Dgrad [${N},${cout},${2 * H},${2 * W}] -> ${cin}`;
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const ciChunks = channelChunks(ctx, cin, hw, `${label} gradInput`);
  const w = elementWindow(ctx, a.weight, 0, cin * cout * 9);
  const grid = workgroupGrid(ctx, Math.ceil(hw / WG));
  for (let n = 0; n < N; n++) {
    for (const ci of ciChunks) {
      coChunks.forEach((co, k) => {
        const gy = channelWindow(ctx, a.gradOut, n, cout, 4 * hw, co);
        const gx = channelWindow(ctx, a.gradInput, n, cin, hw, ci);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(dgradSource(H, W, co.count, ci.count, cout, k > 0), label),
          bindings: [gy.range, w.range, gx.range],
          uniforms: packUniforms([gy.base, gx.base, ci.start, co.start]),
          workgroups: [grid[0], grid[1], Math.ceil(ci.count / COB)],
        });
      });
    }
  }
}

/**
 * wgrad: gw[ci, co, ky, kx] = Σ_{iy, ix} x[ci, iy, ix] · gy[co, 2iy − 1 + ky, 2ix − 1 + kx]: one invocation per
 * (ci, co) pair and its 9 taps, lanes over co (x[ci, ·] is uniform across the workgroup's lanes).
 */
function wgradSource(H: number, W: number, ciCount: number, coCount: number, cout: number, accumulate: boolean) {
  const Wo = 2 * W;
  const hwo = 4 * H * W;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gw: array<f32>;
struct Params { xBase: u32, gyBase: u32, gwBase: u32, ciStart: u32, coStart: u32 }
@group(0) @binding(3) var<uniform> u: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let co = wid.x * ${WG}u + lid;
  let ci = wid.y;
  if (co >= ${coCount}u || ci >= ${ciCount}u) { return; }
  var acc: array<f32, 9>;
  for (var t = 0u; t < 9u; t++) { acc[t] = 0.0; }
  let xPlane = u.xBase + ci * ${H * W}u;
  let gPlane = u.gyBase + co * ${hwo}u;
  for (var iy = 0u; iy < ${H}u; iy++) {
    for (var ix = 0u; ix < ${W}u; ix++) {
      let v = x[xPlane + iy * ${W}u + ix];
      for (var ky = 0u; ky < 3u; ky++) {
        let oy = i32(2u * iy + ky) - 1;
        if (oy < 0) { continue; }
        for (var kx = 0u; kx < 3u; kx++) {
          let ox = i32(2u * ix + kx) - 1;
          if (ox < 0) { continue; }
          acc[ky * 3u + kx] += v * gy[gPlane + u32(oy) * ${Wo}u + u32(ox)];
        }
      }
    }
  }
  let base = u.gwBase + ((u.ciStart + ci) * ${cout}u + u.coStart + co) * 9u;
  for (var t = 0u; t < 9u; t++) {
    gw[base + t] = ${accumulate ? 'gw[base + t] + ' : ''}acc[t];
  }
}`;
}

export function convTranspose3x3s2Wgrad(ctx: KernelContext, a: ConvTranspose3x3s2WgradArgs): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const hw = H * W;
  const label = `convTranspose3x3s2Wgrad [${N},${cin},${H},${W}] -> ${cout}`;
  const ciChunks = channelChunks(ctx, cin, hw, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * hw, `${label} gradOut`);
  const gw = elementWindow(ctx, a.gradWeight, 0, cin * cout * 9);
  for (let n = 0; n < N; n++) {
    for (const ci of ciChunks) {
      for (const co of coChunks) {
        const x = channelWindow(ctx, a.input, n, cin, hw, ci);
        const g = channelWindow(ctx, a.gradOut, n, cout, 4 * hw, co);
        ctx.dispatch({
          label,
          pipeline: ctx.pipeline(wgradSource(H, W, ci.count, co.count, cout, n > 0), label),
          bindings: [x.range, g.range, gw.range],
          uniforms: packUniforms([x.base, g.base, gw.base, ci.start, co.start]),
          workgroups: [Math.ceil(co.count / WG), ci.count],
        });
      }
    }
  }
}
