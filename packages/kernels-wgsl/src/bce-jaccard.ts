/**
 * The paper's loss, fused: L = α·H − β·log J with H = mean BCE-with-logits over every pixel of the batch and the
 * batch-level soft Jaccard J = (Σ p·y + ε) / (Σ p + Σ y − Σ p·y + ε), p = sigmoid(z), ε = 1e-15.
 * (α, β) = (1, 1) is the paper's L = H − log J; the authors' `LossBinary(jaccard_weight=w)` is (1 − w, w).
 *
 * Forward, two passes: (1) G workgroups each reduce a contiguous range of pixels to four Kahan-compensated sums
 * (Σ bce, Σ p·y, Σ p, Σ y) — every core takes part, and float32 sums over millions of pixels keep their digits;
 * (2) one workgroup reduces the G partials and writes [L, Σ bce, Σ p·y, Σ p, Σ y]. BCE is evaluated from the
 * logit as max(z, 0) − z·y + log1p(exp(−|z|)), which neither overflows nor loses precision when saturated.
 *
 * Backward, one invocation per pixel, reading the sums:
 *   dL/dz = g · (α (p − y) / M + β p (1 − p) ((1 − y) / (U + ε) − y / (I + ε))),  U = Σp + Σy − I.
 */
import {
  elementChunks,
  elementWindow,
  gridMain,
  packUniforms,
  perElementMain,
  workgroupGrid,
  workgroupTreeSum,
} from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export const JACCARD_EPS = 1e-15;

export interface BceJaccardArgs {
  readonly logits: BufferRange;
  readonly target: BufferRange;
  /** Pixels in the batch (M). */
  readonly count: number;
  /** 5 floats: [loss, Σ bce, Σ p·y, Σ p, Σ y]. */
  readonly stats: BufferRange;
  readonly bceWeight: number;
  readonly jaccardWeight: number;
}

export interface BceJaccardBackwardArgs {
  readonly logits: BufferRange;
  readonly target: BufferRange;
  readonly count: number;
  /** The forward's stats. */
  readonly stats: BufferRange;
  /** 1 float: dL_total/dL, the upstream gradient. */
  readonly gradLoss: BufferRange;
  /** dL/dz, [count], written. */
  readonly gradLogits: BufferRange;
  readonly bceWeight: number;
  readonly jaccardWeight: number;
}

const WG = 64;
const PER_WORKGROUP = 8192;

const LOG1P_WGSL = /* wgsl */ `
fn log1pAccurate(e: f32) -> f32 {
  // log(1 + e) with the rounding of 1 + e corrected (Goldberg's trick): exact to a few ulps for tiny e.
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * e / (u - 1.0);
}`;

function partialSource(): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec4<f32>>;
struct Params { n: u32, zBase: u32, tBase: u32, pBase: u32 }
@group(0) @binding(3) var<uniform> u: Params;
var<workgroup> partialSums: array<vec4<f32>, ${WG}>;
${LOG1P_WGSL}
${gridMain(WG)}
  let g = linearWorkgroup(wid, nwg);
  let start = g * ${PER_WORKGROUP}u;
  let end = min(start + ${PER_WORKGROUP}u, u.n);
  var sum = vec4<f32>(0.0);
  var comp = vec4<f32>(0.0);
  for (var i = start + lid; i < end; i += ${WG}u) {
    let zi = z[u.zBase + i];
    let yi = t[u.tBase + i];
    let p = 1.0 / (1.0 + exp(-zi));
    let bce = max(zi, 0.0) - zi * yi + log1pAccurate(exp(-abs(zi)));
    let term = vec4<f32>(bce, p * yi, p, yi) - comp;
    let next = sum + term;
    comp = (next - sum) - term;
    sum = next;
  }
${workgroupTreeSum(WG, 'partialSums', 'sum', 'k')}
  if (lid == 0u) { partials[u.pBase + g] = partialSums[0]; }
}`;
}

function finalSource(groups: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> partials: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
struct Params { pBase: u32, sBase: u32, count: f32, alpha: f32, beta: f32 }
@group(0) @binding(2) var<uniform> u: Params;
var<workgroup> partialSums: array<vec4<f32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var sum = vec4<f32>(0.0);
  var comp = vec4<f32>(0.0);
  for (var i = lid; i < ${groups}u; i += ${WG}u) {
    let term = partials[u.pBase + i] - comp;
    let next = sum + term;
    comp = (next - sum) - term;
    sum = next;
  }
${workgroupTreeSum(WG, 'partialSums', 'sum', 'k')}
  if (lid == 0u) {
    let s = partialSums[0];
    let inter = s.y;
    let uni = s.z + s.w - inter;
    let eps = ${JACCARD_EPS};
    let loss = u.alpha * s.x / u.count - u.beta * log((inter + eps) / (uni + eps));
    stats[u.sBase] = loss;
    stats[u.sBase + 1u] = s.x;
    stats[u.sBase + 2u] = inter;
    stats[u.sBase + 3u] = s.z;
    stats[u.sBase + 4u] = s.w;
  }
}`;
}

export function bceJaccardForward(ctx: KernelContext, a: BceJaccardArgs): void {
  const label = `bceJaccardForward [${a.count}]`;
  if (a.count === 0) throw new RangeError(`${label}: empty batch`);
  const groups = Math.ceil(a.count / PER_WORKGROUP);
  const scratch = ctx.scratch(groups * 16, `${label} partial sums`);
  const partial = ctx.pipeline(partialSource(), 'bceJaccard partial sums');
  // Whole workgroups per chunk: each chunk's partial sums continue where the previous chunk's stopped.
  for (const { start, count: n } of elementChunks(ctx, a.count, PER_WORKGROUP)) {
    const z = elementWindow(ctx, a.logits, start, n);
    const t = elementWindow(ctx, a.target, start, n);
    const g0 = start / PER_WORKGROUP;
    const g = Math.ceil(n / PER_WORKGROUP);
    const p = elementWindow(ctx, scratch.range, g0 * 4, g * 4);
    ctx.dispatch({
      label,
      pipeline: partial,
      bindings: [z.range, t.range, p.range],
      uniforms: packUniforms([n, z.base, t.base, p.base / 4]),
      workgroups: workgroupGrid(ctx, g),
    });
  }
  const p = elementWindow(ctx, scratch.range, 0, groups * 4);
  const s = elementWindow(ctx, a.stats, 0, 5);
  ctx.dispatch({
    label: `${label} final`,
    pipeline: ctx.pipeline(finalSource(groups), 'bceJaccard final'),
    bindings: [p.range, s.range],
    uniforms: packUniforms([p.base / 4, s.base], [a.count, a.bceWeight, a.jaccardWeight]),
    workgroups: [1],
  });
  scratch.release();
}

const BACKWARD_SOURCE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gl: array<f32>;
@group(0) @binding(4) var<storage, read_write> gz: array<f32>;
struct Params { n: u32, zBase: u32, tBase: u32, sBase: u32, glBase: u32, gzBase: u32, count: f32, alpha: f32,
                beta: f32 }
@group(0) @binding(5) var<uniform> u: Params;
${perElementMain(256, 'i', 'u.n')}
  let eps = ${JACCARD_EPS};
  let inter = stats[u.sBase + 2u];
  let uni = stats[u.sBase + 3u] + stats[u.sBase + 4u] - inter;
  let zi = z[u.zBase + i];
  let yi = t[u.tBase + i];
  let p = 1.0 / (1.0 + exp(-zi));
  let dJ = p * (1.0 - p) * ((1.0 - yi) / (uni + eps) - yi / (inter + eps));
  gz[u.gzBase + i] = gl[u.glBase] * (u.alpha * (p - yi) / u.count + u.beta * dJ);
}`;

export function bceJaccardBackward(ctx: KernelContext, a: BceJaccardBackwardArgs): void {
  const label = `bceJaccardBackward [${a.count}]`;
  const pipeline = ctx.pipeline(BACKWARD_SOURCE, 'bceJaccard backward');
  const s = elementWindow(ctx, a.stats, 0, 5);
  const gl = elementWindow(ctx, a.gradLoss, 0, 1);
  for (const { start, count: n } of elementChunks(ctx, a.count)) {
    const z = elementWindow(ctx, a.logits, start, n);
    const t = elementWindow(ctx, a.target, start, n);
    const gz = elementWindow(ctx, a.gradLogits, start, n);
    ctx.dispatch({
      label,
      pipeline,
      bindings: [z.range, t.range, s.range, gl.range, gz.range],
      uniforms: packUniforms([n, z.base, t.base, s.base, gl.base, gz.base], [a.count, a.bceWeight, a.jaccardWeight]),
      workgroups: workgroupGrid(ctx, Math.ceil(n / 256)),
    });
  }
}
