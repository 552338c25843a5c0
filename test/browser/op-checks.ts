/**
 * The convolution, transposed convolution and max-pool ops against their float64 references, forward and
 * backward, under every kernel variant the adapter can run. Self-contained (no vitest) so that the same checks
 * run in a browser page (bundled by esbuild) and in Node. Tolerances are those of packages/tensor/test/ops.test.ts:
 * a float32 sum of K products of magnitude ≤ 1 rounds by ~K·2^-24 per partial sum, growing like √K for random
 * data, so atol = 4·K^1.5·2^-24 forward; gradients sum |gy|-weighted terms: atol = Σ|gy|·2^-22·n_gy / n_grad;
 * both scaled by the variant's errorGrowth (Winograd F(4×4, 3×3) rounds more than a plain sum).
 */
import { type KernelFamily, runnableVariants, variantRows } from '@ternausnet/kernels-wgsl';
import { type Device, type RefTensor, Rng, registeredOps, type Tensor, tensor, tidy } from '@ternausnet/tensor';

/** The variants of each op's kernel family that `device` can run (the variant table's word); `[null]` = one kernel. */
function variantsFor(device: Device, op: string): (string | null)[] {
  const names = runnableVariants(device)
    .filter((v) => v.family === op)
    .map((v) => v.variant);
  return names.length > 0 ? names : [null];
}

interface OpCase {
  op: 'conv3x3' | 'convTranspose3x3s2' | 'maxPool2x2';
  shapes: number[][];
  attrs: Record<string, unknown>;
  atol: number;
  distinct?: boolean;
}

function conv(xs: number[][], cout: number, bias: boolean, relu: boolean): OpCase {
  const cin = xs.reduce((p, x) => p + x[1]!, 0);
  const K = cin * 9;
  return {
    op: 'conv3x3',
    shapes: [...xs, [cout, cin, 3, 3], ...(bias ? [[cout]] : [])],
    attrs: { segments: xs.length, bias, relu },
    atol: 4 * K ** 1.5 * 2 ** -24,
  };
}

function convT(x: number[], cout: number, bias: boolean, relu: boolean): OpCase {
  const K = x[1]! * 4;
  return {
    op: 'convTranspose3x3s2',
    shapes: [x, [x[1]!, cout, 3, 3], ...(bias ? [[cout]] : [])],
    attrs: { bias, relu },
    atol: 4 * K ** 1.5 * 2 ** -24,
  };
}

/** Odd, tiny and non-square sizes; widths that are multiples of 4 (vec4 paths); two concatenated inputs. */
export const CASES: OpCase[] = [
  conv([[2, 3, 7, 13]], 5, true, false),
  conv([[1, 5, 12, 12]], 7, true, true),
  conv(
    [
      [1, 3, 4, 8],
      [1, 5, 4, 8],
    ],
    20,
    true,
    true,
  ),
  convT([2, 5, 3, 4], 3, true, false),
  convT([1, 20, 4, 8], 9, true, true),
  convT([1, 9, 2, 40], 5, false, true),
  { op: 'maxPool2x2', shapes: [[2, 3, 7, 6]], attrs: {}, atol: 0, distinct: true },
  { op: 'maxPool2x2', shapes: [[1, 2, 6, 12]], attrs: {}, atol: 0, distinct: true },
];

function randomRef(shape: readonly number[], rng: Rng, distinct: boolean): RefTensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float64Array(n);
  if (distinct) {
    // Well-separated values in random order: max-pool's argmax is unique.
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let i = 0; i < n; i++) data[order[i]!] = Math.fround((i - n / 2) * 0.01);
  } else for (let i = 0; i < n; i++) data[i] = Math.fround(rng.uniform(-1, 1));
  return { shape: [...shape], data };
}

/** The worst element outside |a − e| ≤ atol + rtol·|e| (NaN, an unwritten poisoned element, always fails). */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): string | null {
  if (actual.length !== expected.length) return `${actual.length} values, expected ${expected.length}`;
  let worst = -1;
  let worstRatio = 1;
  for (let i = 0; i < actual.length; i++) {
    const ratio = Math.abs(actual[i]! - expected[i]!) / (atol + rtol * Math.abs(expected[i]!));
    if (Number.isNaN(ratio) ? worstRatio !== Number.POSITIVE_INFINITY : ratio > worstRatio) {
      worst = i;
      worstRatio = Number.isNaN(ratio) ? Number.POSITIVE_INFINITY : ratio;
    }
  }
  if (worst < 0) return null;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= atol + rtol * Math.abs(expected[i]!))) bad++;
  }
  return `${bad} of ${actual.length} elements off; worst: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol.toExponential(2)}, rtol ${rtol})`;
}

export interface OpCheck {
  /** e.g. `conv3x3[subgroup] [2,3,7,13] [5,3,3,3] [5] {"segments":1,"bias":true,"relu":false}` */
  label: string;
  op: string;
  variant: string | null;
  /** One line per failed comparison (forward, grad of input k); empty when everything matched. */
  failures: string[];
}

/** Run every case under every runnable variant on `device` (created with `poison: true`). */
export async function runOpChecks(device: Device, seed: number): Promise<OpCheck[]> {
  const results: OpCheck[] = [];
  for (const [index, c] of CASES.entries()) {
    const op = registeredOps().get(c.op);
    if (!op) throw new Error(`no registered op '${c.op}'`);
    for (const variant of variantsFor(device, c.op)) {
      const label = `${c.op}${variant ? `[${variant}]` : ''} ${c.shapes.map((s) => `[${s}]`).join(' ')} ${JSON.stringify(c.attrs)}`;
      const failures: string[] = [];
      device.variantOverrides = variant ? { [c.op]: variant } : {};
      const rng = new Rng(seed + index * 7919);
      const refs = c.shapes.map((s) => randomRef(s, rng, c.distinct ?? false));
      const attrs = c.attrs as never;
      const expected = op.reference.forward(refs, attrs);
      const gy = randomRef(expected.shape, rng, false);
      const expectedGrads = op.reference.backward(refs, attrs, gy);
      const inputs: Tensor[] = refs.map((r) => tensor(Float32Array.from(r.data), r.shape, { requiresGrad: true }));
      try {
        const out = tidy(() => op.apply(inputs, attrs));
        const rows = variant ? variantRows(c.op as KernelFamily) : [];
        const growth = Math.max(1, ...rows.map((r) => (r.name === variant ? (r.errorGrowth ?? 1) : 1)));
        const fwd = compare(await out.toArray(), expected.data, growth * Math.max(1e-6, c.atol), growth * 2e-5);
        if (fwd) failures.push(`forward: ${fwd}`);
        out.backward(tensor(Float32Array.from(gy.data), gy.shape));
        const gAbs = gy.data.reduce((p, v) => p + Math.abs(v), 0);
        for (const [k, g] of expectedGrads.entries()) {
          if (!g) continue;
          const grad = inputs[k]!.grad;
          if (!grad) {
            failures.push(`grad of input ${k}: none`);
            continue;
          }
          const atol = growth * Math.max(1e-6, (gAbs * 2 ** -22 * gy.data.length) / Math.max(1, g.data.length));
          const bad = compare(await grad.toArray(), g.data, atol, growth * 5e-5);
          if (bad) failures.push(`grad of input ${k}: ${bad}`);
        }
        out.dispose();
      } catch (e) {
        failures.push(`threw: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        for (const t of inputs) t.dispose();
        device.variantOverrides = {};
      }
      results.push({ label, op: c.op, variant, failures });
    }
  }
  return results;
}
