/**
 * Float64 CPU tensors: the oracle every GPU op is tested against, and a plain reference for anyone who
 * benchmarks the kernels and wants to check them. Deliberately simple loops; speed does not matter here.
 */

export interface RefTensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export const shapeSize = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

export function refTensor(shape: readonly number[], data?: ArrayLike<number>): RefTensor {
  const n = shapeSize(shape);
  const d = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new RangeError(`refTensor: ${data.length} values for shape [${shape}]`);
    d.set(data);
  }
  return { shape: [...shape], data: d };
}

export function refMap(x: RefTensor, f: (v: number, i: number) => number): RefTensor {
  const out = refTensor(x.shape);
  for (let i = 0; i < x.data.length; i++) out.data[i] = f(x.data[i]!, i);
  return out;
}

/** The broadcast result shape of NumPy rules, or an error naming both shapes. */
export function broadcastShape(a: readonly number[], b: readonly number[], op = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: shapes [${a}] and [${b}] do not broadcast (dimension ${i}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Index into `shape` (broadcast to `outShape`) of the output element with flat index `i`. */
function broadcastIndex(shape: readonly number[], outShape: readonly number[], i: number): number {
  let idx = 0;
  let stride = 1;
  let rest = i;
  for (let o = outShape.length - 1, s = shape.length - 1; o >= 0; o--, s--) {
    const od = outShape[o]!;
    const coord = rest % od;
    rest = Math.floor(rest / od);
    if (s >= 0) {
      const d = shape[s]!;
      if (d !== 1) idx += coord * stride;
      stride *= d;
    }
  }
  return idx;
}

export function refZip(a: RefTensor, b: RefTensor, f: (x: number, y: number) => number): RefTensor {
  const shape = broadcastShape(a.shape, b.shape);
  const out = refTensor(shape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = f(a.data[broadcastIndex(a.shape, shape, i)]!, b.data[broadcastIndex(b.shape, shape, i)]!);
  }
  return out;
}

/** `x` expanded to `shape` by broadcasting. */
export function refBroadcastTo(x: RefTensor, shape: readonly number[]): RefTensor {
  broadcastShape(x.shape, shape);
  const out = refTensor(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = x.data[broadcastIndex(x.shape, shape, i)]!;
  return out;
}

/** Sum `g` (broadcast result) down to `shape`: the backward of broadcasting. */
export function refSumTo(g: RefTensor, shape: readonly number[]): RefTensor {
  const out = refTensor(shape);
  for (let i = 0; i < g.data.length; i++) out.data[broadcastIndex(shape, g.shape, i)]! += g.data[i]!;
  return out;
}

/** Sum over `axes` (all when omitted). */
export function refSum(x: RefTensor, axes?: readonly number[], keepDims = false): RefTensor {
  const ax = axes ?? x.shape.map((_, i) => i);
  const keptShape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = refSumTo(x, keptShape);
  return keepDims ? out : { shape: x.shape.filter((_, i) => !ax.includes(i)), data: out.data };
}
