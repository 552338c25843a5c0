/**
 * Elementwise ops (with NumPy broadcasting for the binary ones) and the reductions their backward needs.
 * Each op: GPU forward via the `elementwise` kernel, backward rule, float64 reference.
 */
import {
  type BinaryExpression,
  type ElementwiseOperand,
  elementwise,
  reduceSum,
  type TernaryExpression,
  type UnaryExpression,
} from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import type { Device } from '../device.ts';
import { broadcastShape, refBroadcastTo, refMap, refSumTo, refTensor, refZip } from '../reference.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';
import { deviceOf, output, sameShape } from './util.ts';

type Expression = UnaryExpression | BinaryExpression | TernaryExpression;

/** out = expression(operands) broadcast to `outShape`, as a new tensor (not recorded for autograd). */
export function mapTensors(
  expression: Expression,
  operands: readonly Tensor[],
  outShape: readonly number[],
  scalars: readonly number[] = [],
  /** Needed only when there are no operands (e.g. `fill`). */
  onDevice?: Device,
): Tensor {
  const device = onDevice ?? deviceOf(expression, operands);
  const out = output(device, outShape, expression);
  const ops: ElementwiseOperand[] = operands.map((t) => ({ range: t.rangeFor(expression), shape: t.shape }));
  elementwise(device, { expression, operands: ops, out: out.rangeFor(expression), outShape, scalars });
  return out;
}

/** into += g (same shape), in place; used to accumulate gradients. */
export function addInto(into: Tensor, g: Tensor): void {
  const device = deviceOf('accumulate', [into, g]);
  if (!sameShape(into.shape, g.shape)) {
    throw new RangeError(`accumulate: gradient ${g.describe()} does not match ${into.describe()}`);
  }
  elementwise(device, {
    expression: 'copy',
    operands: [{ range: g.rangeFor('accumulate'), shape: g.shape }],
    out: into.rangeFor('accumulate'),
    outShape: into.shape,
    accumulate: true,
  });
}

/** Sum `g` over the dimensions that broadcasting expanded, back to `shape` (not recorded). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g.detach();
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  const keptShape = g.shape.filter((_, d) => !axes.includes(d));
  const device = deviceOf('sumToShape', [g]);
  const out = output(device, shape, 'sumToShape');
  if (axes.length === 0) {
    out.dispose();
    const s = g.storageFor('sumToShape');
    s.retain();
    return new Tensor(s, shape);
  }
  reduceSum(device, { input: g.rangeFor('sumToShape'), inShape: g.shape, axes, out: out.rangeFor('sumToShape') });
  if (keptShape.reduce((p, d) => p * d, 1) !== out.size) throw new Error('internal: sumToShape size mismatch');
  return out;
}

// ---- unary ops ----

interface UnarySpec {
  name: string;
  forward: UnaryExpression;
  /** Backward kernel of (gradOutput, saved) and which tensor it needs. */
  backward: BinaryExpression;
  saves: 'input' | 'output';
  ref: (x: number) => number;
  refGrad: (g: number, x: number, y: number) => number;
}

function defineUnary(spec: UnarySpec) {
  const op = defineOp<Record<string, never>>({
    name: spec.name,
    inputs: ['x'],
    apply: ([x]) => {
      const y = mapTensors(spec.forward, [x!], x!.shape);
      const saved = spec.saves === 'input' ? x! : y;
      return record(spec.name, [x!], y, (gy, [s]) => [mapTensors(spec.backward, [gy, s!], gy.shape)], [saved]);
    },
    reference: {
      forward: ([x]) => refMap(x!, spec.ref),
      backward: ([x], _a, gy) => [refMap(gy, (g, i) => spec.refGrad(g, x!.data[i]!, spec.ref(x!.data[i]!)))],
    },
  });
  return (x: Tensor): Tensor => op.apply([x], {});
}

/** max(x, 0). */
export const relu = defineUnary({
  name: 'relu',
  forward: 'relu',
  backward: 'reluBackward',
  saves: 'output',
  ref: (x) => Math.max(x, 0),
  refGrad: (g, x) => (x > 0 ? g : 0),
});

/** 1 / (1 + exp(-x)). */
export const sigmoid = defineUnary({
  name: 'sigmoid',
  forward: 'sigmoid',
  backward: 'sigmoidBackward',
  saves: 'output',
  ref: (x) => 1 / (1 + Math.exp(-x)),
  refGrad: (g, _x, y) => g * y * (1 - y),
});

/** Natural logarithm. */
export const log = defineUnary({
  name: 'log',
  forward: 'log',
  backward: 'logBackward',
  saves: 'input',
  ref: Math.log,
  refGrad: (g, x) => g / x,
});

export const exp = defineUnary({
  name: 'exp',
  forward: 'exp',
  backward: 'mul',
  saves: 'output',
  ref: Math.exp,
  refGrad: (g, _x, y) => g * y,
});

export const abs = defineUnary({
  name: 'abs',
  forward: 'abs',
  backward: 'absBackward',
  saves: 'input',
  ref: Math.abs,
  refGrad: (g, x) => g * Math.sign(x),
});

export const sqrt = defineUnary({
  name: 'sqrt',
  forward: 'sqrt',
  backward: 'sqrtBackward',
  saves: 'output',
  ref: Math.sqrt,
  refGrad: (g, _x, y) => (g * 0.5) / y,
});

// ---- ops with a scalar operand ----

interface ScalarAttrs {
  value: number;
}

function defineScalarOp(
  name: string,
  forward: UnaryExpression,
  backward: (gy: Tensor, x: Tensor | undefined, value: number) => Tensor,
  needsInput: boolean,
  ref: (x: number, s: number) => number,
  refGrad: (g: number, x: number, s: number) => number,
) {
  return defineOp<ScalarAttrs>({
    name,
    inputs: ['x'],
    apply: ([x], { value }) => {
      if (!Number.isFinite(value)) throw new RangeError(`${name}: scalar must be finite, got ${value}`);
      const y = mapTensors(forward, [x!], x!.shape, [value]);
      return record(name, [x!], y, (gy, [xs]) => [backward(gy, xs, value)], needsInput ? [x!] : []);
    },
    reference: {
      forward: ([x], { value }) => refMap(x!, (v) => ref(v, value)),
      backward: ([x], { value }, gy) => [refMap(gy, (g, i) => refGrad(g, x!.data[i]!, value))],
    },
  });
}

const addScalarOp = defineScalarOp(
  'addScalar',
  'addScalar',
  (gy) => gy.detach(),
  false,
  (x, s) => x + s,
  (g) => g,
);
const mulScalarOp = defineScalarOp(
  'mulScalar',
  'mulScalar',
  (gy, _x, s) => mapTensors('mulScalar', [gy], gy.shape, [s]),
  false,
  (x, s) => x * s,
  (g, _x, s) => g * s,
);
const rsubScalarOp = defineScalarOp(
  'rsubScalar',
  'rsubScalar',
  (gy) => mapTensors('neg', [gy], gy.shape),
  false,
  (x, s) => s - x,
  (g) => -g,
);
const rdivScalarOp = defineScalarOp(
  'rdivScalar',
  'rdivScalar',
  (gy, x, s) => mapTensors('rdivScalarBackward', [gy, x!], gy.shape, [s]),
  true,
  (x, s) => s / x,
  (g, x, s) => (-g * s) / (x * x),
);
const powScalarOp = defineScalarOp(
  'powScalar',
  'powScalar',
  (gy, x, s) => mapTensors('powScalarBackward', [gy, x!], gy.shape, [s]),
  true,
  (x, s) => x ** s,
  (g, x, s) => g * s * x ** (s - 1),
);

export function neg(x: Tensor): Tensor {
  return mulScalarOp.apply([x], { value: -1 });
}

/** x ** p for a scalar exponent (x must be positive unless p is an integer, as in WGSL's pow). */
export function pow(x: Tensor, p: number): Tensor {
  return powScalarOp.apply([x], { value: p });
}

// ---- binary ops with broadcasting ----

function defineBinary(
  name: string,
  forward: BinaryExpression,
  backward: (gy: Tensor, a: Tensor, b: Tensor) => [Tensor | null, Tensor | null],
  saves: boolean,
  ref: (a: number, b: number) => number,
  refGrad: (g: number, a: number, b: number) => [number, number],
) {
  return defineOp<Record<string, never>>({
    name,
    inputs: ['a', 'b'],
    apply: ([a, b]) => {
      const shape = broadcastShape(a!.shape, b!.shape, name);
      const y = mapTensors(forward, [a!, b!], shape);
      const aShape = a!.shape;
      const bShape = b!.shape;
      return record(
        name,
        [a!, b!],
        y,
        (gy, saved) => {
          const [ga, gb] = backward(gy, saved[0]!, saved[1]!);
          const ra = ga && sumToShape(ga, aShape);
          const rb = gb && sumToShape(gb, bShape);
          ga?.dispose();
          gb?.dispose();
          return [ra, rb];
        },
        saves ? [a!, b!] : [],
      );
    },
    reference: {
      forward: ([a, b]) => refZip(a!, b!, ref),
      backward: ([a, b], _attrs, gy) => {
        const A = refBroadcastTo(a!, gy.shape);
        const B = refBroadcastTo(b!, gy.shape);
        const ga = refTensor(gy.shape);
        const gb = refTensor(gy.shape);
        for (let i = 0; i < gy.data.length; i++) {
          const [da, db] = refGrad(gy.data[i]!, A.data[i]!, B.data[i]!);
          ga.data[i] = da;
          gb.data[i] = db;
        }
        return [refSumTo(ga, a!.shape), refSumTo(gb, b!.shape)];
      },
    },
  });
}

const addOp = defineBinary(
  'add',
  'add',
  (gy) => [gy.detach(), gy.detach()],
  false,
  (a, b) => a + b,
  (g) => [g, g],
);
const subOp = defineBinary(
  'sub',
  'sub',
  (gy) => [gy.detach(), mapTensors('neg', [gy], gy.shape)],
  false,
  (a, b) => a - b,
  (g) => [g, -g],
);
const mulOp = defineBinary(
  'mul',
  'mul',
  (gy, a, b) => [mapTensors('mul', [gy, b], gy.shape), mapTensors('mul', [gy, a], gy.shape)],
  true,
  (a, b) => a * b,
  (g, a, b) => [g * b, g * a],
);
const divOp = defineBinary(
  'div',
  'div',
  (gy, a, b) => [mapTensors('div', [gy, b], gy.shape), mapTensors('divBackwardDivisor', [gy, a, b], gy.shape)],
  true,
  (a, b) => a / b,
  (g, a, b) => [g / b, (-g * a) / (b * b)],
);

/** a + b (broadcasting); b may be a number. */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? addScalarOp.apply([a], { value: b }) : addOp.apply([a, b], {});
}

/** `a ∘ b` for a number `a`: the scalar op with its operands swapped (`rsub`, `rdiv`) on the tensor `b`. */
function swappedScalar(name: string, op: typeof rsubScalarOp, a: number, b: Tensor | number): Tensor {
  if (typeof b === 'number') throw new TypeError(`${name}: at least one operand must be a tensor`);
  return op.apply([b], { value: a });
}

/** a − b (broadcasting); either side may be a number. */
export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number') return swappedScalar('sub', rsubScalarOp, a, b);
  return typeof b === 'number' ? addScalarOp.apply([a], { value: -b }) : subOp.apply([a, b], {});
}

/** a · b (broadcasting); b may be a number. */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? mulScalarOp.apply([a], { value: b }) : mulOp.apply([a, b], {});
}

/** a / b (broadcasting); either side may be a number. */
export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number') return swappedScalar('div', rdivScalarOp, a, b);
  if (typeof b === 'number') {
    if (b === 0) throw new RangeError('div: division by the scalar 0');
    return mulScalarOp.apply([a], { value: 1 / b });
  }
  return divOp.apply([a, b], {});
}
