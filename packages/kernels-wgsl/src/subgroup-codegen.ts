/**
 * What the subgroup kernels (conv3x3-subgroup.ts, conv-transpose-subgroup.ts) share: the one rule for the lane
 * count they are written for, their WGSL skeletons (`forwardKernelSource` for the forward-style kernels,
 * `wgradKernelSource` for the weight gradients, and the pieces the transposed conv's dgrad assembles itself) and
 * their dispatch loops (`runSubgroupForwardPasses`, `runSubgroupWgradPasses`). Each kernel file keeps what is
 * its own: the loads, windows and FMAs of its body, its stores, its specialisation keys.
 *
 * These kernels use one subgroup as the workgroup: lane l owns a quad of 4 pixels, a strip is 4·L pixels, halo
 * columns come from lanes l ± 1 (shuffles modulo L) and values loaded by one lane reach all by
 * `subgroupBroadcast(v, lane)`. All of that is only right if every workgroup of L invocations is exactly one
 * subgroup with lane ids 0..L−1. WGSL has no way to request a subgroup size, so the lane count L must be the
 * adapter's only size: subgroupMinSize == subgroupMaxSize == L. On SwiftShader (4 lanes) an 8-lane kernel
 * split each workgroup over two subgroups and read other lanes' registers: wrong values, NaN.
 */
import { type ChannelChunk, channelChunks, channelWindow, imagesPerWindow } from './conv-plan.ts';
import {
  elementWindow,
  FLAG_ACCUMULATE,
  FLAG_BIAS,
  FLAG_RELU,
  gridMain,
  uniformBlock,
  workgroupGrid,
} from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';
import { splitWgrad } from './wgrad-tiled.ts';

/**
 * Lane counts the subgroup kernels are generated and tested for: 8 natively on lavapipe, 4 by emulation there
 * (a 4-invocation workgroup inside one 8-lane subgroup: ops.test.ts) and in Chromium's SwiftShader. Wider
 * subgroups (GPUs' 32/64) would unroll the weight-gradient strip loop 4–8× further for adapters that use the
 * tiled kernels anyway.
 */
export const SUBGROUP_LANES: readonly number[] = [4, 8];

/**
 * Why a kernel written for a fixed lane count from `supported` cannot run on this context, or null when it can.
 * The subgroups feature is checked too: without it the sizes mean nothing.
 */
export function subgroupLanesProblem(ctx: KernelContext, supported: readonly number[] = SUBGROUP_LANES): string | null {
  if (!ctx.features.has('subgroups')) return "the device has no 'subgroups' feature";
  const sizes = ctx.subgroupSizes;
  if (!sizes) return 'the adapter does not report its subgroup sizes (KernelContext.subgroupSizes)';
  if (sizes.min !== sizes.max) {
    return `the adapter's subgroups have ${sizes.min} to ${sizes.max} lanes and WGSL cannot fix the size`;
  }
  if (!supported.includes(sizes.min)) {
    return `the adapter's subgroups have ${sizes.min} lanes; these kernels are generated for ${supported.join(' or ')}`;
  }
  return null;
}

/** The lane count to generate a subgroup kernel for; throws (naming why) where no such kernel is correct. */
export function subgroupLanes(ctx: KernelContext, what: string): number {
  const problem = subgroupLanesProblem(ctx);
  if (problem) throw new RangeError(`${what}: no subgroup kernel is correct on this adapter: ${problem}`);
  return ctx.subgroupSizes!.min;
}

// ---------------- bindings ----------------

const VEC4_ARRAY = 'array<vec4<f32>>';

/** The input as a vec4 view (aligned quads) and a scalar one (halos, ragged rows): the first two bindings. */
const INPUT_VIEWS = [
  ['x4', VEC4_ARRAY],
  ['x1', 'array<f32>'],
] as const;

/**
 * The bindings of a subgroup kernel: `enable subgroups`, the storage buffers in binding order ([name, type];
 * the last one written, the others read), then the uniform block `u`.
 */
function subgroupBindings(storage: readonly (readonly [string, string])[], uniformsWgsl: string): string[] {
  const last = storage.length - 1;
  return [
    'enable subgroups;',
    ...storage.map(
      ([name, type], i) =>
        `@group(0) @binding(${i}) var<storage, ${i === last ? 'read_write' : 'read'}> ${name}: ${type};`,
    ),
    uniformsWgsl,
    `@group(0) @binding(${storage.length}) var<uniform> u: Params;`,
  ];
}

/**
 * The opening of a forward-style subgroup kernel (`subgroupBindings`) up to `main`'s body: one subgroup per
 * workgroup over a linear grid of workgroups (linearWorkgroup). Every binding stays in the 'auto' layout even where
 * a kernel does not read it: `keep` names the views to touch (the caller binds all).
 */
export function forwardStyleHeader(
  storage: readonly (readonly [string, string])[],
  uniformsWgsl: string,
  lanes: number,
  keep: readonly string[],
): string[] {
  return [
    ...subgroupBindings(storage, uniformsWgsl),
    gridMain(lanes, 'subgroup_invocation_id'),
    `  ${keep.map((v) => `_ = &${v};`).join(' ')}`,
  ];
}

// ---------------- forward-style kernels ----------------

/**
 * The uniforms of the subgroup forward kernels (conv3x3's forward and dgrad, the transposed conv's forward):
 * plane shapes (Wq = W rounded up to 4, HWq = H·Wq), the packed weights' block stride, the epilogue flags.
 */
export const SUBGROUP_FORWARD_UNIFORMS = uniformBlock([
  'xBase',
  'yBase',
  'woBase',
  'bBase',
  'H',
  'W',
  'Wq',
  'HW',
  'HWq',
  'ciCount',
  'coCount',
  'blockStride',
  'wRowStride',
  'wChStride',
  'wLast',
  'flags',
]);

/**
 * The opening of a subgroup forward kernel (conv3x3's forward and dgrad, the transposed conv's forward): the
 * input as vec4 and scalar views (x4, x1), the packed weights w4, the bias, the output y as array<`yElement`>,
 * the forward uniforms (`forwardStyleHeader`).
 */
function forwardKernelHeader(yElement: string, lanes: number, direct: boolean): string[] {
  const weights = direct ? (['w1', 'array<f32>'] as const) : (['w4', VEC4_ARRAY] as const);
  const storage = [...INPUT_VIEWS, weights, ['bias', 'array<f32>'], ['y', `array<${yElement}>`]] as const;
  return forwardStyleHeader(storage, SUBGROUP_FORWARD_UNIFORMS.wgsl, lanes, ['x4', 'x1', 'bias']);
}

/**
 * Where this lane's quad is in a forward-style kernel (conv3x3's forward and dgrad, the transposed conv's forward
 * and dgrad): subgroup `strip` (a WGSL expression) owns the 4·L pixels of the H × Wq grid from its lane 0's pRaw
 * on, and block cb of R output channels. Lanes past the plane compute a duplicate of the last quad (p) and never
 * store it.
 */
export function forwardQuadPosition(strip: string, lanes: number, rows = 1): string[] {
  return [
    rows === 1 ? '  let gridQ = u.HWq;' : `  let gridQ = ((H + ${rows - 1}u) / ${rows}u) * Wq;`,
    `  let pRaw = ${strip} * ${4 * lanes}u + sl * 4u;`,
    '  let p = min(pRaw, gridQ - 4u);',
    rows === 1 ? '  let py = p / Wq; let px = p % Wq;' : `  let py = (p / Wq) * ${rows}u; let px = p % Wq;`,
    '  let cb = wid.z;',
  ];
}

/** For rows that are not whole quads: whether column i of this lane's quad is in the row, and i clamped into it. */
function raggedQuadColumns(): string[] {
  return [0, 1, 2, 3].map((i) => `  let cOK${i} = px + ${i}u < W; let cx${i} = min(px + ${i}u, W - 1u);`);
}

/**
 * Loads of one reduction channel's 9R packed weights (vec4 `wo + i`, i < 9R/4), spread over the lanes: lane l
 * loads vec4 l, l + L, ... into wv0, wv1, ... (the last load clamped to the block).
 */
function weightLoads(R: number, lanes: number): string[] {
  const nW4 = (9 * R) / 4;
  return Array.from({ length: Math.ceil(nW4 / lanes) }, (_, j) => {
    const idx = nW4 >= lanes * (j + 1) ? `sl + ${lanes * j}u` : `min(sl + ${lanes * j}u, ${nW4 - 1}u)`;
    return `    let wv${j} = w4[wo + ${idx}];`;
  });
}

/**
 * The direct layout's loads: lane l loads the 9 taps of the block's rows l, l + L, … (rows wRowStride apart, taps
 * adjacent): 9·⌈R/L⌉ scalar loads per lane and one row offset per L rows (rows of a partial block past the tensor
 * are clamped to its last element and never stored).
 */
function directWeightOffsets(R: number, lanes: number): string[] {
  return Array.from(
    { length: Math.ceil(R / lanes) },
    (_, i) => `  let wRow${i} = (sl + ${lanes * i}u) * u.wRowStride;`,
  );
}

/** Loads of one reduction channel's weights in the direct layout (`directWeightOffsets`): wv{i}_{t}. */
function directWeightLoads(R: number, lanes: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < Math.ceil(R / lanes); i++) {
    for (let t = 0; t < 9; t++) lines.push(`    let wv${i}_${t} = w1[min(wo + wRow${i} + ${t}u, u.wLast)];`);
  }
  return lines;
}

/**
 * Weight (row r, tap t) of the current reduction channel, made uniform. Packed ([⌈out/R⌉][channels][9][R], by
 * packConv3x3Weights): element t·R + r, vec4 k/4 in lane (k/4) mod L. Direct (the weight tensor as it is,
 * `directWeightLoads`): tap t, or 8 − t for the flipped taps of a dgrad, of row r, in lane r mod L.
 */
export function blockWeight(layout: WeightLayout, r: number, t: number, R: number, lanes: number): string {
  if (layout === 'packed') return packedWeight(t * R + r, lanes);
  return `subgroupBroadcast(wv${Math.floor(r / lanes)}_${layout === 'dgrad' ? 8 - t : t}, ${r % lanes}u)`;
}

/**
 * How a forward-style kernel reads its weights: 'packed' by packConv3x3Weights, or straight from a weight tensor
 * whose 9 taps per (row, reduction channel) are contiguous, the row and channel strides given as uniforms
 * (`DirectWeights`): 'forward' reads the taps as stored (conv3x3's forward: rows are output channels, Cin·9 apart,
 * channels 9 apart; the transposed conv's forward and dgrad read its [Cin][Cout] tensor the same way with other
 * strides), 'dgrad' flipped (conv3x3's dgrad: rows are input channels, 9 apart; channels Cin·9 apart).
 */
export type WeightLayout = 'packed' | 'forward' | 'dgrad';

/** Element k of the 9R weights loaded by `weightLoads`, made uniform: vec4 k/4 sits in lane (k/4) mod L. */
export function packedWeight(k: number, lanes: number): string {
  return `subgroupBroadcast(wv${Math.floor(k / (4 * lanes))}[${k % 4}], ${Math.floor(k / 4) % lanes}u)`;
}

/**
 * The reduction loop of a forward-style kernel, over `channel` < `count`: per channel the 9R packed weights
 * spread over the lanes (`weightLoads`), the kernel's `body`, then the input offset xo moves on by one channel
 * plane (`plane`) and the weight offset wo by one channel's 9R/4 vec4.
 */
export function packedWeightLoop(
  R: number,
  lanes: number,
  loop: { channel: string; count: string; plane: string },
  body: readonly string[],
  direct = false,
): string[] {
  const c = loop.channel;
  return [
    ...(direct ? directWeightOffsets(R, lanes) : []),
    '  var xo = 0u;',
    '  var wo = u.woBase + cb * u.blockStride;',
    `  for (var ${c} = 0u; ${c} < ${loop.count}; ${c}++) {`,
    ...(direct ? directWeightLoads(R, lanes) : weightLoads(R, lanes)),
    ...body,
    `    xo += ${loop.plane}; wo += ${direct ? 'u.wChStride' : `${(9 * R) / 4}u`};`,
    '  }',
  ];
}

/**
 * The close of a forward-style kernel: lanes whose quad is in the plane run `setup`, then `store(r)` for each of
 * the R output channels of block cb below `count`; then `main` ends.
 */
export function blockStores(R: number, count: string, setup: readonly string[], store: (r: number) => string[]) {
  const lines = ['  if (pRaw < gridQ) {', ...setup];
  for (let r = 0; r < R; r++) lines.push(`    if (cb * ${R}u + ${r}u < ${count}) {`, ...store(r), '    }');
  lines.push('  }', '}');
  return lines;
}

/**
 * `blockStores` for the forward kernels (SUBGROUP_FORWARD_UNIFORMS): the epilogue flags (addBias, accumulate,
 * relu) after `setup`, and each channel's index co before its `store`.
 */
function forwardEpilogue(R: number, setup: string, store: (r: number) => string[]): string[] {
  const flags = [
    `    let addBias = (u.flags & ${FLAG_BIAS}u) != 0u;`,
    `    let accumulate = (u.flags & ${FLAG_ACCUMULATE}u) != 0u;`,
    `    let relu = (u.flags & ${FLAG_RELU}u) != 0u;`,
  ];
  return blockStores(R, 'u.coCount', [setup, ...flags], (r) => [`      let co = cb * ${R}u + ${r}u;`, ...store(r)]);
}

/** What a forward kernel (conv3x3's forward and dgrad, the transposed conv's forward) puts into its source. */
export interface ForwardKernelParts {
  lanes: number;
  /** Output channels per subgroup (a block of the packed weights). */
  R: number;
  /** Output rows per lane (a lane owns the quads at rows py .. py + rows − 1; default 1). */
  rows?: number;
  /** How the weights are read (default 'packed'; see WeightLayout). */
  weights?: WeightLayout;
  /** The output's element type: vec4<f32> where a quad is stored at once, else f32. */
  yElement: string;
  /** Rows are whole quads and the windows aligned: no per-column guards (`raggedQuadColumns`). */
  vec: boolean;
  /** Lines that name this subgroup's strip, and the strip (a WGSL expression): see `forwardQuadPosition`. */
  strip: { lines: readonly string[]; index: string };
  /** Lines after the quad position: the kernel's neighbour lanes, row offsets and edge guards. */
  setup: readonly string[];
  /** The accumulators' declarations. */
  accumulators: readonly string[];
  /** Per input channel, after its packed weights are loaded (`packedWeightLoop`). */
  body: readonly string[];
  /** `forwardEpilogue`'s setup line and per-channel stores. */
  epilogue: { setup: string; store(r: number): string[] };
}

/**
 * A forward kernel's source: the header, the quad position, the loop over the input channels with their packed
 * weights, the epilogue, around the kernel's own setup, accumulators, body and stores.
 */
export function forwardKernelSource(k: ForwardKernelParts): string {
  const { lanes, R } = k;
  return [
    ...forwardKernelHeader(k.yElement, lanes, (k.weights ?? 'packed') !== 'packed'),
    '  let H = u.H; let W = u.W; let Wq = u.Wq;',
    ...k.strip.lines,
    ...forwardQuadPosition(k.strip.index, lanes, k.rows),
    ...k.setup,
    ...(k.vec ? [] : raggedQuadColumns()),
    ...k.accumulators,
    ...packedWeightLoop(
      R,
      lanes,
      { channel: 'ci', count: 'u.ciCount', plane: 'u.HW' },
      k.body,
      (k.weights ?? 'packed') !== 'packed',
    ),
    ...forwardEpilogue(R, k.epilogue.setup, k.epilogue.store),
  ].join('\n');
}

/** Chunks of output channels that fit one binding and start at multiples of R (packed blocks). */
export function blockAlignedChunks(
  ctx: KernelContext,
  channels: number,
  plane: number,
  R: number,
  what: string,
): ChannelChunk[] {
  const raw = channelChunks(ctx, channels, plane, what);
  if (raw.length === 1) return raw;
  const per = Math.max(R, Math.floor(raw[0]!.count / R) * R);
  const out: ChannelChunk[] = [];
  for (let start = 0; start < channels; start += per) out.push({ start, count: Math.min(per, channels - start) });
  return out;
}

/** The uniforms of a subgroup forward-style kernel, by `SUBGROUP_FORWARD_UNIFORMS`' names. */
type ForwardUniformValues = Parameters<typeof SUBGROUP_FORWARD_UNIFORMS.pack>[0];

/**
 * A kernel for `runSubgroupForwardPasses`: its source for a dispatch (R output channels per subgroup; `xVec`:
 * W % 4 == 0 and the input window 16-byte aligned; `yVec`: the output window aligned; `needExtra`: strips start
 * mid-row), its uniforms (by the forward names) and whether it binds a bias.
 */
export interface SubgroupForwardKernel {
  source(s: {
    R: number;
    rows: number;
    weights: WeightLayout;
    lanes: number;
    needExtra: boolean;
    xVec: boolean;
    yVec: boolean;
  }): string;
  pack(values: ForwardUniformValues): ArrayBuffer;
  biasBinding: boolean;
}

/**
 * Whether the subgroup kernels read the weight tensor as it is (`DirectWeights`) rather than a packed copy. Packing
 * is a pass over all the weights; reading them in place costs the kernel ~5–14 % (9 scalar loads per lane and
 * channel against vec4 ones of a contiguous block; bench/NOTES.md, "Weights read in place"). So: packed where the
 * packing is kept across calls (inference with the weight's content key: no pass at all) or where the plane is
 * large enough to repay it (> `maxPlane`: 32² for conv3x3 and the transposed conv's dgrad, 16² for its forward,
 * whose 32² layer lost 4–6 % in place); in place elsewhere, i.e. for the deep layers of a training step, where
 * every Adam update would force a new packing of the largest weights for a few FLOPs per weight.
 */
export function readsWeightsInPlace(
  ctx: KernelContext,
  H: number,
  W: number,
  kept: boolean,
  maxPlane = 32 * 32,
): boolean {
  return !(kept && ctx.persistent) && H * W <= maxPlane;
}

/**
 * Weights read straight from the weight tensor: the layout, the element index of block 0's row 0 at reduction
 * channel 0 (`base`), the strides between blocks of R rows, between rows and between reduction channels, and the
 * last element of the tensor (loads past it, for the rows of a partial block, are clamped and never stored).
 */
export interface DirectWeights {
  layout: 'forward' | 'dgrad';
  base: number;
  blockStride: number;
  rowStride: number;
  channelStride: number;
  last: number;
}

/**
 * The `DirectWeights` of a weight tensor of `total` floats bound as `window`: blocks of R rows `rowStride` apart
 * (so blocks R·rowStride apart), reduction channels `channelStride` apart, block 0's row 0 at element `first`.
 */
export function directWeights(
  window: { base: number },
  total: number,
  layout: DirectWeights['layout'],
  R: number,
  strides: { row: number; channel: number; first?: number },
): DirectWeights {
  return {
    layout,
    base: window.base + (strides.first ?? 0),
    blockStride: R * strides.row,
    rowStride: strides.row,
    channelStride: strides.channel,
    last: window.base + total - 1,
  };
}

/** A forward-style subgroup convolution (a forward, or a dgrad as the forward of the output gradient). */
export interface SubgroupForwardRun {
  input: BufferRange;
  inChannels: number;
  /** Where this input's channel 0 sits in the packed weights' reduction channels (concatenated segments). */
  ciOffset: number;
  out: BufferRange;
  outChannels: number;
  /**
   * Pixels of one input and one output channel: H·W, the pixel grid of the strips, or 4·H·W for the transposed
   * conv's 2H × 2W (its forward's output, its dgrad's input).
   */
  inPlane: number;
  outPlane: number;
  /**
   * Packed [⌈out/R⌉][channels][9][R] (packConv3x3Weights), or with `direct` the weight tensor itself (a binding
   * window and its element strides: see WeightLayout).
   */
  weights: {
    readonly range: BufferRange;
    readonly R: number;
    readonly channels: number;
    readonly direct?: DirectWeights;
  };
  /** Output rows per lane, for kernels that take it (default 1). */
  rows?: number;
  bias: BufferRange | null;
  N: number;
  H: number;
  W: number;
  /** The first input chunk writes the output (else every chunk adds to it). */
  firstWrites: boolean;
  relu: boolean;
  label: string;
  /** The operands' names in the binding-size errors. */
  inputName: string;
  outputName: string;
  kernel: SubgroupForwardKernel;
}

/**
 * out (+)= conv(input) over every image and binding chunk: one subgroup per strip of 4·L pixels of the H × Wq
 * input grid and block of R output channels; the bias on the first input chunk, the ReLU on the last.
 */
export function runSubgroupForwardPasses(ctx: KernelContext, p: SubgroupForwardRun): void {
  const { N, H, W } = p;
  const HW = H * W;
  const R = p.weights.R;
  const ciChunks = channelChunks(ctx, p.inChannels, p.inPlane, `${p.label} ${p.inputName}`);
  const coChunks = blockAlignedChunks(ctx, p.outChannels, p.outPlane, R, `${p.label} ${p.outputName}`);
  const bias = p.bias ? elementWindow(ctx, p.bias, 0, p.outChannels) : null;
  const Wq = Math.ceil(W / 4) * 4;
  const lanes = subgroupLanes(ctx, p.label);
  const rows = p.rows ?? 1;
  const tiles = workgroupGrid(ctx, Math.ceil((Math.ceil(H / rows) * Wq) / (4 * lanes)));
  for (let n = 0; n < N; n++) {
    for (const co of coChunks) {
      ciChunks.forEach((ci, k) => {
        const first = k === 0 && p.firstWrites;
        const x = channelWindow(ctx, p.input, n, p.inChannels, p.inPlane, ci);
        const y = channelWindow(ctx, p.out, n, p.outChannels, p.outPlane, co);
        const direct = p.weights.direct;
        const source = p.kernel.source({
          R,
          rows,
          weights: direct?.layout ?? 'packed',
          lanes,
          needExtra: (4 * lanes) % Wq !== 0,
          xVec: W % 4 === 0 && x.base % 4 === 0,
          yVec: y.base % 4 === 0,
        });
        const flags =
          (first && bias !== null ? FLAG_BIAS : 0) |
          (first ? 0 : FLAG_ACCUMULATE) |
          (k === ciChunks.length - 1 && p.relu ? FLAG_RELU : 0);
        // Without a bias the weights stand in for the (unread) bias binding.
        const biasBinding = p.kernel.biasBinding ? [bias?.range ?? p.weights.range] : [];
        ctx.dispatch({
          label: p.label,
          pipeline: ctx.pipeline(source, p.label),
          bindings: [x.range, x.range, p.weights.range, ...biasBinding, y.range],
          uniforms: p.kernel.pack({
            xBase: x.base,
            yBase: y.base,
            // Packed weights: block b, reduction channel c at vec4 index (b·channels + c)·9R/4.
            woBase: direct
              ? direct.base + (co.start / R) * direct.blockStride + (p.ciOffset + ci.start) * direct.channelStride
              : ((co.start / R) * p.weights.channels + p.ciOffset + ci.start) * ((9 * R) / 4),
            bBase: (bias?.base ?? 0) + co.start,
            H,
            W,
            Wq,
            HW,
            HWq: H * Wq,
            ciCount: ci.count,
            coCount: co.count,
            blockStride: direct ? direct.blockStride : p.weights.channels * ((9 * R) / 4),
            wRowStride: direct?.rowStride ?? 0,
            wChStride: direct?.channelStride ?? 0,
            wLast: direct?.last ?? 0,
            flags,
          }),
          workgroups: [tiles[0], tiles[1], Math.ceil(co.count / R)],
        });
      });
    }
  }
}

// ---------------- weight gradients ----------------

/** A subgroup weight-gradient kernel's own names for three of its uniforms (see `subgroupWgradUniforms`). */
type WgradUniformNames = { blocks: string; perGroup: string; rowStride: string };

export interface SubgroupWgradUniforms {
  names: WgradUniformNames;
  wgsl: string;
  pack(values: WgradUniformValues): ArrayBuffer;
}

/** The uniform fields of a subgroup weight-gradient kernel, under the generic names the shared runner packs. */
const WGRAD_FIELDS = [
  'xBase',
  'gBase',
  'xImage',
  'gImage',
  'stripsTotal',
  'outBase',
  'sliceStride',
  'H',
  'W',
  'Wq',
  'HW',
  'HWq',
  'nStrips',
  'stripsPer',
  'blocks',
  'perGroup',
  'ciCount',
  'coCount',
  'rowStride',
  'accumulate',
] as const;

type WgradUniformValues = Readonly<Record<(typeof WGRAD_FIELDS)[number], number>>;

/**
 * The uniforms of a subgroup weight-gradient kernel: images and strips of the dispatch, the slices of a split
 * reduction, and the kernel's own names (in its WGSL) for its lane-channel blocks (`blocks`: how many;
 * `perGroup`: blocks per workgroup) and for the weight gradient's row stride; `pack` takes them by the generic
 * names.
 */
export function subgroupWgradUniforms(names: WgradUniformNames): SubgroupWgradUniforms {
  const kernelNames: Readonly<Record<string, string>> = names;
  const block = uniformBlock(WGRAD_FIELDS.map((f) => kernelNames[f] ?? f));
  return {
    names,
    wgsl: block.wgsl,
    pack: (v) =>
      block.pack({ ...v, [names.blocks]: v.blocks, [names.perGroup]: v.perGroup, [names.rowStride]: v.rowStride }),
  };
}

/**
 * The opening of a subgroup weight-gradient kernel (conv3x3 and transposed conv): the input as vec4 and scalar
 * views (x4, x1: the vec4 one for aligned quads, the scalar one for halos and ragged rows), the output gradient
 * likewise (g4, g1), the weight gradient gw, the uniform block, one subgroup per workgroup.
 */
function wgradKernelHeader(uniformsWgsl: string, lanes: number): string[] {
  const storage = [...INPUT_VIEWS, ['g4', VEC4_ARRAY], ['g1', 'array<f32>'], ['gw', 'array<f32>']] as const;
  return [
    ...subgroupBindings(storage, uniformsWgsl),
    `@compute @workgroup_size(${lanes})`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) sl: u32) {',
    '  _ = &x4; _ = &x1; _ = &g4; _ = &g1;',
  ];
}

/** Zeroed tap accumulators a{c}_{t} of `count` channels. */
function tapAccumulators(count: number): string[] {
  const lines: string[] = [];
  for (let c = 0; c < count; c++) for (let t = 0; t < 9; t++) lines.push(`  var a${c}_${t} = 0.0;`);
  return lines;
}

/**
 * Where this lane's quad of strip `ls` is: pRaw, pOK, p, py, px. One row: the strip is 4·L pixels of the H×Wq
 * grid, lane l's quad the l-th. Two rows: the strip is 2·L pixels of the ⌈H/2⌉×Wq grid of row pairs, lane l's
 * quad is row l & 1 of the pair at column quad l >> 1 (zero past the plane and below row H − 1).
 */
function stripQuadPosition(lanes: number, rows: number): string[] {
  if (rows === 1) {
    return [
      `    let pRaw = ls * ${4 * lanes}u + sl * 4u; let pOK = pRaw < u.HWq;`,
      '    let p = min(pRaw, u.HWq - 4u); let py = p / Wq; let px = p % Wq;',
    ];
  }
  return [
    '    let gridQ = ((H + 1u) / 2u) * Wq;',
    `    let pRaw = ls * ${2 * lanes}u + (sl >> 1u) * 4u;`,
    '    let p = min(pRaw, gridQ - 4u); let py = (p / Wq) * 2u + (sl & 1u); let px = p % Wq;',
    '    let pOK = pRaw < gridQ && py < H;',
  ];
}

/**
 * `name` = this lane's quad (py, px) of the plane at `plane`, read through the vec4 view `v4` when rows are whole
 * quads (`vec`), else lane by lane through `v1`; zero past the plane (pOK) and past the row end.
 */
function quadLoad(name: string, v4: string, v1: string, plane: string, vec: boolean): string {
  if (vec) return `    let ${name} = select(vec4<f32>(0.0), ${v4}[(${plane} + py * W + px) >> 2u], pOK);`;
  const quad = [0, 1, 2, 3].map(
    (i) => `select(0.0, ${v1}[${plane} + py * W + min(px + ${i}u, W - 1u)], px + ${i}u < W)`,
  );
  return `    let ${name} = select(vec4<f32>(0.0), vec4<f32>(${quad.join(', ')}), pOK);`;
}

/**
 * WGSL lines shared by the weight-gradient kernels: accumulator a{c}_{t} += dot(quad j of `src`, read from lane
 * j = `lane`, window(t)) for the 9 taps, where `window(t)` names this lane's vec4 at tap t.
 */
function broadcastQuadFmas(c: number, lane: string, src: string, window: (t: number) => string): string[] {
  // The lane is the quad loop's (not a constant, as subgroupBroadcast wants): a shuffle.
  const b = [0, 1, 2, 3].map((i) => `subgroupShuffle(${src}[${i}], ${lane})`);
  const lines = [`      let b${c} = vec4<f32>(${b.join(', ')});`];
  for (let t = 0; t < 9; t++) {
    const a = `a${c}_${t}`;
    const w = window(t);
    lines.push(
      `      ${a} = fma(b${c}.x, ${w}.x, fma(b${c}.y, ${w}.y, fma(b${c}.z, ${w}.z, fma(b${c}.w, ${w}.w, ${a}))));`,
    );
  }
  return lines;
}

/**
 * The 9 tap accumulators a{c}_{t} of `count` channels stored at `index(c)` + t, added to what is there when
 * u.accumulate is set. A branch, not a select: the old value must not even be loaded when it is overwritten
 * (a poisoned NaN must not leak in, and each lane's scattered load is a gather on llvmpipe).
 */
function storeTapAccumulators(count: number, guard: (c: number) => string, index: (c: number) => string) {
  const lines = ['  let keep = u.accumulate != 0u;'];
  for (let c = 0; c < count; c++) {
    lines.push(`  if (${guard(c)}) {`, `    let o = ${index(c)};`);
    const taps = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    lines.push(`    if (keep) { ${taps.map((t) => `a${c}_${t} += gw[o + ${t}u];`).join(' ')} }`);
    for (const t of taps) lines.push(`    gw[o + ${t}u] = a${c}_${t};`);
    lines.push('  }');
  }
  return lines;
}

/**
 * The close of a subgroup weight-gradient kernel opened by `wgradKernelHeader`: ends the strip loop, stores the
 * `count` channels' tap accumulators (`storeTapAccumulators`), then ends the channel-group guard and loop and
 * `main`.
 */
function wgradKernelFooter(count: number, guard: (c: number) => string, index: (c: number) => string): string[] {
  return ['  }', ...storeTapAccumulators(count, guard, index), '  }', '  }', '}'];
}

/** What a subgroup weight-gradient kernel puts into `wgradKernelSource`'s loop nest. */
export interface WgradKernelParts {
  uniforms: SubgroupWgradUniforms;
  lanes: number;
  /** Channels of a block: a lane keeps their 9 tap accumulators each. */
  R: number;
  /** Rows are whole quads and the windows 16-byte aligned: vec4 loads of the block channels' quads. */
  vec: boolean;
  /** Output rows of a strip (`stripQuadPosition`; default 1). */
  rows?: number;
  /** The line of plane shapes that opens `main`. */
  shapes: string;
  /**
   * The operand whose channels go R to a block, each lane loading its quad of them for all lanes to broadcast:
   * the output gradient `g` (conv3x3: lanes over input channels, gw [co][ci]) or the input `x` (the transposed
   * conv: lanes over output channels, gw [ci][co]). The other operand's channels go one to a lane.
   */
  blocked: 'g' | 'x';
  /** The kernel's names for: the block index, its first channel, the plane size, this lane's quad of channel c. */
  names: { block: string; base: string; plane: string; quad: string };
  /** The line naming this lane's own channel plane in the strip's image. */
  lanePlane: string;
  /** Lines after the block channels' quads are loaded, before the strip's quads are walked. */
  beforeQuads: readonly string[];
  /**
   * The kernel's loop over the strip's quads, given the FMA lines of one quad whose block values come from lane
   * `lane` (a WGSL expression: read by shuffle; its windows named as `windows` says). A loop, not unrolled quads:
   * 8 unrolled quads of 16 channels are > 96 KB of machine code per strip, far past the instruction cache.
   */
  quadLoop(fmas: (lane: string) => string[]): string[];
  /** The name `tapRowWindows` gives this lane's windows. */
  windows: string;
}

/**
 * This lane's windows for tap row d at kx = 0, 1, 2 (`name`d_kx): the vec4 of its quad's 4 pixels that meets
 * tap (d, kx) in `wgradKernelSource`'s FMAs.
 */
export function tapRowWindows(name: string, d: number, windows: readonly [string, string, string]): string[] {
  return windows.map((w, kx) => `      let ${name}${d}_${kx} = ${w};`);
}

/**
 * The loop nest of a subgroup weight-gradient kernel (conv3x3's, the transposed conv's): for each of the
 * workgroup's blocks of R channels, R × 9 accumulators per lane; for each strip of 4·L pixels in its slice (strips
 * run over the dispatch's images in turn: strip st is strip st % nStrips of image st / nStrips, so one dispatch
 * and one write of gw cover a batch of small planes), each lane loads its quad of the R block channels (zero past
 * the plane and the row end), then for each quad j of the strip (the kernel's `quadLoop`) the block channels'
 * values there are read from lane j and meet this lane's own windows at the 9 taps (`broadcastQuadFmas`); then
 * the accumulators are stored at gw[((base + c)·rowStride + lane channel)·9 + t].
 */
export function wgradKernelSource(k: WgradKernelParts): string {
  const { lanes, R, blocked: o, names } = k;
  const [lane, blockChannels] = o === 'g' ? ['ci', 'co'] : ['co', 'ci'];
  const laneRaw = `${lane}Raw`;
  const perGroup = `u.${k.uniforms.names.perGroup}`;
  const channels = (line: (c: number) => string) => Array.from({ length: R }, (_, c) => line(c));
  const lines = [
    ...wgradKernelHeader(k.uniforms.wgsl, lanes),
    k.shapes,
    `  let ${laneRaw} = wid.x * ${lanes}u + sl; let ${lane} = min(${laneRaw}, u.${lane}Count - 1u); let slice = wid.z;`,
    '  let st0 = slice * u.stripsPer; let st1 = min(st0 + u.stripsPer, u.stripsTotal);',
    `  for (var cg = 0u; cg < ${perGroup}; cg++) {`,
    `  let ${names.block} = wid.y * ${perGroup} + cg;`,
    `  if (${names.block} < u.${k.uniforms.names.blocks}) {`,
    `  let ${names.base} = ${names.block} * ${R}u;`,
    ...channels((c) => `  let ${o}c${c} = min(${names.base} + ${c}u, u.${blockChannels}Count - 1u) * ${names.plane};`),
    ...tapAccumulators(R),
    '  for (var st = st0; st < st1; st++) {',
    '    let img = st / u.nStrips; let ls = st - img * u.nStrips;',
    k.lanePlane,
    `    let ${o}Img = u.${o}Base + img * u.${o}Image;`,
    ...channels((c) => `    let ${o}p${c} = ${o}Img + ${o}c${c};`),
    ...stripQuadPosition(lanes, k.rows ?? 1),
    ...channels((c) => quadLoad(`${names.quad}${c}`, `${o}4`, `${o}1`, `${o}p${c}`, k.vec)),
    ...k.beforeQuads,
  ];
  const window = (t: number) => `${k.windows}${Math.floor(t / 3)}_${t % 3}`;
  const fmas = (lane: string) =>
    Array.from({ length: R }, (_, c) => broadcastQuadFmas(c, lane, `${names.quad}${c}`, window)).flat();
  lines.push(...k.quadLoop(fmas));
  const guard = (c: number) => `${laneRaw} < u.${lane}Count && ${names.base} + ${c}u < u.${blockChannels}Count`;
  const row = (c: number) => `(${names.base} + ${c}u) * u.${k.uniforms.names.rowStride}`;
  const index = (c: number) => `u.outBase + slice * u.sliceStride + (${row(c)} + ${lane}) * 9u`;
  lines.push(...wgradKernelFooter(R, guard, index));
  return lines.join('\n');
}

/** A subgroup weight gradient for `runSubgroupWgradPasses`: its operands and what its kernel is specialised on. */
export interface SubgroupWgradRun {
  input: BufferRange;
  inChannels: number;
  gradOut: BufferRange;
  outChannels: number;
  /** Pixels of one gradOut channel: H·W (conv3x3) or 4·H·W (the transposed conv's 2H × 2W output). */
  gradPlane: number;
  /**
   * The weight gradient's rows: the gradOut channels (conv3x3, gw [Cout][Cin]) or the input channels (the
   * transposed conv, gw [Cin][Cout]). A lane accumulates R rows of one column; the columns (the other operand's
   * channels) go one to a lane.
   */
  rows: 'gradOut' | 'input';
  gradWeight: BufferRange;
  /** Columns of the whole weight gradient, and where this call's column 0 sits among them (input segments). */
  columns: number;
  columnOffset: number;
  N: number;
  H: number;
  W: number;
  /** Add into gradWeight instead of overwriting it. */
  accumulate: boolean;
  label: string;
  /** R, the rows per lane, for a chunk of `rows` rows (the kernel's unrolling). */
  rowsPerLane(rows: number): number;
  /**
   * The kernel's source for R rows per lane and `columns` quad columns per strip: L / stripRows, or fewer on a
   * plane smaller than one strip (a constant loop bound: a bound read at run time cost the loop 1–6 %).
   */
  source(R: number, vec: boolean, lanes: number, columns: number): string;
  /** Output rows of a strip the kernel is written for (default 1: strips of 4·L pixels; 2: 2 rows of 2·L). */
  stripRows?: number;
  uniforms: SubgroupWgradUniforms;
}

/**
 * gw (+)= the weight gradient of `p`, over every binding chunk of both operands and over the images, as many to a
 * dispatch as both windows hold (small planes are weight-bound per dispatch; strips run over the dispatch's
 * images in turn). Grid: columns / L lanes × row blocks (`perGroup` to a workgroup when H·W ≤ 64, amortising
 * llvmpipe's per-workgroup cost) × S slices of the strips, S such that there are ≥ 64 workgroups (`splitWgrad`).
 */
export function runSubgroupWgradPasses(ctx: KernelContext, p: SubgroupWgradRun): void {
  const { N, H, W } = p;
  const HW = H * W;
  const Wq = Math.ceil(W / 4) * 4;
  const HWq = H * Wq;
  const lanes = subgroupLanes(ctx, p.label);
  const stripRows = p.stripRows ?? 1;
  const nStrips = Math.ceil((Math.ceil(H / stripRows) * Wq) / ((4 * lanes) / stripRows));
  // Quad columns a strip walks: all of its L / stripRows, or the plane's if it is smaller than one strip.
  const columns = Math.min(lanes / stripRows, (Math.ceil(H / stripRows) * Wq) / 4);
  const ciChunks = channelChunks(ctx, p.inChannels, HW, `${p.label} input`);
  const coChunks = channelChunks(ctx, p.outChannels, p.gradPlane, `${p.label} gradOut`);
  const rowsAreGrad = p.rows === 'gradOut';
  const gw = elementWindow(ctx, p.gradWeight, 0, (rowsAreGrad ? p.outChannels : p.inChannels) * p.columns * 9);
  for (const row of rowsAreGrad ? coChunks : ciChunks) {
    for (const col of rowsAreGrad ? ciChunks : coChunks) {
      const [ci, co] = rowsAreGrad ? [col, row] : [row, col];
      const R = p.rowsPerLane(row.count);
      const blocks = Math.ceil(row.count / R);
      const perGroup = HW <= 64 ? Math.min(4, blocks) : 1;
      const groups = (Math.ceil(col.count / lanes) * blocks) / perGroup;
      const outBase = gw.base + (row.start * p.columns + p.columnOffset + col.start) * 9;
      for (let n0 = 0; n0 < N; ) {
        const k = Math.min(
          imagesPerWindow(ctx, p.inChannels, HW, ci, N - n0),
          imagesPerWindow(ctx, p.outChannels, p.gradPlane, co, N - n0),
        );
        const x = elementWindow(
          ctx,
          p.input,
          (n0 * p.inChannels + ci.start) * HW,
          ((k - 1) * p.inChannels + ci.count) * HW,
        );
        const g = elementWindow(
          ctx,
          p.gradOut,
          (n0 * p.outChannels + co.start) * p.gradPlane,
          ((k - 1) * p.outChannels + co.count) * p.gradPlane,
        );
        const stripsTotal = k * nStrips;
        const S = Math.max(1, Math.min(16, Math.ceil(64 / groups), stripsTotal));
        const accumulate = p.accumulate || n0 > 0;
        const source = p.source(R, W % 4 === 0 && x.base % 4 === 0 && g.base % 4 === 0, lanes, columns);
        const shape = {
          xBase: x.base,
          gBase: g.base,
          xImage: p.inChannels * HW,
          gImage: p.outChannels * p.gradPlane,
          stripsTotal,
          H,
          W,
          Wq,
          HW,
          HWq,
          nStrips,
          stripsPer: Math.ceil(stripsTotal / S),
          blocks,
          perGroup,
          ciCount: ci.count,
          coCount: co.count,
        };
        const slices = { S, rows: row.count, cols: col.count, gradWeight: gw, outBase, rowStride: p.columns };
        splitWgrad(ctx, { ...slices, accumulate, label: p.label }, (label, part) =>
          ctx.dispatch({
            label,
            pipeline: ctx.pipeline(source, p.label),
            bindings: [x.range, x.range, g.range, g.range, part ? part.range : gw.range],
            uniforms: p.uniforms.pack(
              part
                ? {
                    ...shape,
                    outBase: part.base,
                    sliceStride: row.count * col.count * 9,
                    rowStride: col.count,
                    accumulate: 0,
                  }
                : { ...shape, outBase, sliceStride: 0, rowStride: p.columns, accumulate: accumulate ? 1 : 0 },
            ),
            workgroups: [Math.ceil(col.count / lanes), Math.ceil(blocks / perGroup), S],
          }),
        );
        n0 += k;
      }
    }
  }
}
