import { reduceSum } from '@ternausnet/kernels-wgsl';
import { type GradInto, WRITTEN_INTO } from '../autograd.ts';
import type { Device } from '../device.ts';
import { emptyTensor, type Tensor } from '../tensor.ts';

/** The device shared by all `inputs` (checking that each is alive), for op `op`. */
export function deviceOf(op: string, inputs: readonly Tensor[]): Device {
  const device = inputs[0]!.device;
  for (const t of inputs) {
    t.storageFor(op);
    if (t.device !== device)
      throw new Error(`${op}: tensors ${inputs.map((x) => x.describe())} are on different devices`);
  }
  return device;
}

export function describeAll(inputs: readonly Tensor[]): string {
  return inputs.map((t) => t.describe()).join(', ');
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A fresh output tensor for `op`. */
export function output(device: Device, shape: readonly number[], op: string): Tensor {
  return emptyTensor(device, shape, op);
}

/**
 * A convolution's bias gradient, the sum of its output gradient `g` [N, C, H, W] over N, H and W: written into the
 * leaf's gradient storage when the rule was given one (then WRITTEN_INTO is returned), else into a new tensor.
 */
export function convBiasGrad(
  device: Device,
  g: Tensor,
  cout: number,
  into: GradInto | null,
  op: string,
): Tensor | typeof WRITTEN_INTO {
  const what = `${op} bias grad`;
  const gb = into?.tensor ?? output(device, [cout], what);
  reduceSum(device, {
    input: g.rangeFor(what),
    inShape: g.shape,
    axes: [0, 2, 3],
    out: gb.rangeFor(what),
    accumulate: into?.accumulate ?? false,
  });
  return into ? WRITTEN_INTO : gb;
}
