/**
 * Elementwise kernels: out[i] = f(a[i], b[i], ...) with NumPy broadcasting.
 *
 * Tiling: one invocation per output element, 256 per workgroup, on a 2-D grid of workgroups; or, where no
 * operand needs per-element broadcast indexing and every window is 16-byte aligned, one invocation per four
 * elements as vec4 (llvmpipe runs invocations as SIMD lanes and turns a scalar per-lane load into a gather,
 * which AMD CPUs execute slowly; a vec4 per lane is one contiguous load). The work is memory-bound, so the
 * other thing that matters is touching each byte once; broadcast operands are indexed by
 * decomposing the output index with the output shape baked into the shader as constants (shape-specialised
 * pipelines, cached by source). Operands larger than one storage binding are processed in chunks of elements;
 * only operands with the output's shape can be chunked, a broadcast operand must fit one binding.
 */
import { assertBindable, elementChunks, elementWindow, packUniforms, perElementMain, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

/**
 * Expressions of one operand `a` and optional uniform scalars `s0`, `s1` (f32). Operands are of type `T`, f32 or
 * vec4<f32> (see `elementwiseSource`): scalars mix with T in arithmetic, but select, comparisons and pow need
 * them splatted, `T(s0)`.
 */
export const UNARY_EXPRESSIONS = {
  copy: 'a',
  neg: '-a',
  // select(a, 0, a < 0) rather than max(a, 0): NaN must propagate as in PyTorch (max(NaN, 0) is 0 on x86).
  relu: 'select(a, T(0.0), a < T(0.0))',
  // exp(-a) overflows to +inf for a < -88 and the quotient becomes exactly 0: the right limit, no NaN.
  sigmoid: '1.0 / (1.0 + exp(-a))',
  log: 'log(a)',
  exp: 'exp(a)',
  abs: 'abs(a)',
  square: 'a * a',
  sqrt: 'sqrt(a)',
  addScalar: 'a + s0',
  mulScalar: 'a * s0',
  rsubScalar: 's0 - a',
  rdivScalar: 's0 / a',
  powScalar: 'pow(a, T(s0))',
  fill: 'T(s0)',
  threshold: 'select(T(0.0), T(1.0), a > T(s0))',
  sigmoidThreshold: 'select(T(0.0), T(1.0), 1.0 / (1.0 + exp(-a)) > T(s0))',
} as const;

/** Expressions of two operands `a`, `b`. The `*Backward` ones take (upstream gradient `a`, saved value `b`). */
export const BINARY_EXPRESSIONS = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'max(a, b)',
  /** d relu: b is the forward output (or input): the gradient passes where it is > 0. */
  reluBackward: 'select(T(0.0), a, b > T(0.0))',
  /** d sigmoid: b is the forward output y: y (1 - y). */
  sigmoidBackward: 'a * b * (1.0 - b)',
  /** d log: b is the forward input. */
  logBackward: 'a / b',
  /** d sqrt: b is the forward output: 1 / (2 sqrt(x)). */
  sqrtBackward: 'a * 0.5 / b',
  /** d abs: b is the forward input; the subgradient at 0 is 0, as PyTorch's sign(0) = 0. */
  absBackward: 'a * sign(b)',
  /** d (a^p): b is the forward input, s0 = p. */
  powScalarBackward: 'a * s0 * pow(b, T(s0 - 1.0))',
  /** d (s0 / x) = -s0 / x²: b is the forward input. */
  rdivScalarBackward: '-a * s0 / (b * b)',
} as const;

/** Expressions of three operands `a`, `b`, `c`. */
export const TERNARY_EXPRESSIONS = {
  /** d (x / y) / d y = -x / y², with upstream a, x = b, y = c. */
  divBackwardDivisor: '-a * b / (c * c)',
  /** Fused multiply-add. */
  fma: 'a * b + c',
} as const;

export type UnaryExpression = keyof typeof UNARY_EXPRESSIONS;
export type BinaryExpression = keyof typeof BINARY_EXPRESSIONS;
export type TernaryExpression = keyof typeof TERNARY_EXPRESSIONS;

const EXPRESSIONS: Record<string, string> = { ...UNARY_EXPRESSIONS, ...BINARY_EXPRESSIONS, ...TERNARY_EXPRESSIONS };
const OPERAND_NAMES = ['a', 'b', 'c', 'd'] as const;

export interface ElementwiseOperand {
  readonly range: BufferRange;
  /** Shape of this operand; it must broadcast to the output shape (NumPy rules: align the trailing dims). */
  readonly shape: readonly number[];
}

export interface ElementwiseArgs {
  readonly expression: UnaryExpression | BinaryExpression | TernaryExpression;
  readonly operands: readonly ElementwiseOperand[];
  readonly out: BufferRange;
  readonly outShape: readonly number[];
  /** Values of `s0`, `s1` in the expression. */
  readonly scalars?: readonly number[];
  /** out += expression instead of out = expression (gradient accumulation in place). */
  readonly accumulate?: boolean;
}

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Strides (in elements) that read `shape` broadcast to `outShape`: 0 along broadcast dimensions. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1, o = outShape.length - 1; i >= 0; i--, o--) {
    const d = shape[i]!;
    const od = outShape[o];
    if (od === undefined || (d !== od && d !== 1)) {
      throw new RangeError(`shape [${shape}] does not broadcast to [${outShape}]`);
    }
    strides[o] = d === 1 ? 0 : stride;
    stride *= d;
  }
  return strides;
}

const WORKGROUP = 256;

/**
 * How each operand is read: `direct` (same shape as the output: element i), `scalar` (one element, for every
 * output) or `broadcast` (indexed through the output coordinates).
 */
type OperandAccess = 'direct' | 'scalar' | 'broadcast';

function elementwiseSource(args: ElementwiseArgs, access: readonly OperandAccess[], lanes: 1 | 4): string {
  const { operands, outShape } = args;
  const expr = EXPRESSIONS[args.expression];
  if (expr === undefined) throw new RangeError(`unknown elementwise expression ${args.expression}`);
  const rank = outShape.length;
  const decls = operands
    .map(
      (_, k) => `@group(0) @binding(${k}) var<storage, read> in${k}: array<${access[k] === 'direct' ? 'T' : 'f32'}>;`,
    )
    .join('\n');
  const nIn = operands.length;
  // Uniform block: n, chunkStart, then one base per operand and one for the output, then the f32 scalars.
  const uFields = ['n', 'chunkStart', ...operands.map((_, k) => `base${k}`), 'baseOut'];
  const scalarCount = args.scalars?.length ?? 0;
  const fields = [...uFields.map((f) => `${f}: u32,`), ...Array.from({ length: scalarCount }, (_, k) => `s${k}: f32,`)];
  const loads = operands.map((op, k) => {
    const name = OPERAND_NAMES[k]!;
    if (access[k] === 'direct') return `let ${name} = in${k}[u.base${k} + i];`;
    if (access[k] === 'scalar') return `let ${name} = T(in${k}[u.base${k}]);`;
    const strides = broadcastStrides(op.shape, outShape);
    const terms = strides.map((s, d) => (s === 0 ? '' : ` + coord${d} * ${s}u`)).join('');
    return `let ${name} = in${k}[u.base${k}${terms}];`;
  });
  let coords = '';
  if (access.includes('broadcast')) {
    coords = 'var rest = u.chunkStart + i;\n';
    for (let d = rank - 1; d >= 0; d--) {
      coords += `  let coord${d} = rest % ${outShape[d]}u; rest = rest / ${outShape[d]}u;\n`;
    }
  }
  const scalarLets = Array.from({ length: scalarCount }, (_, k) => `let s${k} = u.s${k};`).join(' ');
  return /* wgsl */ `
alias T = ${lanes === 4 ? 'vec4<f32>' : 'f32'};
${decls}
@group(0) @binding(${nIn}) var<storage, read_write> out: array<T>;
struct Params { ${fields.join(' ')} }
@group(0) @binding(${nIn + 1}) var<uniform> u: Params;
${perElementMain(WORKGROUP, 'i', 'u.n')}
  ${coords}
  ${scalarLets}
  ${loads.join('\n  ')}
  out[u.baseOut + i] = ${args.accumulate ? 'out[u.baseOut + i] + ' : ''}${expr};
}`;
}

/** out = expression(operands...), broadcasting operands to `outShape`. */
export function elementwise(ctx: KernelContext, args: ElementwiseArgs): void {
  const n = size(args.outShape);
  if (n === 0) return;
  const access = args.operands.map((op, k): OperandAccess => {
    if (sameShape(op.shape, args.outShape)) return 'direct';
    assertBindable(ctx, `elementwise ${args.expression} operand ${k} [${op.shape}]`, size(op.shape));
    return size(op.shape) === 1 ? 'scalar' : 'broadcast';
  });
  const label = `${args.accumulate ? 'accumulate ' : ''}${args.expression} [${args.outShape}]`;
  // Chunks of a multiple of 4 elements keep every chunk's windows as aligned as the first.
  for (const { start, count } of elementChunks(ctx, n, 4)) {
    const windows = args.operands.map((op, k) =>
      access[k] === 'direct'
        ? elementWindow(ctx, op.range, start, count)
        : elementWindow(ctx, op.range, 0, size(op.shape)),
    );
    const o = elementWindow(ctx, args.out, start, count);
    const directBases = [o.base, ...windows.filter((_, k) => access[k] === 'direct').map((w) => w.base)];
    const lanes = !access.includes('broadcast') && [count, ...directBases].every((v) => v % 4 === 0) ? 4 : 1;
    const bases = windows.map((w, k) => (access[k] === 'direct' ? w.base / lanes : w.base));
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline(elementwiseSource(args, access, lanes), label),
      bindings: [...windows.map((w) => w.range), o.range],
      uniforms: packUniforms([count / lanes, start, ...bases, o.base / lanes], args.scalars ?? []),
      workgroups: workgroupGrid(ctx, Math.ceil(count / lanes / WORKGROUP)),
    });
  }
}
