/**
 * The kernel variant table: for every kernel family and pass (forward, dgrad, wgrad), the variants that exist,
 * what each needs from the adapter, which adapters it is the default for, and its runner. One selection
 * function reads it (`selectVariant`); the tests walk it (`describeVariants`, `runnableVariants`); README's
 * "Adapters" section describes it.
 *
 * Rows are in order of preference: the default on an adapter is the first row that can run there and names
 * the adapter's class in `defaultFor`. The last row of every pass is the baseline ('direct'): it needs nothing
 * and is correct everywhere, so selection always finds a row. Why these defaults: on CPU adapters (lavapipe,
 * SwiftShader) workgroup barriers serialise the SIMD lanes and barrier-free register blocking with subgroup
 * sharing wins ~3× (bench/NOTES.md); on GPUs workgroup-memory tiling is what wins.
 *
 * Rows that are the default nowhere (`defaultFor: []`) are alternatives for the autotuner: e.g. 'subgroup-r8'
 * halves the subgroup kernel's register block, which wins on CPUs with 16 vector registers (AVX2) and loses on
 * CPUs with 32 (AVX-512): bench/NOTES.md, "Host sensitivity"; 'winograd' (F(2×2, 3×3)) wins on large planes
 * with kept weights and loses on small ones and inside a training step on the hosts measured (NOTES, "Winograd");
 * 'winograd-f4' (F(4×4, 3×3)) wins on planes ≥ 32² even inside a training step. The CPU default of the forward
 * and dgrad, 'winograd-by-shape', picks by shape: F(4×4) on planes ≥ 32², F(2×2) on 16² planes (both with ≥ 64
 * channels each way), the subgroup kernel elsewhere.
 *
 * Forcing: `ctx.variantOverrides` (Device.variantOverrides, env TERNAUSNET_VARIANTS) maps `family` or
 * `family.pass` to a variant name, e.g. `{ conv3x3: 'tiled' }` or `{ 'conv3x3.wgrad': 'direct' }`. A family-wide
 * name applies to every pass that has a row of that name (the others keep their default); a name no pass has,
 * or a row that cannot run on this adapter, is an error that says why.
 *
 * Tuning: below the overrides, `ctx.kernelChoices` holds variants chosen by measurement per problem (a pass at
 * one shape). `runSelectedVariant` tells `ctx.onKernelProblem` of each problem it runs (a `KernelProblem` with
 * its candidates and a replay function): that is how `@ternausnet/tensor`'s tuner finds a workload's problems
 * and times each candidate on them, and the kernels stay ignorant of timing, caches and files.
 */

import {
  type ConvTranspose3x3s2Args,
  type ConvTranspose3x3s2DgradArgs,
  type ConvTranspose3x3s2WgradArgs,
  convTranspose3x3s2DgradDirect,
  convTranspose3x3s2DgradSubgroup,
  convTranspose3x3s2ForwardDirect,
  convTranspose3x3s2ForwardSubgroup,
  convTranspose3x3s2WgradDirect,
  convTranspose3x3s2WgradSubgroup,
  convTranspose3x3s2WgradTiled,
} from './conv-transpose.ts';
import { convTranspose3x3s2DgradTiled, convTranspose3x3s2ForwardTiled } from './conv-transpose-tiled.ts';
import {
  type Conv3x3DgradArgs,
  type Conv3x3ForwardArgs,
  type Conv3x3WgradArgs,
  conv3x3DgradSubgroup,
  conv3x3DgradTiling,
  conv3x3ForwardSubgroup,
  conv3x3ForwardTiling,
  conv3x3WgradDirect,
  conv3x3WgradSubgroup,
  conv3x3WgradTiled,
} from './conv3x3.ts';
import {
  conv3x3DgradWinograd,
  conv3x3DgradWinogradByShape,
  conv3x3ForwardWinograd,
  conv3x3ForwardWinogradByShape,
  WINOGRAD_F2,
  WINOGRAD_F4,
} from './conv3x3-winograd.ts';
import type { AdapterClass, KernelContext, KernelLimits } from './runtime.ts';
import { SUBGROUP_LANES, subgroupLanesProblem } from './subgroup-codegen.ts';

export type KernelPass = 'forward' | 'dgrad' | 'wgrad';
export const KERNEL_PASSES: readonly KernelPass[] = ['forward', 'dgrad', 'wgrad'];

/** The argument type of each family's passes. */
export interface KernelPassArgs {
  conv3x3: { forward: Conv3x3ForwardArgs; dgrad: Conv3x3DgradArgs; wgrad: Conv3x3WgradArgs };
  convTranspose3x3s2: {
    forward: ConvTranspose3x3s2Args;
    dgrad: ConvTranspose3x3s2DgradArgs;
    wgrad: ConvTranspose3x3s2WgradArgs;
  };
}
export type KernelFamily = keyof KernelPassArgs;

/** What a variant needs from the adapter. Absent fields need nothing. */
export interface VariantRequirements {
  /** Device features. */
  readonly features?: readonly string[];
  /**
   * The variant is generated for a fixed subgroup lane count from this list: it runs only where the adapter's
   * subgroupMinSize == subgroupMaxSize and that size is listed (WGSL cannot request a size).
   */
  readonly subgroupSizes?: readonly number[];
  /** Minimum values of the device's limits. */
  readonly limits?: Readonly<Partial<Record<keyof KernelLimits, number>>>;
}

export interface KernelVariant<F extends KernelFamily = KernelFamily, P extends KernelPass = KernelPass> {
  readonly family: F;
  readonly pass: P;
  readonly name: string;
  /** One line: the tiling, for the README and the test log. */
  readonly summary: string;
  readonly requires: VariantRequirements;
  /** Adapter classes this row is the default for (when it can run there and no earlier row is). */
  readonly defaultFor: readonly AdapterClass[];
  /**
   * How many times the float32 rounding error of a plain sum of products this variant's error may reach (absent:
   * 1). Tests scale their tolerances by it; it is not a licence for a wrong result, which is off by O(1).
   */
  readonly errorGrowth?: number;
  /** Encode the pass. `label` names the op, the variant and the shapes (it labels every dispatch). */
  readonly run: (ctx: KernelContext, args: KernelPassArgs[F][P], label: string) => void;
}

type Rows<F extends KernelFamily> = { readonly [P in KernelPass]: readonly KernelVariant<F, P>[] };

const SUBGROUP: VariantRequirements = { features: ['subgroups'], subgroupSizes: SUBGROUP_LANES };
/** The tiled kernels: 16×16 invocations, two tiles of 1024 floats (wgrad: 1040, padded rows) in workgroup memory. */
const TILED: VariantRequirements = {
  limits: { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 8320 },
};
const ANY_ADAPTER: readonly AdapterClass[] = ['cpu', 'gpu'];
/**
 * Winograd F(4×4, 3×3) rounds through transforms with entries up to 5 (Bᵀ) and 8 (Aᵀ): 7–10× the direct sum's
 * float32 error (rms), up to ~20× at the worst element (bench/NOTES.md, "F(4×4, 3×3)").
 */
const F4_ERROR_GROWTH = 16;

// Runners are called through arrows: the family modules import selectVariant from here (an import cycle
// whose bindings are only read at call time).
const CONV3X3: Rows<'conv3x3'> = {
  forward: [
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'winograd-by-shape',
      summary:
        'Winograd F(4×4, 3×3) on planes ≥ 32², F(2×2, 3×3) on 16² (≥ 64 channels each way); else the subgroup kernel',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      errorGrowth: F4_ERROR_GROWTH,
      run: (ctx, a, label) => conv3x3ForwardWinogradByShape(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'subgroup',
      summary:
        'a subgroup owns 4·L pixels × 2 rows × 8–16 channels; vec4 row loads, halo by shuffles, weights by broadcast',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => conv3x3ForwardSubgroup(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'subgroup-r8',
      summary: 'the subgroup kernel with 8 channels per subgroup: 32 accumulators per lane fit 16 vector registers',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3ForwardSubgroup(ctx, a, label, { maxR: 8, rows: 1 }),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'subgroup-1row',
      summary: 'the subgroup kernel with one output row of 16 channels per lane (the default before two rows)',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3ForwardSubgroup(ctx, a, label, { maxR: 16, rows: 1 }),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'winograd',
      summary: 'Winograd F(2×2, 3×3): input/output transforms around 16 subgroup GEMMs, 2.25× fewer multiplies',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3ForwardWinograd(ctx, a, label, WINOGRAD_F2),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'winograd-f4',
      summary: 'Winograd F(4×4, 3×3): 36 subgroup GEMMs, 4× fewer multiplies than direct',
      requires: SUBGROUP,
      defaultFor: [],
      errorGrowth: F4_ERROR_GROWTH,
      run: (ctx, a, label) => conv3x3ForwardWinograd(ctx, a, label, WINOGRAD_F4),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'tiled',
      summary: 'implicit GEMM, 64×64 output tile, 16-deep k-steps staged in workgroup memory',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => conv3x3ForwardTiling(ctx, a, label, 'tiled'),
    },
    {
      family: 'conv3x3',
      pass: 'forward',
      name: 'direct',
      summary: 'one invocation per pixel × 4 channels, no workgroup memory (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => conv3x3ForwardTiling(ctx, a, label, 'direct'),
    },
  ],
  dgrad: [
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'winograd-by-shape',
      summary: 'as the forward row: Winograd F(4×4) on planes ≥ 32², F(2×2) on 16²; else the subgroup kernel',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      errorGrowth: F4_ERROR_GROWTH,
      run: (ctx, a, label) => conv3x3DgradWinogradByShape(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'subgroup',
      summary: 'the forward subgroup kernel on gradOut with flipped, transposed packed weights',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => conv3x3DgradSubgroup(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'subgroup-1row',
      summary: 'the subgroup dgrad with one output row of 16 channels per lane, as the forward row',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3DgradSubgroup(ctx, a, label, { maxR: 16, rows: 1 }),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'subgroup-r8',
      summary: 'the subgroup dgrad with 8 channels per subgroup (fewer registers, as the forward row)',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3DgradSubgroup(ctx, a, label, { maxR: 8, rows: 1 }),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'winograd',
      summary: 'the Winograd forward on gradOut with flipped, transposed transformed weights',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3DgradWinograd(ctx, a, label, WINOGRAD_F2),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'winograd-f4',
      summary: 'the Winograd F(4×4, 3×3) forward on gradOut with flipped, transposed transformed weights',
      requires: SUBGROUP,
      defaultFor: [],
      errorGrowth: F4_ERROR_GROWTH,
      run: (ctx, a, label) => conv3x3DgradWinograd(ctx, a, label, WINOGRAD_F4),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'tiled',
      summary: 'the tiled forward on gradOut with flipped, transposed weight indexing',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => conv3x3DgradTiling(ctx, a, label, 'tiled'),
    },
    {
      family: 'conv3x3',
      pass: 'dgrad',
      name: 'direct',
      summary: 'the direct forward on gradOut (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => conv3x3DgradTiling(ctx, a, label, 'direct'),
    },
  ],
  wgrad: [
    {
      family: 'conv3x3',
      pass: 'wgrad',
      name: 'subgroup',
      summary: 'lanes over input channels × 16 output channels × 9 taps; gradient quads by broadcast; split-K',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => conv3x3WgradSubgroup(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'wgrad',
      name: 'subgroup-2row',
      summary: 'the subgroup wgrad over strips of two rows (4 input rows per column of 2 quads instead of 3 per quad)',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3WgradSubgroup(ctx, a, label, { stripRows: 2 }),
    },
    {
      family: 'conv3x3',
      pass: 'wgrad',
      name: 'subgroup-r8',
      summary: 'the subgroup wgrad with 8 output channels per lane (72 accumulators instead of 144)',
      requires: SUBGROUP,
      defaultFor: [],
      run: (ctx, a, label) => conv3x3WgradSubgroup(ctx, a, label, { rco: 8 }),
    },
    {
      family: 'conv3x3',
      pass: 'wgrad',
      name: 'tiled',
      summary: 'GEMM over pixels: 64 co × 64 (ci, tap) block, 16-pixel steps staged in workgroup memory; split-K',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => conv3x3WgradTiled(ctx, a, label),
    },
    {
      family: 'conv3x3',
      pass: 'wgrad',
      name: 'direct',
      summary: 'one invocation per (co, ci) pair over every pixel (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => conv3x3WgradDirect(ctx, a, label),
    },
  ],
};

const CONV_TRANSPOSE: Rows<'convTranspose3x3s2'> = {
  forward: [
    {
      family: 'convTranspose3x3s2',
      pass: 'forward',
      name: 'subgroup',
      summary: 'a subgroup owns 4·L input pixels (their 2×2 output blocks) × 4 channels; the 9 real taps only',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => convTranspose3x3s2ForwardSubgroup(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'forward',
      name: 'tiled',
      summary: 'per output parity a GEMM over (ci, real tap): 64×64 output tile, 16-deep k-steps in workgroup memory',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => convTranspose3x3s2ForwardTiled(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'forward',
      name: 'direct',
      summary: 'one dispatch per output parity, an invocation per pixel × 4 channels (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => convTranspose3x3s2ForwardDirect(ctx, a, label),
    },
  ],
  dgrad: [
    {
      family: 'convTranspose3x3s2',
      pass: 'dgrad',
      name: 'subgroup',
      summary: 'a stride-2 convolution of gradOut: 4 pixels × 16 channels per lane, columns de-interleaved',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => convTranspose3x3s2DgradSubgroup(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'dgrad',
      name: 'tiled',
      summary: 'GEMM over (co, tap): 64 ci × 64 pixel tile, stride-2 gather of gradOut staged in workgroup memory',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => convTranspose3x3s2DgradTiled(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'dgrad',
      name: 'direct',
      summary: 'a stride-2 gather, an invocation per pixel × 4 channels (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => convTranspose3x3s2DgradDirect(ctx, a, label),
    },
  ],
  wgrad: [
    {
      family: 'convTranspose3x3s2',
      pass: 'wgrad',
      name: 'subgroup',
      summary: 'lanes over output channels × 16 input channels × 9 taps; input quads by broadcast; split-K',
      requires: SUBGROUP,
      defaultFor: ['cpu'],
      run: (ctx, a, label) => convTranspose3x3s2WgradSubgroup(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'wgrad',
      name: 'tiled',
      summary: 'GEMM over input pixels: 64 ci × 64 (co, tap) block, stride-2 gather of gy in workgroup memory; split-K',
      requires: TILED,
      defaultFor: ['gpu'],
      run: (ctx, a, label) => convTranspose3x3s2WgradTiled(ctx, a, label),
    },
    {
      family: 'convTranspose3x3s2',
      pass: 'wgrad',
      name: 'direct',
      summary: 'one invocation per (ci, co) pair over every pixel (the baseline)',
      requires: {},
      defaultFor: ANY_ADAPTER,
      run: (ctx, a, label) => convTranspose3x3s2WgradDirect(ctx, a, label),
    },
  ],
};

/** The whole table. */
export const KERNEL_VARIANTS: { readonly [F in KernelFamily]: Rows<F> } = {
  conv3x3: CONV3X3,
  convTranspose3x3s2: CONV_TRANSPOSE,
};

export const KERNEL_FAMILIES = Object.keys(KERNEL_VARIANTS) as KernelFamily[];

/** A row without its runner: what the tests and the docs read. */
export type VariantRow = Omit<KernelVariant, 'run'>;

/** The table's rows, flattened (of one family, or all), in table order. */
export function variantRows(family?: KernelFamily): VariantRow[] {
  return (family ? [family] : KERNEL_FAMILIES).flatMap((f) =>
    KERNEL_PASSES.flatMap((pass): readonly VariantRow[] => KERNEL_VARIANTS[f][pass]),
  );
}

/** Why `row` cannot run on this context (the first unmet requirement), or null when it can. */
export function variantProblem(ctx: KernelContext, row: { readonly requires: VariantRequirements }): string | null {
  const r = row.requires;
  for (const f of r.features ?? []) {
    if (!ctx.features.has(f)) return `needs the device feature '${f}'`;
  }
  if (r.subgroupSizes) {
    const problem = subgroupLanesProblem(ctx, r.subgroupSizes);
    if (problem) return `written for subgroups of exactly ${r.subgroupSizes.join(' or ')} lanes, but ${problem}`;
  }
  for (const [key, min] of Object.entries(r.limits ?? {}) as [keyof KernelLimits, number][]) {
    if (ctx.limits[key] < min) return `needs ${key} ≥ ${min}, the device has ${ctx.limits[key]}`;
  }
  return null;
}

function forcedName(ctx: KernelContext, family: KernelFamily, pass: KernelPass): string | undefined {
  const o = ctx.variantOverrides;
  if (!o) return undefined;
  const perPass = o[`${family}.${pass}`];
  if (perPass !== undefined) return perPass;
  const name = o[family];
  if (name === undefined) return undefined;
  const rows = KERNEL_VARIANTS[family];
  if (!KERNEL_PASSES.some((p) => rows[p].some((row) => row.name === name))) {
    const names = [...new Set(KERNEL_PASSES.flatMap((p) => rows[p].map((row) => row.name)))];
    throw new RangeError(`${family} variant '${name}' unknown (${names.join(', ')})`);
  }
  // A family-wide name forces the passes that have it; the others keep their default.
  return rows[pass].some((row) => row.name === name) ? name : undefined;
}

/**
 * One pass of a workload as the variant table sees it, for autotuning: its key, the variants that can run it
 * here, and a way to encode it again under a named variant on other buffers of the same sizes.
 */
export interface KernelProblem {
  /** `${family}.${pass} ${shape}`, e.g. `conv3x3.wgrad [1,64,64,64] -> 128`: what `kernelChoices` is keyed by. */
  readonly key: string;
  readonly family: KernelFamily;
  readonly pass: KernelPass;
  /** The pass's arguments as called (BufferRanges included). */
  readonly args: unknown;
  /** The variant picked without tuning (overrides and the adapter's default). */
  readonly defaultVariant: string;
  /** The variants that can run here, in table order. */
  readonly candidates: readonly string[];
  /** Encode the pass under `variant`, with `args` of the same structure as `this.args` (other buffers). */
  run(ctx: KernelContext, args: unknown, variant: string): void;
}

/**
 * Runs `family`'s `pass` under the variant `selectVariant` picks for this problem; its dispatches are labelled
 * `${op}:${variant} ${shape}`, so profiles and errors name the variant.
 */
export function runSelectedVariant<F extends KernelFamily, P extends KernelPass>(
  ctx: KernelContext,
  family: F,
  pass: P,
  args: KernelPassArgs[F][P],
  op: string,
  shape: string,
): void {
  const key = `${family}.${pass} ${shape}`;
  const v = selectVariant(ctx, family, pass, key);
  if (ctx.onKernelProblem) {
    const rows = KERNEL_VARIANTS[family][pass] as unknown as readonly KernelVariant<F, P>[];
    ctx.onKernelProblem({
      key,
      family,
      pass,
      args,
      defaultVariant: selectVariant(ctx, family, pass).name,
      candidates: rows.filter((r) => variantProblem(ctx, r) === null).map((r) => r.name),
      run(target, replayArgs, variant) {
        const row = rows.find((r) => r.name === variant);
        if (!row) throw new RangeError(`${key}: variant '${variant}' unknown (${rows.map((r) => r.name).join(', ')})`);
        const problem = variantProblem(target, row);
        if (problem) throw new RangeError(`${key}: variant '${variant}' cannot run on this adapter: it ${problem}`);
        // The replay's buffers are not the ones the content key names: no cache may serve them (the timing would
        // leave out the weight packing) or keep what was made from them.
        const args = { ...(replayArgs as KernelPassArgs[F][P]), weightKey: undefined };
        row.run(target, args, `${op}:${variant} ${shape}`);
      },
    });
  }
  v.run(ctx, args, `${op}:${v.name} ${shape}`);
}

/**
 * The variant of `family`'s `pass` to run on this context: the forced one (`ctx.variantOverrides`), else the
 * measured choice for the problem `key` (`ctx.kernelChoices`, when it can run here), else the first row that
 * can run here and is a default for `ctx.adapterClass`, else the first that can run.
 */
export function selectVariant<F extends KernelFamily, P extends KernelPass>(
  ctx: KernelContext,
  family: F,
  pass: P,
  key?: string,
): KernelVariant<F, P> {
  const rows = KERNEL_VARIANTS[family][pass] as unknown as readonly KernelVariant<F, P>[];
  const forced = forcedName(ctx, family, pass);
  if (forced !== undefined) {
    const row = rows.find((r) => r.name === forced);
    if (!row) {
      throw new RangeError(`${family}.${pass} variant '${forced}' unknown (${rows.map((r) => r.name).join(', ')})`);
    }
    const problem = variantProblem(ctx, row);
    if (problem)
      throw new RangeError(`${family}.${pass} variant '${forced}' cannot run on this adapter: it ${problem}`);
    return row;
  }
  const runnable = rows.filter((r) => variantProblem(ctx, r) === null);
  const tuned = key === undefined ? undefined : ctx.kernelChoices?.get(key);
  const row =
    runnable.find((r) => r.name === tuned) ??
    runnable.find((r) => r.defaultFor.includes(ctx.adapterClass)) ??
    runnable[0];
  if (!row) throw new Error(`${family}.${pass}: no variant can run on this adapter (the table lacks a baseline)`);
  return row;
}

/** Every row of the table on this context: whether it can run (and why not), and whether it is the default. */
export interface VariantStatus {
  readonly family: KernelFamily;
  readonly pass: KernelPass;
  readonly variant: string;
  readonly summary: string;
  /** Why it cannot run here, or null. */
  readonly problem: string | null;
  /** The row `selectVariant` picks here when nothing is forced. */
  readonly isDefault: boolean;
}

export function describeVariants(ctx: KernelContext): VariantStatus[] {
  const unforced: KernelContext = { ...contextFields(ctx), variantOverrides: {} };
  return KERNEL_FAMILIES.flatMap((family) =>
    KERNEL_PASSES.flatMap((pass) => {
      const chosen = selectVariant(unforced, family, pass);
      return variantRows(family)
        .filter((row) => row.pass === pass)
        .map((row) => ({
          family,
          pass,
          variant: row.name,
          summary: row.summary,
          problem: variantProblem(ctx, row),
          isDefault: row.name === chosen.name,
        }));
    }),
  );
}

/** The fields selection reads, copied off a context (a Device's methods stay behind: nothing is dispatched). */
function contextFields(ctx: KernelContext): KernelContext {
  return {
    device: ctx.device,
    limits: ctx.limits,
    adapterClass: ctx.adapterClass,
    features: ctx.features,
    subgroupSizes: ctx.subgroupSizes ?? null,
    pipeline: () => {
      throw new Error('describeVariants dispatches nothing');
    },
    dispatch: () => {
      throw new Error('describeVariants dispatches nothing');
    },
    scratch: () => {
      throw new Error('describeVariants dispatches nothing');
    },
  };
}

/**
 * The (family, variant) pairs that can run on this context: a name is listed when every pass that has a row of
 * that name can run it, so `variantOverrides = { [family]: variant }` works for all of the family's kernels.
 * Tests (Node and browser) run every case of a family under each of these.
 */
export function runnableVariants(ctx: KernelContext): { family: KernelFamily; variant: string }[] {
  const status = describeVariants(ctx);
  return KERNEL_FAMILIES.flatMap((family) => {
    const rows = status.filter((s) => s.family === family);
    const names = [...new Set(rows.map((s) => s.variant))];
    return names
      .filter((name) => rows.filter((s) => s.variant === name).every((s) => s.problem === null))
      .map((variant) => ({ family, variant }));
  });
}
