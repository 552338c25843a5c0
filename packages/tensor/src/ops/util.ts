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
