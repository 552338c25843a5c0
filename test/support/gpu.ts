/** Shared test helpers: a poisoned test device, CPU<->GPU conversion, seeded random data, tolerances. */
import { type KernelFamily, variantRows } from '@ternausnet/kernels-wgsl';
import { type Device, initDevice, type RefTensor, Rng, type Tensor, tensor } from '@ternausnet/tensor';
import { afterAll, beforeAll } from 'vitest';

/**
 * One device per test file, created with `poison: true` so that every pooled buffer starts as NaN: a kernel
 * that leaves an output element unwritten fails the comparison instead of passing on stale data.
 */
export function useTestDevice(): () => Device {
  let device: Device | null = null;
  beforeAll(async () => {
    device = await initDevice({ poison: true });
  });
  afterAll(async () => {
    await device?.destroy();
  });
  return () => {
    if (!device) throw new Error('test device not ready');
    return device;
  };
}

export type Domain = 'any' | 'positive' | 'nonzero' | 'awayFromZero' | 'distinct' | 'binary' | 'unit';

/** Fresh random data (never zeros) for a shape. `domain` keeps inputs where the op and its FD check are smooth. */
export function randomRef(shape: readonly number[], rng: Rng, domain: Domain = 'any', scale = 1): RefTensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.uniform(-1, 1) * scale;
    switch (domain) {
      case 'positive':
        v = 0.2 + Math.abs(v) * 2;
        break;
      case 'nonzero':
      case 'awayFromZero':
        // Keep |v| ≥ 0.1 so that ReLU-like kinks and divisions stay out of the finite-difference stencil.
        v = Math.sign(v || 1) * (0.1 + Math.abs(v));
        break;
      case 'binary':
        v = rng.next() < 0.4 ? 1 : 0;
        break;
      case 'unit':
        v = rng.next();
        break;
      default:
        break;
    }
    data[i] = Math.fround(v);
  }
  if (domain === 'distinct') {
    // A random permutation of well-separated values: max-pool's argmax is unique and FD steps cannot reorder it.
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let i = 0; i < n; i++) data[order[i]!] = Math.fround((i - n / 2) * 0.01 * scale);
  }
  return { shape: [...shape], data };
}

/**
 * How many times a plain sum's float32 rounding the variant `name` of `family` may reach: its rows' errorGrowth
 * (Winograd F(4×4, 3×3): 16), 1 where none states one. Tests scale their tolerances by it.
 */
export function variantErrorGrowth(family: KernelFamily, name: string): number {
  return Math.max(1, ...variantRows(family).map((row) => (row.name === name ? (row.errorGrowth ?? 1) : 1)));
}

export function toGpu(ref: RefTensor, requiresGrad = false): Tensor {
  return tensor(Float32Array.from(ref.data), ref.shape, { requiresGrad });
}

export async function toRef(t: Tensor): Promise<RefTensor> {
  return { shape: [...t.shape], data: Float64Array.from(await t.toArray()) };
}

/**
 * Assert `actual` ≈ `expected` elementwise: |a − e| ≤ atol + rtol·|e|. Reports the worst element with its
 * index, so a failure says where. NaN in `actual` (an unwritten, poisoned element) always fails.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { atol: number; rtol: number },
  what: string,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ratio = Math.abs(a - e) / (tol.atol + tol.rtol * Math.abs(e));
    if (!(ratio <= 1)) {
      if (Number.isNaN(ratio) || ratio > worstRatio || worst < 0) {
        worst = i;
        worstRatio = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : ratio;
      }
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| = ${(tol.atol + tol.rtol * Math.abs(expected[worst]!)) * worstRatio} > atol ${tol.atol} + rtol ${tol.rtol}·|e|)`,
    );
  }
}

export { Rng };
