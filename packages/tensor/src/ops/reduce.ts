/** Sum and mean over axes. */
import { reduceSum } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { refBroadcastTo, refMap, refSum, shapeSize } from '../reference.ts';
import { Tensor } from '../tensor.ts';
import { mapTensors } from './elementwise.ts';
import { defineOp } from './registry.ts';
import { deviceOf, output } from './util.ts';

export interface ReduceAttrs {
  /** Axes to reduce (negative counts from the end); all axes when omitted. */
  axes?: readonly number[];
  keepDims?: boolean;
}

function normalizeAxes(op: string, shape: readonly number[], axes: readonly number[] | undefined): number[] {
  if (axes === undefined) return shape.map((_, i) => i);
  const out = axes.map((a) => {
    const n = a < 0 ? a + shape.length : a;
    if (!Number.isInteger(n) || n < 0 || n >= shape.length) {
      throw new RangeError(`${op}: axis ${a} is out of range for shape [${shape}]`);
    }
    return n;
  });
  if (new Set(out).size !== out.length) throw new RangeError(`${op}: duplicate axes [${axes}]`);
  return out;
}

function defineReduce(name: 'sum' | 'mean') {
  return defineOp<ReduceAttrs>({
    name,
    inputs: ['x'],
    apply: ([x], attrs) => {
      const axes = normalizeAxes(name, x!.shape, attrs.axes);
      const keptShape = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const outShape = attrs.keepDims ? keptShape : x!.shape.filter((_, i) => !axes.includes(i));
      const R = axes.reduce((p, a) => p * x!.shape[a]!, 1);
      const scale = name === 'mean' ? 1 / R : 1;
      const device = deviceOf(name, [x!]);
      const y = output(device, outShape, name);
      reduceSum(device, {
        input: x!.rangeFor(name),
        inShape: x!.shape,
        axes,
        out: y.rangeFor(name),
        scale,
      });
      const xShape = x!.shape;
      return record(name, [x!], y, (gy) => {
        // Broadcast the gradient back over the reduced axes (a view with size-1 dims, then one expanding pass).
        const s = gy.storageFor(`${name} backward`);
        s.retain();
        const gk = new Tensor(s, keptShape);
        const gx = mapTensors('mulScalar', [gk], xShape, [scale]);
        gk.dispose();
        return [gx];
      });
    },
    reference: {
      forward: ([x], attrs) => {
        const axes = normalizeAxes(name, x!.shape, attrs.axes);
        const R = axes.reduce((p, a) => p * x!.shape[a]!, 1);
        const s = refSum(x!, axes, attrs.keepDims);
        return name === 'mean' ? refMap(s, (v) => v / R) : s;
      },
      backward: ([x], attrs, gy) => {
        const axes = normalizeAxes(name, x!.shape, attrs.axes);
        const R = axes.reduce((p, a) => p * x!.shape[a]!, 1);
        const keptShape = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const g = refBroadcastTo({ shape: keptShape, data: gy.data }, x!.shape);
        return [name === 'mean' ? refMap(g, (v) => v / R) : g];
      },
    },
  });
}

const sumOp = defineReduce('sum');
const meanOp = defineReduce('mean');

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  return sumOp.apply([x], axes === undefined ? { keepDims } : { axes, keepDims });
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: readonly number[], keepDims = false): Tensor {
  if (shapeSize(x.shape) === 0) throw new RangeError(`mean: ${x.describe()} is empty`);
  return meanOp.apply([x], axes === undefined ? { keepDims } : { axes, keepDims });
}
