/**
 * conv3x3 (stride 1, padding 1) by Winograd's minimal filtering for CPU adapters: the 'winograd' rows
 * (F(2×2, 3×3)) and the 'winograd-f4' rows (F(4×4, 3×3)) of the forward and dgrad passes. Each m×m block of
 * outputs (a tile) comes from an α×α input patch d (α = m + 2): Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, α² multiplies per
 * tile, input channel and output channel where the direct kernel does 9m² — 2.25× fewer for m = 2, 4× for m = 4.
 * The price is three memory passes around the multiplies (bench/NOTES.md, "Winograd"), and for m = 4 a float32
 * error 7–10× the direct kernel's (rms; Bᵀ and Aᵀ have entries up to 5 and 8):
 *
 * 1. weights: U[ξ][block][c][R] = (G g Gᵀ)[ξ], made from the subgroup kernel's packed layout [block][c][9][R]
 *    (which already flips and transposes for dgrad; made in scratch); for calls that ask no gradient kept while
 *    the weight is unchanged, in pooled scratch otherwise;
 * 2. input: V[ξ][ci][tile] = (Bᵀ d B)[ξ], one invocation per input channel and 4 consecutive tiles of a tile row;
 * 3. a batch of α² products M[ξ] = U[ξ]·V[ξ] ([Cout × Cin] · [Cin × tiles]) in the subgroup kernels' style:
 *    a workgroup is one subgroup of L lanes owning 4·L tiles (lane l one vec4 of 4 tiles) and R = 16 output
 *    channels, so 16 vec4 accumulators per lane; per pair of input channels one vec4 of V per channel and lane,
 *    the 2·R weights as 2·R/4 vec4 loads spread over the lanes and fanned out by subgroupBroadcast: 8·R FMAs per
 *    3 loads and 2·R broadcasts;
 * 4. output: Y = Aᵀ M A per tile with the epilogue flags (bias, accumulate, ReLU), one invocation per output
 *    channel and 4 tiles.
 * V and M are scratch, made a band of tile rows at a time so neither outgrows one binding. The transforms' WGSL
 * is generated from the scheme's matrices, unrolled, with the zero terms left out.
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

// ---------------- the schemes ----------------

/** A Winograd scheme F(m×m, 3×3): its matrices, rows as written in Lavin & Gray (2016). */
export interface WinogradScheme {
  /** Output tile side. */
  readonly m: 2 | 4;
  /** Input patch side, m + 2. */
  readonly alpha: number;
  /** Bᵀ (α × α), G (α × 3), Aᵀ (m × α). */
  readonly BT: readonly (readonly number[])[];
  readonly G: readonly (readonly number[])[];
  readonly AT: readonly (readonly number[])[];
  /** Names it in pipeline labels. */
  readonly name: string;
  /** The variant row that runs it alone: 'winograd-by-shape' labels its calls with it. */
  readonly row: 'winograd' | 'winograd-f4';
}

export const WINOGRAD_F2: WinogradScheme = {
  m: 2,
  alpha: 4,
  BT: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  G: [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
  name: 'F(2×2, 3×3)',
  row: 'winograd',
};

export const WINOGRAD_F4: WinogradScheme = {
  m: 4,
  alpha: 6,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
  name: 'F(4×4, 3×3)',
  row: 'winograd-f4',
};

/** Products per tile: the α² positions ξ of U, V and M. */
const positions = (s: WinogradScheme) => s.alpha * s.alpha;

/** WGSL of Σ_k c[k]·terms[k], the zero terms left out (the matrices are sparse and mostly ±1). */
function combination(coefficients: readonly number[], terms: readonly string[]): string {
  let out = '';
  coefficients.forEach((c, k) => {
    if (c === 0) return;
    const magnitude = Math.abs(c);
    const term =
      magnitude === 1 ? terms[k]! : `${Number.isInteger(magnitude) ? `${magnitude}.0` : magnitude} * ${terms[k]}`;
    out += out === '' ? (c < 0 ? `-${term}` : term) : c < 0 ? ` - ${term}` : ` + ${term}`;
  });
  return out;
}

/**
 * WGSL statements for Z = L·X·Rᵀ, unrolled: T = L·X first (`let t{a}_{j} = Σ_i L[a][i]·x(i, j)`, over `width`
 * columns), then each Z[a][b] = Σ_j R[b][j]·T[a][j], handed to `z(a, b, value)` to store or name. All three
 * transforms are one: G g Gᵀ, Bᵀ d B and Aᵀ M A.
 */
function sandwich(
  L: readonly (readonly number[])[],
  R: readonly (readonly number[])[],
  width: number,
  x: (i: number, j: number) => string,
  z: (a: number, b: number, value: string) => string,
): string {
  const lines: string[] = [];
  for (let a = 0; a < L.length; a++) {
    for (let j = 0; j < width; j++) {
      const column = L[a]!.map((_, i) => x(i, j));
      lines.push(`  let t${a}_${j} = ${combination(L[a]!, column)};`);
    }
  }
  for (let a = 0; a < L.length; a++) {
    for (let b = 0; b < R.length; b++) {
      const row = R[b]!.map((_, j) => `t${a}_${j}`);
      lines.push(`  ${z(a, b, combination(R[b]!, row))}`);
    }
  }
  return lines.join('\n');
}

// ---------------- 1. weights ----------------

const WEIGHT_UNIFORMS = uniformBlock(['quads', 'xiStride']);

/** U = G g Gᵀ per (block, channel, quad of R): 9 vec4 taps of the packed layout in, α² vec4 out. */
const weightTransformSource = memoSource((s: WinogradScheme) => {
  const taps = Array.from({ length: 9 }, (_, t) => `  let g${t} = packed[(bc * 9u + ${t}u) * ${R / 4}u + q];`);
  return `
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
${taps.join('\n')}
  // Tap 3k + l is kernel row k, column l.
${sandwich(
  s.G,
  s.G,
  3,
  (k, l) => `g${3 * k + l}`,
  (a, b, v) => `U[${s.alpha * a + b}u * u.xiStride + i] = ${v};`,
)}
}`;
});

interface WinogradWeights {
  scheme: WinogradScheme;
  range: BufferRange;
  /** Blocks of R output channels and reduction channels of U. */
  blocks: number;
  channels: number;
  release(): void;
}

function transformWeights(
  ctx: KernelContext,
  scheme: WinogradScheme,
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
  const bytes = positions(scheme) * quads * 16;
  // F2 or F4 (no parentheses: a profile groups labels with their bracketed and parenthesised parts taken out).
  const label = `conv3x3 winograd ${mode} weights [${cout},${cin},3,3] F${scheme.m}`;
  const kept =
    weightKey && ctx.persistent
      ? ctx.persistent(`${weightKey.id} ${label} ${outOffset}+${outCount}`, weightKey.version, bytes, label)
      : null;
  if (kept && !kept.stale) return { scheme, range: kept.range, blocks, channels, release: () => {} };
  // The packing only feeds the transform: scratch, not kept beside U.
  const packed = packConv3x3Weights(ctx, weight, mode, cout, cin, outOffset, outCount, R);
  const out = kept ? { range: kept.range, release: () => {} } : ctx.scratch(bytes, label);
  const groups = Math.ceil(quads / 64);
  ctx.dispatch({
    label,
    pipeline: ctx.pipeline(weightTransformSource(scheme), `conv3x3 winograd ${scheme.name} weights`),
    bindings: [packed.range, out.range],
    uniforms: WEIGHT_UNIFORMS.pack({ quads, xiStride: quads }),
    workgroups: [Math.min(groups, 65535), Math.ceil(groups / 65535)],
  });
  packed.release();
  return { scheme, range: out.range, blocks, channels, release: () => out.release() };
}

// ---------------- 2. input ----------------

/**
 * Shapes of one band of tile rows from tr0: TWq4 quads of tiles per row (⌈W/m⌉ tiles padded to a multiple of 4),
 * `quads` per channel in the band, `count` invocations (channels × quads).
 */
const BAND_FIELDS = ['H', 'W', 'TWq4', 'tr0', 'quads', 'count', 'xiStride'] as const;
const INPUT_UNIFORMS = uniformBlock(['xBase', ...BAND_FIELDS]);

/**
 * V = Bᵀ d B for one channel and quad of tiles of the band (tiles 4q..4q+3 of a tile row): the α × (3m + α) input
 * values under the four α×α patches (rows m·ty − 1.., columns 4m·q − 1..; zero outside the plane), then α² vec4
 * stores.
 */
const inputTransformSource = memoSource((s: WinogradScheme) => {
  const { m, alpha } = s;
  const span = 3 * m + alpha;
  const loads: string[] = [];
  for (let r = 0; r < alpha; r++) {
    loads.push(`  let yy${r} = y0 + ${r}u;`);
    loads.push(`  let ok${r} = yy${r} < u.H;`);
    loads.push(`  let row${r} = plane + min(yy${r}, u.H - 1u) * u.W;`);
    for (let j = 0; j < span; j++) {
      loads.push(`  let v${r}_${j} = select(0.0, x[row${r} + min(x0 + ${j}u, u.W - 1u)], ok${r} && x0 + ${j}u < u.W);`);
    }
    // d(r, j): row r, column j of the four patches (a vec4 over the tiles).
    for (let j = 0; j < alpha; j++) {
      loads.push(`  let d${r}_${j} = vec4<f32>(${[0, 1, 2, 3].map((k) => `v${r}_${k * m + j}`).join(', ')});`);
    }
  }
  return `
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
  // Wrapping below 0 on purpose: the first row and column fail the bounds tests and read as zero.
  let y0 = ${m}u * (u.tr0 + tr) - 1u;
  let x0 = ${4 * m}u * q - 1u;
${loads.join('\n')}
${sandwich(
  s.BT,
  s.BT,
  alpha,
  (r, j) => `d${r}_${j}`,
  (a, b, v) => `V[${alpha * a + b}u * u.xiStride + i] = ${v};`,
)}
}`;
});

// ---------------- 3. the α² products ----------------

const GEMM_UNIFORMS = uniformBlock(['cin', 'quads', 'vXi', 'uBase', 'uXi', 'uChannels', 'mXi']);

/**
 * M[ξ][co][tile] = Σ_ci U[ξ][co][ci] V[ξ][ci][tile] for ξ = wid.z, channels R·wid.y.., tiles 4·L·wid.x.. .
 * Lanes 0..L/2−1 load the R weights of channel c (R/4 vec4), lanes L/2.. those of c + 1 (L = 8; with 4 lanes each
 * lane loads one vec4 of one channel and the pair takes two rounds).
 */
const gemmSource = memoSource(({ lanes, xis }: { lanes: number; xis: number }): string => {
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
  // The block's last quad in U. An odd channel count's last pair reads its (zero-weighted: v1 = 0) second
  // channel past the segment; clamped here it stays inside U, whose bytes past its end are not ours to read.
  let wLast = xi * u.uXi + (block + 1u) * u.uChannels * ${perChannel}u - 1u;
${Array.from({ length: R }, (_, r) => `  var a${r} = vec4<f32>(0.0);`).join('\n')}
  for (var c = 0u; c < u.cin; c += 2u) {
    let v0 = V[vo];
    let v1 = select(vec4<f32>(0.0), V[min(vo + u.quads, u.vXi * ${xis}u - 1u)], c + 1u < u.cin);
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
const outputTransformSource = memoSource((s: WinogradScheme) => {
  const { m, alpha } = s;
  const loads = Array.from({ length: alpha * alpha }, (_, k) => `  let m${k} = M[${k}u * u.xiStride + o];`);
  // Output row m·tr + a, column 4m·q + m·k + b (tile k of the quad): y(a, b)[k].
  const store = (a: number, b: number, v: string) =>
    `let y${a}_${b} = ${v};\n${[0, 1, 2, 3]
      .map((k) => `  store(plane, row0 + ${a}u, ${4 * m}u * q + ${m * k + b}u, y${a}_${b}.${'xyzw'[k]} + bias);`)
      .join('\n')}`;
  return `
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
${loads.join('\n')}
  var bias = 0.0;
  if ((u.flags & ${FLAG_BIAS}u) != 0u) { bias = b[u.bBase + co]; }
  let plane = u.yBase + co * u.H * u.W;
  let row0 = ${m}u * (u.tr0 + tr);
${sandwich(s.AT, s.AT, alpha, (i, j) => `m${alpha * i + j}`, store)}
}`;
});

// ---------------- the pass ----------------

/** A pass as the subgroup kernel's (`SubgroupPass`), with U for the packed weights. */
type WinogradPass = Omit<SubgroupPass, 'weights'> & { weights: WinogradWeights };

/**
 * Whether every operand of a pass fits one binding each: one image's planes, U (α² × the padded weights), and V
 * and M for a band of one tile row.
 */
function fits(
  ctx: KernelContext,
  s: WinogradScheme,
  p: { inChannels: number; outChannels: number; H: number; W: number; weightChannels: number },
) {
  const max = maxBindingElements(ctx);
  const band = positions(s) * Math.ceil(Math.ceil(p.W / s.m) / 4) * 4;
  const paddedOut = Math.ceil(p.outChannels / R) * R;
  return (
    positions(s) * paddedOut * p.weightChannels <= max &&
    p.inChannels * p.H * p.W <= max &&
    p.outChannels * p.H * p.W <= max &&
    band * Math.max(p.inChannels, paddedOut) * 4 <= Math.min(BAND_BYTES, max * 4)
  );
}

function runWinograd(ctx: KernelContext, p: WinogradPass): void {
  const { H, W } = p;
  const lanes = subgroupLanes(ctx, p.label);
  const s = p.weights.scheme;
  const xis = positions(s);
  const TH = Math.ceil(H / s.m);
  const TWq4 = Math.ceil(Math.ceil(W / s.m) / 4);
  const coPad = p.weights.blocks * R;
  // Tile rows per band: V (α²·Cin·rows·TWq floats) and M (α²·coPad·…) within BAND_BYTES.
  const perRow = xis * TWq4 * 4 * 4 * Math.max(p.inChannels, coPad);
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
      const V = ctx.scratch(xis * p.inChannels * quads * 16, 'conv3x3 winograd V');
      const M = ctx.scratch(xis * coPad * quads * 16, 'conv3x3 winograd M');
      const band = { H, W, TWq4, tr0, quads };
      const grid = (count: number): [number, number] => {
        const groups = Math.ceil(count / 64);
        return [Math.min(groups, 65535), Math.ceil(groups / 65535)];
      };
      ctx.dispatch({
        label: `${p.label} (winograd input)`,
        pipeline: ctx.pipeline(inputTransformSource(s), `conv3x3 winograd ${s.name} input`),
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
        pipeline: ctx.pipeline(gemmSource({ lanes, xis }), `conv3x3 winograd ${s.name} products`),
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
        workgroups: [Math.ceil(quads / lanes), p.weights.blocks, xis],
      });
      ctx.dispatch({
        label: `${p.label} (winograd output)`,
        pipeline: ctx.pipeline(outputTransformSource(s), `conv3x3 winograd ${s.name} output`),
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

/**
 * Forward runner of the 'winograd' and 'winograd-f4' rows; passes whose operands outgrow its bindings go to the
 * subgroup kernel.
 */
export function conv3x3ForwardWinograd(
  ctx: KernelContext,
  a: Conv3x3ForwardArgs,
  label: string,
  scheme: WinogradScheme,
): void {
  const cin = totalChannels(a.input);
  const [H, W] = [a.height, a.width];
  const shape = (seg: { channels: number }) => ({
    inChannels: seg.channels,
    outChannels: a.outChannels,
    H,
    W,
    weightChannels: cin,
  });
  if (a.input.some((seg) => !fits(ctx, scheme, shape(seg)))) {
    conv3x3ForwardSubgroup(ctx, a, label);
    return;
  }
  // U is kept only for calls that ask no gradient: in a training step the next Adam update makes it stale, so
  // it goes to pooled scratch and training holds no U per layer.
  const key = a.inference ? a.weightKey : undefined;
  const weights = transformWeights(ctx, scheme, a.weight, 'forward', a.outChannels, cin, 0, a.outChannels, key);
  for (const pass of forwardSegmentPasses(a, label)) runWinograd(ctx, { ...pass, weights });
  weights.release();
}

/**
 * Where each scheme beats the subgroup kernel, per kernel with the weight transform paid on every call (as in a
 * training step; bench/NOTES.md, "F(4×4, 3×3)"): F(4×4) on planes of at least 32² with at least 64 channels each
 * way, 1.3–1.7× (F(2×2) 1.0–1.3× there); F(2×2) on 16² planes, 0.9–1.1× on this AVX-512 host and 1.4–2.3×
 * with AVX2 only, where F(4×4) has 4 tiles per 8 lanes (0.6–0.8×); neither below 16² (0.4–0.8×), nor with
 * 32 output channels (≤ 1.08×), nor 3 input channels (0.3×).
 */
const F4_MIN_PLANE = 32 * 32;
const F2_MIN_PLANE = 16 * 16;
const MIN_CHANNELS = 64;

/** The scheme a call of the 'winograd-by-shape' rows takes, or null for the subgroup kernel. */
function schemeByShape(plane: number, inChannels: number, outChannels: number): WinogradScheme | null {
  if (Math.min(inChannels, outChannels) < MIN_CHANNELS || plane < F2_MIN_PLANE) return null;
  return plane >= F4_MIN_PLANE ? WINOGRAD_F4 : WINOGRAD_F2;
}

/** The row's label with the kernel a call took: `conv3x3Forward:winograd-by-shape/winograd-f4 …`. */
const labelWithKernel = (label: string, scheme: WinogradScheme | null) =>
  label.replace(':winograd-by-shape ', `:winograd-by-shape/${scheme?.row ?? 'subgroup'} `);

/**
 * Forward runner of the 'winograd-by-shape' row, the CPU default: the scheme `schemeByShape` picks, the subgroup
 * kernel where none pays. The choice depends on the shape alone, not on what ran before, so a resumed training
 * run computes exactly what an uninterrupted one does. The labels name the kernel that ran, so a profile shows it.
 */
export function conv3x3ForwardWinogradByShape(ctx: KernelContext, a: Conv3x3ForwardArgs, label: string): void {
  const scheme = schemeByShape(a.height * a.width, totalChannels(a.input), a.outChannels);
  if (scheme) conv3x3ForwardWinograd(ctx, a, labelWithKernel(label, scheme), scheme);
  else conv3x3ForwardSubgroup(ctx, a, labelWithKernel(label, null));
}

/** dgrad runner of the 'winograd-by-shape' row, the CPU default: as the forward's. */
export function conv3x3DgradWinogradByShape(ctx: KernelContext, a: Conv3x3DgradArgs, label: string): void {
  const scheme = schemeByShape(a.height * a.width, a.outChannels, totalChannels(a.gradInput));
  if (scheme) conv3x3DgradWinograd(ctx, a, labelWithKernel(label, scheme), scheme);
  else conv3x3DgradSubgroup(ctx, a, labelWithKernel(label, null));
}

/** dgrad runner of the 'winograd' and 'winograd-f4' rows: each segment's gradient is the forward Winograd conv of gradOut. */
export function conv3x3DgradWinograd(
  ctx: KernelContext,
  a: Conv3x3DgradArgs,
  label: string,
  scheme: WinogradScheme,
): void {
  const cin = totalChannels(a.gradInput);
  const [H, W] = [a.height, a.width];
  const shape = (seg: { channels: number }) => ({
    inChannels: a.outChannels,
    outChannels: seg.channels,
    H,
    W,
    weightChannels: a.outChannels,
  });
  if (a.gradInput.some((seg) => !fits(ctx, scheme, shape(seg)))) {
    conv3x3DgradSubgroup(ctx, a, label);
    return;
  }
  for (const { offset, channels, pass } of dgradSegmentPasses(a, label)) {
    // Scratch, as the forward's in a training step: the dgrad's U would be stale after the step's Adam update.
    const weights = transformWeights(ctx, scheme, a.weight, 'dgrad', a.outChannels, cin, offset, channels, undefined);
    runWinograd(ctx, { ...pass, weights });
    weights.release();
  }
}
