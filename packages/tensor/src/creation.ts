/** Creating tensors: from CPU data, constants, and seeded random generators. */
import { getDevice } from './context.ts';
import type { Device } from './device.ts';
import { mapTensors } from './ops/elementwise.ts';
import { Rng } from './random.ts';
import { shapeSize } from './reference.ts';
import { emptyTensor, type Tensor, type TensorOptions } from './tensor.ts';

export interface CreateOptions extends TensorOptions {
  /** Default: the device from `initDevice()`. */
  device?: Device;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) t.requiresGrad = true;
  if (options.name !== undefined) t.name = options.name;
  return t;
}

/**
 * A tensor holding `values` (copied to the GPU). `shape` defaults to `[values.length]`, or `[]` for a number.
 */
export function tensor(
  values: ArrayLike<number> | number,
  shape?: readonly number[],
  options: CreateOptions = {},
): Tensor {
  const data = typeof values === 'number' ? Float32Array.of(values) : Float32Array.from(values);
  const s = shape ?? (typeof values === 'number' ? [] : [data.length]);
  if (shapeSize(s) !== data.length) {
    throw new RangeError(`tensor: ${data.length} values do not fill shape [${s}] (${shapeSize(s)} elements)`);
  }
  const device = options.device ?? getDevice();
  const t = emptyTensor(device, s, options.name ?? 'tensor');
  if (data.length > 0) device.write(t.storageFor('tensor').buffer, t.storageFor('tensor').byteOffset, data);
  return finish(t, options);
}

/** A tensor of `shape` filled with `value` (on the GPU, no upload). */
export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  const device = options.device ?? getDevice();
  return finish(mapTensors('fill', [], shape, [value], device), options);
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

export interface RandomOptions extends CreateOptions {
  /** Seed of the generator (default 0); or pass an `Rng` to continue a stream. */
  seed?: number;
  rng?: Rng;
}

/** Normal(mean, std) samples, generated on the CPU from a seeded generator. */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const { mean = 0, std = 1 } = options;
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
  return tensor(data, shape, options);
}

/** Uniform samples in [low, high), generated on the CPU from a seeded generator. */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const { low = 0, high = 1 } = options;
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(low, high);
  return tensor(data, shape, options);
}

/** Overwrite the elements of `t` with `data` (same element count), e.g. to load weights into a parameter. */
export function writeData(t: Tensor, data: Float32Array): void {
  if (data.length !== t.size) {
    throw new RangeError(`writeData: ${data.length} values for tensor ${t.describe()} of ${t.size} elements`);
  }
  const s = t.storageFor('writeData');
  if (data.length > 0) t.device.write(s.buffer, s.byteOffset, data);
  s.markWritten();
}
