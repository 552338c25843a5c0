/**
 * conv3x3 (stride 1, padding 1) by Winograd's F(2×2, 3×3) for CPU adapters: the 'winograd' rows of the forward
 * and dgrad passes. Each 2×2 block of outputs (a tile) comes from a 4×4 input patch d: Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A,
 * 16 multiplies per tile, input channel and output channel where the direct kernel does 36 (2.25× fewer). The
 * price is three memory passes around the multiplies (bench/NOTES.md, "Winograd"):
 *
 * 1. weights: U[ξ][block][c][R] = (G g Gᵀ)[ξ], made from the subgroup kernel's packed layout [block][c][9][R]
 *    (which already flips and transposes for dgrad; made in scratch) and kept while the weight is unchanged;
 * 2. input: V[ξ][ci][tile] = (Bᵀ d B)[ξ], one invocation per input channel and 4 consecutive tiles of a tile row;
 * 3. a batch of 16 products M[ξ] = U[ξ]·V[ξ] ([Cout × Cin] · [Cin × tiles]) in the subgroup kernels' style:
 *    a workgroup is one subgroup of L lanes owning 4·L tiles (lane l one vec4 of 4 tiles) and R = 16 output
 *    channels, so 16 vec4 accumulators per lane; per pair of input channels one vec4 of V per channel and lane,
 *    the 2·R weights as 2·R/4 vec4 loads spread over the lanes and fanned out by subgroupBroadcast: 8·R FMAs per
 *    3 loads and 2·R broadcasts;
 * 4. output: Y = Aᵀ M A per tile with the epilogue flags (bias, accumulate, ReLU), one invocation per output
 *    channel and 4 tiles.
 * V and M are scratch, made a band of tile rows at a time so neither outgrows one binding.
 */
import { channelChunks, channelWindow } from './conv-plan.ts';
import {
  type Conv3x3DgradArgs,
  type Conv3x3ForwardArgs,
  conv3x3DgradSubgroup,
  conv3x3ForwardSubgroup,
  dgradSegmentPasses,
  forwardSegmentPasses,
  totalChannels,
} from './conv3x3.ts';
import { packConv3x3Weights, type SubgroupPass } from './conv3x3-subgroup.ts';
import {
  elementWindow,
  FLAG_ACCUMULATE,
  FLAG_BIAS,
  FLAG_RELU,
  maxBindingElements,
  memoSource,
  uniformBlock,
} from './layout.ts';
import type { BufferRange, ContentKey, KernelContext } from './runtime.ts';
import { subgroupLanes } from './subgroup-codegen.ts';

/** Output channels per GEMM workgroup (16 vec4 accumulators per lane, as the direct subgroup kernel's 16·4). */
const R = 16;
/** The largest V or M band, bytes: bounds the scratch memory of a large plane. */
const BAND_BYTES = 64 * 2 ** 20;

// ---------------- 1. weights ----------------

const WEIGHT_UNIFORMS = uniformBlock(['quads', 'xiStride']);

/** U = G g Gᵀ per (block, channel, quad of R): 9 vec4 taps of the packed layout in, 16 vec4 out. */
const weightTransformSource = `
@group(0) @binding(0) var<storage, read> packed: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> U: array<vec4<f32>>;
${WEIGHT_UNIFORMS.wgsl}
@group(0) @binding(2) var<uniform> u: Params;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // i = (block·channels + c)·R/4 + q: the packed layout's quad index without its tap.
  let i = (wid.y * 65535u + wid.x) * 64u + lid;
  if (i >= u.quads) { return; }
  let q = i % ${R / 4}u;
  let bc = i / ${R / 4}u;
  var g: array<vec4<f32>, 9>;
  for (var t = 0u; t < 9u; t++) { g[t] = packed[(bc * 9u + t) * ${R / 4}u + q]; }
  // G g: rows 0..3 of a 4×3 array (row k: taps 3k..3k+2 of g are kernel row k).
  var r: array<vec4<f32>, 12>;
  for (var c = 0u; c < 3u; c++) {
    let g0 = g[c]; let g1 = g[3u + c]; let g2 = g[6u + c];
    r[c] = g0; r[3u + c] = 0.5 * (g0 + g1 + g2); r[6u + c] = 0.5 * (g0 - g1 + g2); r[9u + c] = g2;
  }
  for (var a = 0u; a < 4u; a++) {
    let r0 = r[3u * a]; let r1 = r[3u * a + 1u]; let r2 = r[3u * a + 2u];
    let o = (4u * a) * u.xiStride + i;
    U[o] = r0;
    U[o + u.xiStride] = 0.5 * (r0 + r1 + r2);
    U[o + 2u * u.xiStride] = 0.5 * (r0 - r1 + r2);
    U[o + 3u * u.xiStride] = r2;
  }
}`;

interface WinogradWeights {
  range: BufferRange;
  /** Blocks of R output channels and reduction channels of U. */
  blocks: number;
  channels: number;
  release(): void;
}

function transformWeights(
  ctx: KernelContext,
  weight: BufferRange,
  mode: 'forward' | 'dgrad',
  cout: number,
  cin: number,
  outOffset: number,
  outCount: number,
  weightKey: ContentKey | undefined,
): WinogradWeights {
  const channels = mode === 'forward' ? cin : cout;
  const blocks = Math.ceil(outCount / R);
  const quads = blocks * channels * (R / 4);
  const bytes = 16 * quads * 16;
  const label = `conv3x3 winograd ${mode} weights [${cout},${cin},3,3]`;
  const kept =
    weightKey && ctx.persistent
      ? ctx.persistent(`${weightKey.id} ${label} ${outOffset}+${outCount}`, weightKey.version, bytes, label)
      : null;
  if (kept && !kept.stale) return { range: kept.range, blocks, channels, release: () => {} };
  // The packing only feeds the transform: scratch, not kept beside U.
  const packed = packConv3x3Weights(ctx, weight, mode, cout, cin, outOffset, outCount, R);
  const out = kept ? { range: kept.range, release: () => {} } : ctx.scratch(bytes, label);
  const groups = Math.ceil(quads / 64);
  ctx.dispatch({
    label,
    pipeline: ctx.pipeline(weightTransformSource, 'conv3x3 winograd weights'),
    bindings: [packed.range, out.range],
    uniforms: WEIGHT_UNIFORMS.pack({ quads, xiStride: quads }),
    workgroups: [Math.min(groups, 65535), Math.ceil(groups / 65535)],
  });
  packed.release();
  return { range: out.range, blocks, channels, release: () => out.release() };
}

// ---------------- 2. input ----------------

/**
 * Shapes of one band of tile rows from tr0: TWq4 quads of tiles per row (⌈W/2⌉ tiles padded to a multiple of 4),
 * `quads` per channel in the band, `count` invocations (channels × quads).
 */
const BAND_FIELDS = ['H', 'W', 'TWq4', 'tr0', 'quads', 'count', 'xiStride'] as const;
const INPUT_UNIFORMS = uniformBlock(['xBase', ...BAND_FIELDS]);

/**
 * V = Bᵀ d B for one channel and quad of tiles of the band (tiles 4q..4q+3 of a tile row): the 4×10 input values
 * under the four 4×4 patches (rows 2ty − 1.., columns 8q − 1..; zero outside the plane), then 16 vec4 stores.
 */
const inputTransformSource = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> V: array<vec4<f32>>;
${INPUT_UNIFORMS.wgsl}
@group(0) @binding(2) var<uniform> u: Params;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // One invocation per (channel, band quad), linear: small planes have few quads per row.
  let i = (wid.y * 65535u + wid.x) * 64u + lid;
  if (i >= u.count) { return; }
  let ci = i / u.quads; let bq = i - ci * u.quads;
  let tr = bq / u.TWq4; let q = bq - tr * u.TWq4;
  let plane = u.xBase + ci * u.H * u.W;
  let y0 = 2u * (u.tr0 + tr) - 1u;
  let x0 = 8u * q - 1u;
  // d[i][j]: row i, column j of the four 4×4 patches (a vec4 over the tiles).
  var d: array<array<vec4<f32>, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    let yy = y0 + i;
    let rowOk = yy < u.H;
    let row = plane + min(yy, u.H - 1u) * u.W;
    var v: array<f32, 10>;
    for (var j = 0u; j < 10u; j++) {
      let xx = x0 + j;
      v[j] = select(0.0, x[row + min(xx, u.W - 1u)], rowOk && xx < u.W);
    }
    for (var j = 0u; j < 4u; j++) { d[i][j] = vec4<f32>(v[j], v[2u + j], v[4u + j], v[6u + j]); }
  }
  let o = i;
  for (var j = 0u; j < 4u; j++) {
    // Bᵀ d along the rows for column j.
    let r0 = d[0][j] - d[2][j]; let r1 = d[1][j] + d[2][j]; let r2 = d[2][j] - d[1][j]; let r3 = d[1][j] - d[3][j];
    d[0][j] = r0; d[1][j] = r1; d[2][j] = r2; d[3][j] = r3;
  }
  for (var a = 0u; a < 4u; a++) {
    let e = d[a];
    let s = (4u * a) * u.xiStride + o;
    V[s] = e[0] - e[2];
    V[s + u.xiStride] = e[1] + e[2];
    V[s + 2u * u.xiStride] = e[2] - e[1];
    V[s + 3u * u.xiStride] = e[1] - e[3];
  }
}`;

// ---------------- 3. the 16 products ----------------

const GEMM_UNIFORMS = uniformBlock(['cin', 'quads', 'vXi', 'uBase', 'uXi', 'uChannels', 'mXi']);

/**
 * M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile] for ξ = wid.z, channels R·wid.y.., tiles 4·L·wid.x.. .
 * Lanes 0..L/2−1 load the R weights of channel c (R/4 vec4), lanes L/2.. those of c + 1 (L = 8; with 4 lanes each
 * lane loads one vec4 of one channel and the pair takes two rounds).
 */
const gemmSource = memoSource(({ lanes }: { lanes: number }): string => {
  const perChannel = R / 4;
  const rounds = (2 * perChannel) / lanes; // vec4 weight loads per lane per channel pair
  const loads: string[] = [];
  for (let k = 0; k < rounds; k++) {
    loads.push(`    let w${k} = U[min(wo + ${k * lanes}u + sl, wLast)];`);
  }
  const fmas: string[] = [];
  for (let half = 0; half < 2; half++) {
    for (let r = 0; r < R; r++) {
      const k = half * perChannel * 4 + r; // scalar index among the pair's 2R weights
      const vecIndex = Math.floor(k / 4);
      const w = `subgroupBroadcast(w${Math.floor(vecIndex / lanes)}[${k % 4}], ${vecIndex % lanes}u)`;
      fmas.push(`    a${r} = fma(v${half}, vec4<f32>(${w}), a${r});`);
    }
  }
  const stores: string[] = [];
  for (let r = 0; r < R; r++) stores.push(`    M[mo + ${r}u * u.quads] = a${r};`);
  return `enable subgroups;
@group(0) @binding(0) var<storage, read> V: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> U: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> M: array<vec4<f32>>;
${GEMM_UNIFORMS.wgsl}
@group(0) @binding(3) var<uniform> u: Params;
@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {
  let xi = wid.z;
  let block = wid.y;
  let qRaw = wid.x * ${lanes}u + sl;
  let q = min(qRaw, u.quads - 1u);
  var vo = xi * u.vXi + q;
  // This lane's weight quads: channel pair (c, c + 1) is 2R/4 consecutive vec4 from wo.
  var wo = u.uBase + xi * u.uXi + block * u.uChannels * ${perChannel}u;
  let wLast = u.uBase + xi * u.uXi + (block + 1u) * u.uChannels * ${perChannel}u - 1u;
${Array.from({ length: R }, (_, r) => `  var a${r} = vec4<f32>(0.0);`).join('\n')}
  for (var c = 0u; c < u.cin; c += 2u) {
    let v0 = V[vo];
    let v1 = select(vec4<f32>(0.0), V[min(vo + u.quads, u.vXi * 16u - 1u)], c + 1u < u.cin);
${loads.join('\n')}
${fmas.join('\n')}
    vo += 2u * u.quads; wo += ${2 * perChannel}u;
  }
  if (qRaw < u.quads) {
    let mo = xi * u.mXi + block * ${R}u * u.quads + qRaw;
${stores.join('\n')}
  }
}`;
});

// ---------------- 4. output ----------------

const OUTPUT_UNIFORMS = uniformBlock(['yBase', 'bBase', 'flags', ...BAND_FIELDS]);

/** Y = Aᵀ M A for one output channel and quad of tiles of the band, then the epilogue and the stores. */
const outputTransformSource = `
@group(0) @binding(0) var<storage, read> M: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${OUTPUT_UNIFORMS.wgsl}
@group(0) @binding(3) var<uniform> u: Params;
fn store(plane: u32, yy: u32, xx: u32, sum: f32) {
  if (yy < u.H && xx < u.W) {
    let idx = plane + yy * u.W + xx;
    var v = sum;
    if ((u.flags & ${FLAG_ACCUMULATE}u) != 0u) { v += y[idx]; }
    // select, not max: NaN must propagate.
    y[idx] = select(v, 0.0, (u.flags & ${FLAG_RELU}u) != 0u && v < 0.0);
  }
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = (wid.y * 65535u + wid.x) * 64u + lid;
  if (o >= u.count) { return; }
  let co = o / u.quads; let bq = o - co * u.quads;
  let tr = bq / u.TWq4; let q = bq - tr * u.TWq4;
  var m: array<vec4<f32>, 16>;
  for (var k = 0u; k < 16u; k++) { m[k] = M[k * u.xiStride + o]; }
  // Aᵀ m: rows a = 0, 1 of a 2×4 array.
  var t: array<vec4<f32>, 8>;
  for (var j = 0u; j < 4u; j++) {
    t[j] = m[j] + m[4u + j] + m[8u + j];
    t[4u + j] = m[4u + j] - m[8u + j] - m[12u + j];
  }
  var bias = 0.0;
  if ((u.flags & ${FLAG_BIAS}u) != 0u) { bias = b[u.bBase + co]; }
  let plane = u.yBase + co * u.H * u.W;
  for (var a = 0u; a < 2u; a++) {
    let yy = 2u * (u.tr0 + tr) + a;
    let y0 = t[4u * a] + t[4u * a + 1u] + t[4u * a + 2u];
    let y1 = t[4u * a + 1u] - t[4u * a + 2u] - t[4u * a + 3u];
    // Output columns 8q + 2k + c of tile k: y0[k] (c = 0), y1[k] (c = 1).
${[0, 1, 2, 3].flatMap((k) => [0, 1].map((c) => `    store(plane, yy, 8u * q + ${2 * k + c}u, y${c}.${'xyzw'[k]} + bias);`)).join('\n')}
  }
}`;

// ---------------- the pass ----------------

/** A pass as the subgroup kernel's (`SubgroupPass`), with U for the packed weights. */
type WinogradPass = Omit<SubgroupPass, 'weights'> & { weights: WinogradWeights };

/** Whether every operand of a pass fits the scheme's bindings: one image's planes, U, and a band of one tile row. */
function fits(ctx: KernelContext, p: { inChannels: number; outChannels: number; H: number; W: number; u: number }) {
  const max = maxBindingElements(ctx);
  const band = 16 * Math.ceil(Math.ceil(p.W / 2) / 4) * 4;
  return (
    p.u <= max &&
    p.inChannels * p.H * p.W <= max &&
    p.outChannels * p.H * p.W <= max &&
    band * Math.max(p.inChannels, Math.ceil(p.outChannels / R) * R) * 4 <= Math.min(BAND_BYTES, max * 4)
  );
}

function runWinograd(ctx: KernelContext, p: WinogradPass): void {
  const { H, W } = p;
  const lanes = subgroupLanes(ctx, p.label);
  const TH = Math.ceil(H / 2);
  const TWq4 = Math.ceil(Math.ceil(W / 2) / 4);
  const coPad = p.weights.blocks * R;
  // Tile rows per band: V (16·Cin·rows·TWq floats) and M (16·coPad·…) within BAND_BYTES.
  const perRow = 16 * TWq4 * 4 * 4 * Math.max(p.inChannels, coPad);
  const bandRows = Math.max(1, Math.min(TH, Math.floor(BAND_BYTES / perRow)));
  const bias = p.bias ? elementWindow(ctx, p.bias, 0, p.outChannels) : null;
  const flags =
    (p.firstWrites && bias ? FLAG_BIAS : 0) | (p.firstWrites ? 0 : FLAG_ACCUMULATE) | (p.relu ? FLAG_RELU : 0);
  const [ci] = channelChunks(ctx, p.inChannels, H * W, `${p.label} input`);
  const [co] = channelChunks(ctx, p.outChannels, H * W, `${p.label} output`);
  for (let n = 0; n < p.N; n++) {
    const x = channelWindow(ctx, p.input, n, p.inChannels, H * W, ci!);
    const y = channelWindow(ctx, p.out, n, p.outChannels, H * W, co!);
    for (let tr0 = 0; tr0 < TH; tr0 += bandRows) {
      const rows = Math.min(bandRows, TH - tr0);
      const quads = rows * TWq4;
      const V = ctx.scratch(16 * p.inChannels * quads * 16, 'conv3x3 winograd V');
      const M = ctx.scratch(16 * coPad * quads * 16, 'conv3x3 winograd M');
      const band = { H, W, TWq4, tr0, quads };
      const grid = (count: number): [number, number] => {
        const groups = Math.ceil(count / 64);
        return [Math.min(groups, 65535), Math.ceil(groups / 65535)];
      };
      ctx.dispatch({
        label: `${p.label} (winograd input)`,
        pipeline: ctx.pipeline(inputTransformSource, 'conv3x3 winograd input'),
        bindings: [x.range, V.range],
        uniforms: INPUT_UNIFORMS.pack({
          xBase: x.base,
          ...band,
          count: p.inChannels * quads,
          xiStride: p.inChannels * quads,
        }),
        workgroups: grid(p.inChannels * quads),
      });
      ctx.dispatch({
        label: p.label,
        pipeline: ctx.pipeline(gemmSource({ lanes }), 'conv3x3 winograd products'),
        bindings: [V.range, p.weights.range, M.range],
        uniforms: GEMM_UNIFORMS.pack({
          cin: p.inChannels,
          quads,
          vXi: p.inChannels * quads,
          uBase: p.ciOffset * (R / 4),
          uXi: p.weights.blocks * p.weights.channels * (R / 4),
          uChannels: p.weights.channels,
          mXi: coPad * quads,
        }),
        workgroups: [Math.ceil(quads / lanes), p.weights.blocks, 16],
      });
      ctx.dispatch({
        label: `${p.label} (winograd output)`,
        pipeline: ctx.pipeline(outputTransformSource, 'conv3x3 winograd output'),
        bindings: [M.range, bias?.range ?? M.range, y.range],
        uniforms: OUTPUT_UNIFORMS.pack({
          yBase: y.base,
          bBase: bias?.base ?? 0,
          flags,
          ...band,
          count: p.outChannels * quads,
          xiStride: coPad * quads,
        }),
        workgroups: grid(p.outChannels * quads),
      });
      V.release();
      M.release();
    }
  }
}

/** Forward runner of the 'winograd' rows; passes whose operands outgrow its bindings go to the subgroup kernel. */
export function conv3x3ForwardWinograd(ctx: KernelContext, a: Conv3x3ForwardArgs, label: string): void {
  const cin = totalChannels(a.input);
  const u = 16 * Math.ceil(a.outChannels / R) * R * cin;
  const [H, W] = [a.height, a.width];
  if (a.input.some((seg) => !fits(ctx, { inChannels: seg.channels, outChannels: a.outChannels, H, W, u }))) {
    conv3x3ForwardSubgroup(ctx, a, label);
    return;
  }
  const weights = transformWeights(ctx, a.weight, 'forward', a.outChannels, cin, 0, a.outChannels, a.weightKey);
  for (const pass of forwardSegmentPasses(a, label)) runWinograd(ctx, { ...pass, weights });
  weights.release();
}

/**
 * Where the Winograd forward beats the subgroup kernel with U kept: planes of at least 16² with at least 64
 * channels each way (per kernel 1.18–1.28× at 64², 1.14–1.28× at 32², 1.32–1.37× at 16²; 0.80× at 8², 0.42× at
 * 4², 0.95× with 32 output channels: bench/NOTES.md).
 */
const INFERENCE_MIN_PLANE = 16 * 16;
const INFERENCE_MIN_CHANNELS = 64;

/**
 * Forward runner of the 'winograd-inference' row, the CPU default: Winograd for calls that ask no gradient
 * (`a.inference`: inference, validation) on shapes where it wins, its U kept while the weight is unchanged; the
 * subgroup kernel otherwise, in particular in every training step, where each Adam update would force the weight
 * transform again and Winograd lost (bench/NOTES.md). The choice depends on the call alone, not on what ran
 * before, so a resumed training run computes exactly what an uninterrupted one does.
 */
export function conv3x3ForwardWinogradInference(ctx: KernelContext, a: Conv3x3ForwardArgs, label: string): void {
  const pays =
    a.height * a.width >= INFERENCE_MIN_PLANE &&
    Math.min(totalChannels(a.input), a.outChannels) >= INFERENCE_MIN_CHANNELS;
  // The labels name the kernel that ran too ('conv3x3Forward:winograd-inference/subgroup …'): a profile of a
  // training step should not read as Winograd time.
  const ran = (kernel: string) => label.replace(':winograd-inference ', `:winograd-inference/${kernel} `);
  if (a.inference && pays) conv3x3ForwardWinograd(ctx, a, ran('winograd'));
  else conv3x3ForwardSubgroup(ctx, a, ran('subgroup'));
}

/** dgrad runner of the 'winograd' rows: each segment's gradient is the forward Winograd conv of gradOut. */
export function conv3x3DgradWinograd(ctx: KernelContext, a: Conv3x3DgradArgs, label: string): void {
  const cin = totalChannels(a.gradInput);
  const [H, W] = [a.height, a.width];
  const u = (seg: { channels: number }) => 16 * Math.ceil(seg.channels / R) * R * a.outChannels;
  if (
    a.gradInput.some((seg) => !fits(ctx, { inChannels: a.outChannels, outChannels: seg.channels, H, W, u: u(seg) }))
  ) {
    conv3x3DgradSubgroup(ctx, a, label);
    return;
  }
  for (const { offset, channels, pass } of dgradSegmentPasses(a, label)) {
    const weights = transformWeights(ctx, a.weight, 'dgrad', a.outChannels, cin, offset, channels, a.weightKey);
    runWinograd(ctx, { ...pass, weights });
    weights.release();
  }
}
