/** Ops that change how elements are arranged: reshape (a view) and concatenation (a copy). */
import { copyBlock } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { refTensor, shapeSize } from '../reference.ts';
import { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';
import { describeAll, deviceOf, output } from './util.ts';

/** Resolve one -1 entry and check the element count. */
export function resolveShape(op: string, from: readonly number[], to: readonly number[]): number[] {
  const n = shapeSize(from);
  const free = to.filter((d) => d === -1).length;
  if (free > 1) throw new RangeError(`${op}: at most one -1 in [${to}]`);
  const known = to.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const out = to.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
  if (out.some((d) => !Number.isInteger(d) || d < 0) || shapeSize(out) !== n) {
    throw new RangeError(`${op}: cannot reshape [${from}] (${n} elements) to [${to}]`);
  }
  return out;
}

/** A view of `x` with `shape` (same storage): the tensor-level reshape, not recorded. */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const s = x.storageFor('reshape');
  s.retain();
  return new Tensor(s, resolveShape('reshape', x.shape, shape));
}

const reshapeOp = defineOp<{ shape: readonly number[] }>({
  name: 'reshape',
  inputs: ['x'],
  apply: ([x], { shape }) => {
    const y = view(x!, shape);
    const xShape = x!.shape;
    return record('reshape', [x!], y, (gy) => [view(gy, xShape)]);
  },
  reference: {
    forward: ([x], { shape }) => ({ shape: resolveShape('reshape', x!.shape, shape), data: x!.data.slice() }),
    backward: ([x], _attrs, gy) => [{ shape: [...x!.shape], data: gy.data.slice() }],
  },
});

/** The same elements with a new shape (one dimension may be -1). Shares storage with `x`. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return reshapeOp.apply([x], { shape });
}

function concatGeometry(op: string, shapes: readonly (readonly number[])[], axis: number) {
  const first = shapes[0];
  if (!first) throw new RangeError(`${op}: needs at least one tensor`);
  const ax = axis < 0 ? axis + first.length : axis;
  if (ax < 0 || ax >= first.length) throw new RangeError(`${op}: axis ${axis} out of range for [${first}]`);
  for (const s of shapes) {
    if (s.length !== first.length || s.some((d, i) => i !== ax && d !== first[i])) {
      throw new RangeError(
        `${op}: shapes ${shapes.map((x) => `[${x}]`).join(', ')} differ outside axis ${ax}; all other dimensions must match`,
      );
    }
  }
  const outer = first.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = first.slice(ax + 1).reduce((p, d) => p * d, 1);
  const total = shapes.reduce((p, s) => p + s[ax]!, 0);
  const outShape = first.map((d, i) => (i === ax ? total : d));
  return { ax, outer, inner, total, outShape };
}

const concatOp = defineOp<{ axis: number }>({
  name: 'concat',
  inputs: ['...tensors'],
  apply: (xs, { axis }) => {
    const device = deviceOf('concat', xs);
    const { ax, outer, inner, total, outShape } = concatGeometry(
      `concat(${describeAll(xs)})`,
      xs.map((x) => x.shape),
      axis,
    );
    const y = output(device, outShape, 'concat');
    let offset = 0;
    for (const x of xs) {
      const cols = x.shape[ax]! * inner;
      copyBlock(device, {
        src: x.rangeFor('concat'),
        dst: y.rangeFor('concat'),
        rows: outer,
        cols,
        srcStride: cols,
        dstStride: total * inner,
        dstOffset: offset,
      });
      offset += cols;
    }
    const shapes = xs.map((x) => x.shape);
    return record('concat', xs, y, (gy) => {
      let off = 0;
      return shapes.map((s) => {
        const cols = s[ax]! * inner;
        const g = output(device, s, 'concat backward');
        copyBlock(device, {
          src: gy.rangeFor('concat backward'),
          dst: g.rangeFor('concat backward'),
          rows: outer,
          cols,
          srcStride: total * inner,
          dstStride: cols,
          srcOffset: off,
        });
        off += cols;
        return g;
      });
    });
  },
  reference: {
    forward: (xs, { axis }) => {
      const { ax, outer, inner, total, outShape } = concatGeometry(
        'concat',
        xs.map((x) => x.shape),
        axis,
      );
      const y = refTensor(outShape);
      let off = 0;
      for (const x of xs) {
        const cols = x.shape[ax]! * inner;
        for (let r = 0; r < outer; r++) {
          for (let c = 0; c < cols; c++) y.data[r * total * inner + off + c] = x.data[r * cols + c]!;
        }
        off += cols;
      }
      return y;
    },
    backward: (xs, { axis }, gy) => {
      const { ax, outer, inner, total } = concatGeometry(
        'concat',
        xs.map((x) => x.shape),
        axis,
      );
      let off = 0;
      return xs.map((x) => {
        const cols = x.shape[ax]! * inner;
        const g = refTensor(x.shape);
        for (let r = 0; r < outer; r++) {
          for (let c = 0; c < cols; c++) g.data[r * cols + c] = gy.data[r * total * inner + off + c]!;
        }
        off += cols;
        return g;
      });
    },
  },
});

/** Concatenate along `axis` (default 1: the channels of NCHW tensors). */
export function concat(xs: readonly Tensor[], axis = 1): Tensor {
  return concatOp.apply(xs, { axis });
}
