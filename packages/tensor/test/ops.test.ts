/**
 * Every registered op against its float64 reference: forward, backward (vector-Jacobian product with a random
 * output gradient), and the reference backward against central finite differences of the reference forward.
 *
 * Data is fresh each run (seed printed in every failure; rerun with TEST_SEED=<seed> to reproduce).
 * Tolerances: elementwise results are one float32 rounding (plus the adapter's exp/log approximation) away from
 * float64: rtol 2e-5. Reductions accumulate K float32 terms: atol scales with Σ|x| · K · 2^-24 (Kahan-summed
 * kernels do much better; this is the bound for naive summation, so the test does not depend on the trick).
 */
import {
  describeVariants,
  type KernelContext,
  type KernelFamily,
  variantProblem,
  variantRows,
} from '@ternausnet/kernels-wgsl';
import { type Device, type RefTensor, registeredOps, tensor, tidy } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import {
  type Domain,
  expectClose,
  Rng,
  randomRef,
  toRef,
  useTestDevice,
  variantErrorGrowth,
} from '../../../test/support/gpu.ts';

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 1e9));

export interface OpCase {
  op: string;
  shapes: number[][];
  attrs?: Record<string, unknown>;
  domain?: Domain | Domain[];
  /** Extra forward tolerance for ops that accumulate many terms. */
  atol?: number;
  rtol?: number;
}

const unary = ['relu', 'sigmoid', 'exp', 'abs'];
const CASES: OpCase[] = [
  ...unary.flatMap((op) => [
    { op, shapes: [[7, 13]], domain: 'awayFromZero' as Domain },
    { op, shapes: [[1]], domain: 'awayFromZero' as Domain },
    { op, shapes: [[2, 3, 5, 4]], domain: 'awayFromZero' as Domain },
  ]),
  // Element counts that are multiples of 4 run the vec4 variant of the elementwise kernel, others the scalar one.
  { op: 'log', shapes: [[4, 6]], domain: 'positive' },
  { op: 'sqrt', shapes: [[4, 6]], domain: 'positive' },
  { op: 'addScalar', shapes: [[8]], attrs: { value: -0.5 } },
  { op: 'rdivScalar', shapes: [[2, 6]], attrs: { value: -2 }, domain: 'awayFromZero' },
  { op: 'powScalar', shapes: [[4, 3]], attrs: { value: 1.5 }, domain: 'positive' },
  { op: 'log', shapes: [[3, 17]], domain: 'positive' },
  { op: 'sqrt', shapes: [[3, 17]], domain: 'positive' },
  { op: 'addScalar', shapes: [[5, 3]], attrs: { value: 2.5 } },
  { op: 'mulScalar', shapes: [[5, 3]], attrs: { value: -1.75 } },
  { op: 'rsubScalar', shapes: [[4, 1, 3]], attrs: { value: 0.5 } },
  { op: 'rdivScalar', shapes: [[6]], attrs: { value: 3 }, domain: 'awayFromZero' },
  { op: 'powScalar', shapes: [[2, 9]], attrs: { value: 2.5 }, domain: 'positive' },
  ...['add', 'sub', 'mul'].flatMap((op) => [
    {
      op,
      shapes: [
        [7, 13],
        [7, 13],
      ],
    },
    {
      op,
      shapes: [
        [2, 3, 5, 4],
        [1, 3, 1, 1],
      ],
    },
    { op, shapes: [[5], [3, 1]] },
    { op, shapes: [[2, 1, 3], [1]] },
    {
      op,
      shapes: [
        [4, 6],
        [4, 6],
      ],
    },
    { op, shapes: [[2, 8], [1]] },
  ]),
  {
    op: 'div',
    shapes: [
      [7, 13],
      [7, 13],
    ],
    domain: ['any', 'awayFromZero'],
  },
  {
    op: 'div',
    shapes: [
      [2, 3, 4],
      [3, 1],
    ],
    domain: ['any', 'awayFromZero'],
  },
  {
    op: 'div',
    shapes: [
      [4, 6],
      [4, 6],
    ],
    domain: ['any', 'awayFromZero'],
  },
  { op: 'sum', shapes: [[7, 13]] },
  { op: 'sum', shapes: [[2, 3, 5, 7]], attrs: { axes: [0, 2, 3] } },
  { op: 'sum', shapes: [[2, 3, 5, 7]], attrs: { axes: [1], keepDims: true } },
  { op: 'sum', shapes: [[3, 70000]], attrs: { axes: [1] } },
  { op: 'sum', shapes: [[300001]] },
  { op: 'mean', shapes: [[7, 13]] },
  { op: 'mean', shapes: [[4, 3, 9, 9]], attrs: { axes: [0, 2, 3], keepDims: true } },
  { op: 'mean', shapes: [[2, 1, 64, 64]] },
  ...convCases('conv3x3', 3),
  ...convCases('conv1x1', 1).filter((c) => (c.attrs as { segments: number }).segments === 1),
  ...convTransposeCases(),
  ...convTranspose4x4Cases(),
  // Bilinear 2× upsampling: 1-pixel axes (both taps clamp to the same input), odd and non-square planes.
  { op: 'upsampleBilinear2x', shapes: [[2, 3, 5, 7]] },
  { op: 'upsampleBilinear2x', shapes: [[1, 1, 1, 1]] },
  { op: 'upsampleBilinear2x', shapes: [[1, 2, 1, 6]] },
  { op: 'upsampleBilinear2x', shapes: [[3, 2, 4, 3]] },
  { op: 'upsampleBilinear2x', shapes: [[1, 1, 2, 2]] },
  { op: 'maxPool2x2', shapes: [[2, 3, 7, 6]], domain: 'distinct' },
  { op: 'maxPool2x2', shapes: [[1, 5, 4, 4]], domain: 'distinct' },
  { op: 'maxPool2x2', shapes: [[1, 1, 1, 3]], domain: 'distinct' },
  { op: 'maxPool2x2', shapes: [[3, 2, 9, 13]], domain: 'distinct' },
  // Rows of a multiple of 4 run the four-per-invocation backward; an odd height leaves a last row of zeros.
  { op: 'maxPool2x2', shapes: [[2, 3, 5, 8]], domain: 'distinct' },
  { op: 'maxPool2x2', shapes: [[1, 2, 6, 12]], domain: 'distinct' },
  bceJaccardCase([2, 1, 7, 13], 1, 1, 'binary'),
  bceJaccardCase([1, 1, 5, 5], 0.7, 0.3, 'unit'),
  bceJaccardCase([3, 1, 64, 33], 1, 1, 'binary'),
  { op: 'reshape', shapes: [[2, 3, 4]], attrs: { shape: [6, -1] } },
  {
    op: 'concat',
    shapes: [
      [2, 3, 4, 5],
      [2, 1, 4, 5],
      [2, 2, 4, 5],
    ],
    attrs: { axis: 1 },
  },
  {
    op: 'concat',
    shapes: [
      [3, 2],
      [5, 2],
    ],
    attrs: { axis: 0 },
  },
  {
    op: 'concat',
    shapes: [
      [1, 7, 3, 1],
      [1, 7, 3, 2],
    ],
    attrs: { axis: -1 },
  },
];

/** BCE − log Jaccard on logits and targets of one shape; targets are 0/1 labels ('binary') or soft ('unit'). */
function bceJaccardCase(shape: number[], bceWeight: number, jaccardWeight: number, targets: Domain): OpCase {
  return {
    op: 'bceJaccardLoss',
    shapes: [shape, shape],
    attrs: { bceWeight, jaccardWeight },
    domain: ['any', targets],
  };
}

/**
 * Convolution cases: odd, tiny and non-square sizes, channels not multiples of 4, concatenated inputs.
 * Tolerance: a float32 sum of K = Cin·k² products of magnitude ≤ 1 rounds by at most ~K·2^-24 per partial sum,
 * whose magnitude grows like √K for random data: atol = 4·K^1.5·2^-24.
 */
function convCases(op: string, k: number): OpCase[] {
  // [N, channels of each concatenated input segment, H, W, Cout, bias, relu]
  const configs: [number, number[], number, number, number, boolean, boolean][] = [
    [2, [3], 7, 13, 5, true, false],
    [1, [17], 5, 5, 4, true, true],
    [1, [3], 1, 1, 2, false, true],
    [3, [5], 4, 3, 17, true, true],
    [2, [3, 2], 6, 5, 6, true, true],
    [1, [4, 1, 3], 3, 7, 3, true, false],
    // Widths that are multiples of 4 take the vec4 paths of the subgroup kernels (with and without the strip
    // halo fetch: 32 % Wq ≠ 0 for 12 and 40), several output blocks, split-K wgrad (few weights, many pixels).
    [1, [5], 12, 12, 7, true, true],
    [2, [8], 8, 40, 9, true, false],
    [1, [16], 4, 4, 24, false, true],
    [1, [3], 8, 16, 33, true, true],
    // Batches of small planes: the weight gradient takes several images per dispatch (strips run over images),
    // on the vec4 path (W % 4 = 0), the scalar one (odd W) and with two input segments.
    [3, [5], 4, 4, 20, true, true],
    [4, [3], 3, 5, 17, false, true],
    [3, [2, 3], 4, 8, 9, true, false],
    [1, [3, 5], 4, 8, 20, true, true],
    // Planes of ≥ 64² take the subgroup kernels' two-row blocks of 16 channels (smaller ones 8): odd H leaves the
    // last row pair half outside, a ragged W takes the scalar path.
    [1, [3, 2], 65, 64, 18, true, true],
    [1, [2], 63, 67, 5, false, false],
  ];
  return configs.map(([n, channels, h, w, cout, bias, relu]) => {
    const xs = channels.map((c) => [n, c, h, w]);
    const cin = channels.reduce((p, c) => p + c, 0);
    const K = cin * k * k;
    return {
      op,
      shapes: [...xs, [cout, cin, k, k], ...(bias ? [[cout]] : [])],
      attrs: op === 'conv1x1' ? { segments: xs.length, bias } : { segments: xs.length, bias, relu },
      domain: 'any' as Domain,
      atol: 4 * K ** 1.5 * 2 ** -24,
    };
  });
}

/**
 * [input shape, Cout, bias, relu] both transposed convolutions run: odd, 1×1 and non-square inputs, 17 channels.
 * A function, not a constant: CASES above calls the case builders while the module is still initialising.
 */
function transposedCommonConfigs(): [number[], number, boolean, boolean][] {
  return [
    [[2, 5, 3, 4], 3, true, false],
    [[1, 4, 1, 1], 6, true, true],
    [[1, 3, 5, 2], 5, false, true],
    [[2, 17, 3, 3], 4, true, true],
  ];
}

/** Transposed convolution cases: [N, Cin, H, W] -> Cout, odd and 1×1 inputs. K per output ≤ Cin·4 taps. */
function convTransposeCases(): OpCase[] {
  return transposedCases('convTranspose3x3s2', 3, [
    ...transposedCommonConfigs(),
    // Whole vec4 rows (W % 4 = 0), several output blocks, strips ending mid-row (W = 12, 40), many rows per strip.
    [[1, 20, 4, 8], 9, true, true],
    [[2, 6, 3, 12], 17, true, false],
    [[1, 9, 2, 40], 5, false, true],
    [[1, 33, 7, 4], 6, true, true],
    // More than 64 channels each way: the tiled GPU kernels' second channel tile (z > 0) of forward and dgrad.
    [[1, 70, 3, 5], 66, true, true],
  ]);
}

/**
 * 4×4 stride-2 transposed convolution cases: odd, 1×1 and non-square inputs, channels not multiples of 4 (the
 * kernels' channel blocks), several channel blocks. K per output ≤ Cin·4 taps.
 */
function convTranspose4x4Cases(): OpCase[] {
  return transposedCases('convTranspose4x4s2', 4, [...transposedCommonConfigs(), [[1, 9, 2, 7], 11, false, false]]);
}

/**
 * Cases of a k×k stride-2 transposed convolution from [input shape, Cout, bias, relu]. At stride 2 each output
 * reads at most ⌈k/2⌉² ≤ 4 taps per input channel, so K ≤ Cin·4 for both kernel sizes.
 */
function transposedCases(op: string, k: number, configs: [number[], number, boolean, boolean][]): OpCase[] {
  return configs.map(([x, cout, bias, relu]) => {
    const K = x[1]! * 4;
    return {
      op,
      shapes: [x, [x[1]!, cout, k, k], ...(bias ? [[cout]] : [])],
      attrs: { bias, relu },
      atol: 4 * K ** 1.5 * 2 ** -24,
    };
  });
}

/** FD check of the reference: d/dx_i Σ gy·f(x) by central differences, at a sample of elements. */
function finiteDifferenceCheck(
  forward: (inputs: readonly RefTensor[]) => RefTensor,
  inputs: RefTensor[],
  gy: RefTensor,
  analytic: readonly (RefTensor | null)[],
  rng: Rng,
  what: string,
): void {
  const h = 1e-6;
  const objective = () => {
    const y = forward(inputs);
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += y.data[i]! * gy.data[i]!;
    return s;
  };
  const base = objective();
  inputs.forEach((x, k) => {
    const g = analytic[k];
    if (!g) return;
    const samples = Math.min(x.data.length, 12);
    let kinks = 0;
    for (let s = 0; s < samples; s++) {
      const i = x.data.length <= 12 ? s : rng.int(x.data.length);
      const keep = x.data[i]!;
      x.data[i] = keep + h;
      const up = objective();
      x.data[i] = keep - h;
      const down = objective();
      x.data[i] = keep;
      const fd = (up - down) / (2 * h);
      // A ReLU (or max) switching inside [x − h, x + h] makes the one-sided slopes differ by a finite jump,
      // where a smooth function's differ by O(h·f''): no derivative to check there, so the sample is skipped
      // (a handful at most; more would mean the check checks nothing).
      if (Math.abs((up - base) / h - (base - down) / h) > 1e-3 * (1 + Math.abs(fd))) {
        if (++kinks > samples / 4) throw new Error(`${what}: input ${k}: ${kinks} of ${samples} samples at kinks`);
        continue;
      }
      const err = Math.abs(fd - g.data[i]!);
      // Central differences in float64: truncation O(h²) and rounding O(ε·|f|/h).
      const bound = 1e-6 * (1 + Math.abs(fd)) + (1e-15 * Math.abs(base)) / h;
      if (!(err <= bound)) {
        throw new Error(`${what}: input ${k} element ${i}: reference grad ${g.data[i]} vs finite difference ${fd}`);
      }
    }
  });
}

describe(`ops vs float64 reference (TEST_SEED=${SEED})`, () => {
  const device = useTestDevice();

  it('every registered op has test cases here', () => {
    const covered = new Set(CASES.map((c) => c.op));
    const missing = [...registeredOps().keys()].filter((name) => !covered.has(name));
    expect(missing).toEqual([]);
  });

  it('every kernel pass has a runnable variant here; the table says why the others cannot run', () => {
    const rows = describeVariants(device());
    console.log(
      `kernel variants on ${device().adapterName} (subgroups: ${JSON.stringify(device().subgroupSizes)}):\n` +
        rows
          .map((r) => `  ${r.family}.${r.pass} ${r.variant}${r.isDefault ? ' (default)' : ''}: ${r.problem ?? 'runs'}`)
          .join('\n'),
    );
    for (const family of new Set(rows.map((r) => r.family))) {
      for (const pass of new Set(rows.map((r) => r.pass))) {
        const here = rows.filter((r) => r.family === family && r.pass === pass);
        expect(here.filter((r) => r.problem === null).length, `${family}.${pass}`).toBeGreaterThan(0);
        expect(here.filter((r) => r.isDefault).length, `${family}.${pass}`).toBe(1);
      }
    }
  });

  // Ops whose kernels come in per-adapter variants run every case under every row of the variant table
  // (variants.ts) that this adapter can run; a subgroup row runs once per lane count it is generated for
  // (natively where the adapter has that many lanes, else emulated, see emulatedLanes). What cannot run is
  // skipped with the reason in the report, never passed silently.
  const runs = CASES.flatMap((c, index) => variantRuns(c.op).map((variant) => ({ c, index, variant })));
  const fdChecked = new Set<number>();
  runs.forEach(({ c, index, variant }) => {
    const lanes = variant?.lanes ? `, ${variant.lanes} lanes` : '';
    const label = `${c.op}${variant ? `[${variant.family}=${variant.name}${lanes}]` : ''} ${c.shapes.map((s) => `[${s}]`).join(' ')} ${c.attrs ? JSON.stringify(c.attrs) : ''}`;
    it(label, async (test) => {
      device().variantOverrides = variant ? { [variant.family]: variant.name } : {};
      let dev: Device = device();
      if (variant) {
        const problem = await variantRunProblem(dev, variant);
        if (problem) {
          console.log(`skipped ${label}: ${problem}`);
          test.skip(problem);
          return;
        }
        if (variant.lanes && variant.lanes !== dev.subgroupSizes?.min) dev = emulatedLanes(dev, variant.lanes);
      }
      const toGpu = (r: RefTensor, requiresGrad = false) =>
        tensor(Float32Array.from(r.data), r.shape, { requiresGrad, device: dev });
      const op = registeredOps().get(c.op);
      if (!op) throw new Error(`no op ${c.op}`);
      const rng = new Rng(SEED + index * 7919);
      const domains: Domain[] = Array.isArray(c.domain) ? c.domain : c.shapes.map(() => (c.domain as Domain) ?? 'any');
      const refs = c.shapes.map((s, k) => randomRef(s, rng, domains[k] ?? 'any'));
      const attrs = (c.attrs ?? {}) as never;
      const expected = op.reference.forward(refs, attrs);
      const gyRef = randomRef(expected.shape, rng);
      const expectedGrads = op.reference.backward(refs, attrs, gyRef);
      const what = `${c.op} (TEST_SEED=${SEED})`;

      const inputs = refs.map((r) => toGpu(r, true));
      const out = tidy(() => op.apply(inputs, attrs));
      expect(out.shape).toEqual(expected.shape);
      const sumAbs = refs.reduce((p, r) => p + r.data.reduce((q, v) => q + Math.abs(v), 0), 0);
      const reduceTerms = refs[0]!.data.length / Math.max(1, expected.data.length);
      // A variant may round more than a plain sum (Winograd F(4×4, 3×3): its row's errorGrowth says how much),
      // still far below a wrong tap's O(1).
      const scale = variant ? variantErrorGrowth(variant.family, variant.name) : 1;
      const atol = scale * (c.atol ?? Math.max(1e-6, reduceTerms > 1 ? sumAbs * reduceTerms * 2 ** -24 : 0));
      const rtol = scale * (c.rtol ?? 2e-5);
      expectClose((await toRef(out)).data, expected.data, { atol, rtol }, `${what} forward`);

      out.backward(toGpu(gyRef));
      for (let k = 0; k < inputs.length; k++) {
        const g = expectedGrads[k];
        if (!g) continue;
        const grad = inputs[k]!.grad;
        if (!grad) throw new Error(`${what}: input ${k} got no gradient`);
        expect(grad.shape).toEqual([...g.shape]);
        const gAbs = gyRef.data.reduce((p, v) => p + Math.abs(v), 0);
        const gradAtol = scale * Math.max(1e-6, (gAbs * 2 ** -22 * gyRef.data.length) / Math.max(1, g.data.length));
        expectClose(
          (await toRef(grad)).data,
          g.data,
          { atol: gradAtol, rtol: scale * 5e-5 },
          `${what} grad of input ${k}`,
        );
      }
      // The check is of the float64 reference alone (same data under every variant of a case): once per case.
      if (!fdChecked.has(index)) {
        finiteDifferenceCheck((xs) => op.reference.forward(xs, attrs), refs, gyRef, expectedGrads, rng, what);
        fdChecked.add(index);
      }
      out.dispose();
      for (const t of inputs) t.dispose();
    });
  });
});

interface VariantRun {
  family: KernelFamily;
  name: string;
  /** For rows generated per subgroup lane count: the lane count of this run. */
  lanes?: number;
}

/** The runs of an op's cases: one per row name of its family in the variant table (per lane count). */
function variantRuns(op: string): (VariantRun | null)[] {
  if (!variantRows().some((row) => row.family === op)) return [null];
  const family = op as KernelFamily;
  const runs = new Map<string, VariantRun>();
  for (const row of variantRows(family)) {
    for (const lanes of row.requires.subgroupSizes ?? [undefined]) {
      runs.set(`${row.name}/${lanes}`, { family, name: row.name, ...(lanes ? { lanes } : {}) });
    }
  }
  return [...runs.values()];
}

/** Why this run cannot happen on this device, or null. */
async function variantRunProblem(device: Device, run: VariantRun): Promise<string | null> {
  let ctx: KernelContext = device;
  if (run.lanes) {
    const sizes = device.subgroupSizes;
    if (!device.features.has('subgroups')) return "no 'subgroups' feature";
    if (!sizes || sizes.min !== sizes.max) return `subgroup sizes ${JSON.stringify(sizes)} are not fixed`;
    if (run.lanes > sizes.min) return `${run.lanes} lanes cannot be emulated on ${sizes.min}-lane subgroups`;
    if (run.lanes < sizes.min) {
      const packing = await subgroupPackingProblem(device, run.lanes);
      if (packing) return `cannot emulate ${run.lanes} lanes: ${packing}`;
      ctx = emulatedLanes(device, run.lanes);
    }
  }
  for (const row of variantRows(run.family).filter((r) => r.name === run.name)) {
    const problem = variantProblem(ctx, row);
    if (problem) return `${row.family}.${row.pass} ${row.name} ${problem}`;
  }
  return null;
}

/**
 * The test device as a KernelContext whose subgroups have `lanes` lanes, to run kernels generated for fewer
 * lanes than the adapter has (4-lane kernels, as SwiftShader needs them, on lavapipe's 8). That is right only
 * where a workgroup of `lanes` invocations is one subgroup with lane ids 0..lanes−1 (lavapipe packs it so):
 * `subgroupPackingProblem` checks exactly that with a probe shader first.
 */
function emulatedLanes(device: Device, lanes: number): Device {
  const sizes = { min: lanes, max: lanes };
  return new Proxy(device, {
    get(target, prop) {
      if (prop === 'subgroupSizes') return sizes;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const packingChecked = new Map<number, string | null>();
async function subgroupPackingProblem(device: Device, lanes: number): Promise<string | null> {
  const known = packingChecked.get(lanes);
  if (known !== undefined) return known;
  const groups = 16;
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(${lanes})
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>,
        @builtin(subgroup_invocation_id) sl: u32) {
  let i = (g.x * ${lanes}u + l) * 4u;
  o[i] = sl;
  o[i + 1u] = subgroupAdd(1u);
  o[i + 2u] = subgroupShuffle(l * 10u, (sl + 1u) & ${lanes - 1}u);
  o[i + 3u] = subgroupBroadcast(l * 10u, ${lanes - 1}u);
}`;
  const n = groups * lanes * 4;
  const buf = device.device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  device.dispatch({
    label: 'subgroup packing probe',
    pipeline: device.pipeline(code, 'subgroup packing probe'),
    bindings: [{ buffer: buf, offset: 0, size: n * 4 }],
    workgroups: [groups],
  });
  const o = new Uint32Array(await device.read({ buffer: buf, offset: 0, size: n * 4 }));
  buf.destroy();
  let problem: string | null = null;
  for (let k = 0; k < groups * lanes && !problem; k++) {
    const l = k % lanes;
    const got = [o[4 * k], o[4 * k + 1], o[4 * k + 2], o[4 * k + 3]];
    const want = [l, lanes, ((l + 1) % lanes) * 10, (lanes - 1) * 10];
    if (got.some((v, i) => v !== want[i])) {
      problem = `invocation ${l} of a ${lanes}-invocation workgroup saw (lane, subgroupAdd(1), shuffle, broadcast) = (${got}), expected (${want})`;
    }
  }
  packingChecked.set(lanes, problem);
  return problem;
}
