/**
 * Sum reduction over any set of axes: out[kept] = scale · Σ_{reduced} in[kept, reduced].
 *
 * Two shapes of work, chosen by the reduced extent R:
 * - R ≤ 256: one invocation per output element loops over R (no barriers; what a CPU adapter likes);
 * - otherwise: one workgroup of 64 invocations per (output element, split). Each invocation sums a strided
 *   subset with Kahan compensation (the loss sums a million pixels in float32), the workgroup tree-reduces in
 *   workgroup memory, and when R is split over several workgroups (so a single output, e.g. a loss, still uses
 *   every core) a second pass reduces the partial sums.
 * Shapes are baked into the shader; the index of the input element is recovered by decomposing the kept and
 * reduced coordinates with constant divisors.
 */
import {
  assertBindable,
  elementWindow,
  F32_BYTES,
  f32Bindings,
  gridMain,
  maxBindingElements,
  packUniforms,
  perElementMain,
  workgroupGrid,
  workgroupTreeSum,
} from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface ReduceSumArgs {
  readonly input: BufferRange;
  readonly inShape: readonly number[];
  /** Axes to sum over (any order, no duplicates). */
  readonly axes: readonly number[];
  /** Output, with the kept dimensions in their original order. */
  readonly out: BufferRange;
  /** Multiplies the sum (1/R for a mean). */
  readonly scale?: number;
  /** Add into `out` instead of overwriting it (gradient accumulation). */
  readonly accumulate?: boolean;
}

const WG = 64;
const SPLIT_TARGET = 4096;

function geometry(inShape: readonly number[], axes: readonly number[]) {
  const strides = new Array<number>(inShape.length);
  let s = 1;
  for (let d = inShape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= inShape[d]!;
  }
  const kept = inShape.map((_, d) => d).filter((d) => !axes.includes(d));
  const reduced = [...axes].sort((a, b) => a - b);
  const O = kept.reduce((p, d) => p * inShape[d]!, 1);
  const R = reduced.reduce((p, d) => p * inShape[d]!, 1);
  return { strides, kept, reduced, O, R };
}

/** How many workgroups share one output's reduction (1 = no second pass). */
function splits(O: number, R: number): number {
  if (R <= 256) return 1;
  // Enough workgroups in flight for all cores, and each invocation still loops a few hundred elements.
  return Math.max(1, Math.min(Math.ceil(R / SPLIT_TARGET), Math.ceil(64 / O)));
}

/** WGSL that maps (o, r) to the input element index, for a given shape and axis split. */
function indexExpression(inShape: readonly number[], dims: readonly number[], strides: readonly number[], v: string) {
  let code = `var rest_${v} = ${v}; var idx_${v} = 0u;\n`;
  for (let k = dims.length - 1; k >= 0; k--) {
    const d = dims[k]!;
    code += `  idx_${v} += (rest_${v} % ${inShape[d]}u) * ${strides[d]}u; rest_${v} /= ${inShape[d]}u;\n`;
  }
  return code;
}

/** Both shapes of work read x and write out. */
const REDUCE_BINDINGS = f32Bindings(
  ['x'],
  'out',
  'struct Params { nOut: u32, baseX: u32, baseOut: u32, accumulate: u32, scale: f32 }',
);

function perThreadSource(inShape: readonly number[], axes: readonly number[]): string {
  const { strides, kept, reduced, R } = geometry(inShape, axes);
  return /* wgsl */ `
${REDUCE_BINDINGS}
${perElementMain(WG, 'o', 'u.nOut')}
  ${indexExpression(inShape, kept, strides, 'o')}
  var acc = 0.0;
  for (var r = 0u; r < ${R}u; r++) {
    ${indexExpression(inShape, reduced, strides, 'r')}
    acc += x[u.baseX + idx_o + idx_r];
  }
  var v = acc * u.scale;
  if (u.accumulate != 0u) { v += out[u.baseOut + o]; }
  out[u.baseOut + o] = v;
}`;
}

function perWorkgroupSource(inShape: readonly number[], axes: readonly number[], S: number): string {
  const { strides, kept, reduced, R } = geometry(inShape, axes);
  const chunk = Math.ceil(R / S);
  return /* wgsl */ `
${REDUCE_BINDINGS}
var<workgroup> partial: array<f32, ${WG}>;
${gridMain(WG)}
  let g = linearWorkgroup(wid, nwg);
  // Uniform control flow: every invocation of a workgroup takes the same path up to the barriers.
  let inRange = g < u.nOut * ${S}u;
  let o = g / ${S}u;
  let s = g % ${S}u;
  ${indexExpression(inShape, kept, strides, 'o')}
  var sum = 0.0;
  var comp = 0.0;
  if (inRange) {
    let rEnd = min((s + 1u) * ${chunk}u, ${R}u);
    for (var r = s * ${chunk}u + lid; r < rEnd; r += ${WG}u) {
      ${indexExpression(inShape, reduced, strides, 'r')}
      // Kahan summation: float32 partial sums over thousands of terms would otherwise lose digits.
      let y = x[u.baseX + idx_o + idx_r] - comp;
      let t = sum + y;
      comp = (t - sum) - y;
      sum = t;
    }
  }
${workgroupTreeSum(WG, 'partial', 'sum', 'w')}
  if (inRange && lid == 0u) {
    var v = partial[0] * u.scale;
    if (u.accumulate != 0u) { v += out[u.baseOut + g]; }
    out[u.baseOut + g] = v;
  }
}`;
}

/** out = scale · sum of `input` over `axes`. */
export function reduceSum(ctx: KernelContext, args: ReduceSumArgs): void {
  const { inShape, axes } = args;
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= inShape.length) throw new RangeError(`bad axis ${a} for [${inShape}]`);
  }
  if (new Set(axes).size !== axes.length) throw new RangeError(`duplicate axes [${axes}]`);
  const { O, R } = geometry(inShape, axes);
  if (O === 0) return;
  const n = O * R;
  if (n > maxBindingElements(ctx) && inShape.length > 1) {
    reduceSumByLeadingAxis(ctx, args, n, O);
    return;
  }
  assertBindable(ctx, `reduceSum [${inShape}]`, n);
  const scale = args.scale ?? 1;
  const acc = args.accumulate ? 1 : 0;
  const x = elementWindow(ctx, args.input, 0, Math.max(1, n));
  const out = elementWindow(ctx, args.out, 0, O);
  const label = `reduceSum [${inShape}] axes [${axes}]`;
  const S = splits(O, R);
  if (R <= 256 || R === 0) {
    const pipeline = ctx.pipeline(perThreadSource(inShape, axes), label);
    ctx.dispatch({
      label,
      pipeline,
      bindings: [x.range, out.range],
      uniforms: packUniforms([O, x.base, out.base, acc], [scale]),
      workgroups: workgroupGrid(ctx, Math.ceil(O / WG)),
    });
    return;
  }
  if (S === 1) {
    const pipeline = ctx.pipeline(perWorkgroupSource(inShape, axes, 1), label);
    ctx.dispatch({
      label,
      pipeline,
      bindings: [x.range, out.range],
      uniforms: packUniforms([O, x.base, out.base, acc], [scale]),
      workgroups: workgroupGrid(ctx, O),
    });
    return;
  }
  const tmp = ctx.scratch(O * S * 4, `${label} partial sums`);
  const scratch = elementWindow(ctx, tmp.range, 0, O * S);
  const pass1 = ctx.pipeline(perWorkgroupSource(inShape, axes, S), label);
  ctx.dispatch({
    label,
    pipeline: pass1,
    bindings: [x.range, scratch.range],
    uniforms: packUniforms([O, x.base, scratch.base, 0], [1]),
    workgroups: workgroupGrid(ctx, O * S),
  });
  const pass2Shape = [O, S];
  const pass2 = ctx.pipeline(
    S <= 256 ? perThreadSource(pass2Shape, [1]) : perWorkgroupSource(pass2Shape, [1], 1),
    `${label} (partials)`,
  );
  ctx.dispatch({
    label: `${label} (partials)`,
    pipeline: pass2,
    bindings: [scratch.range, out.range],
    uniforms: packUniforms([O, scratch.base, out.base, acc], [scale]),
    workgroups: S <= 256 ? workgroupGrid(ctx, Math.ceil(O / WG)) : workgroupGrid(ctx, O),
  });
  tmp.release();
}

/**
 * An input larger than one binding (a conv bias gradient over a large batch) is reduced in blocks of its
 * leading axis, each block as large as one binding holds: a reduced leading axis makes later blocks add into
 * the same output, a kept one gives each block its own output rows. A single leading slice too large for a
 * binding is split again along its own leading axis.
 */
function reduceSumByLeadingAxis(ctx: KernelContext, args: ReduceSumArgs, n: number, O: number): void {
  const [lead, ...rest] = args.inShape as [number, ...number[]];
  const sliceN = n / lead;
  const reducedLead = args.axes.includes(0);
  const outPerSlice = reducedLead ? O : O / lead;
  const sub = (r: BufferRange, start: number, count: number): BufferRange => ({
    buffer: r.buffer,
    offset: r.offset + start * F32_BYTES,
    size: count * F32_BYTES,
  });
  const per = Math.floor(maxBindingElements(ctx) / sliceN);
  const block = Math.max(1, per);
  for (let i = 0; i < lead; i += block) {
    const k = Math.min(block, lead - i);
    reduceSum(ctx, {
      ...args,
      input: sub(args.input, i * sliceN, k * sliceN),
      // One leading slice per call when even one does not fit: drop the leading axis and split the slice.
      inShape: per >= 1 ? [k, ...rest] : rest,
      axes: per >= 1 ? args.axes : args.axes.filter((a) => a !== 0).map((a) => a - 1),
      out: reducedLead ? args.out : sub(args.out, i * outPerSlice, k * outPerSlice),
      accumulate: reducedLead ? (args.accumulate ?? false) || i > 0 : args.accumulate,
    });
  }
}
