/**
 * Tensors larger than one storage binding (maxStorageBufferBindingSize: 128 MiB on lavapipe, 1–4 GiB on GPUs):
 * the kernels must split the work by image and channel range, never fail silently. The device here is told
 * to plan for 256 KiB bindings (Device option `maxStorageBufferBindingSize`), so the split is tested on any
 * adapter, with tensors small enough to check every element against the ops' float64 references, under every
 * kernel variant this adapter can run.
 */
import { KernelLimitError, runnableVariants } from '@ternausnet/kernels-wgsl';
import {
  add,
  conv3x3,
  convTranspose3x3s2,
  type Device,
  initDevice,
  maxPool2x2,
  type RefTensor,
  Rng,
  registeredOps,
  sum,
  type Tensor,
  tensor,
  tidy,
} from '@ternausnet/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, randomRef } from '../../../test/support/gpu.ts';

const BINDING = 256 * 1024;
const FLOATS = BINDING / 4;

describe(`tensors over the binding limit (limit injected: ${BINDING / 1024} KiB)`, () => {
  let device: Device | null = null;
  beforeAll(async () => {
    device = await initDevice({ poison: true, maxStorageBufferBindingSize: BINDING });
  });
  afterAll(async () => {
    await device?.destroy();
  });
  const dev = () => device!;
  const gpu = (r: RefTensor, requiresGrad = false) =>
    tensor(Float32Array.from(r.data), r.shape, { requiresGrad, device: dev() });
  const ref = async (t: Tensor): Promise<RefTensor> => ({
    shape: [...t.shape],
    data: Float64Array.from(await t.toArray()),
  });
  const variantsOf = (family: string) => {
    const names = runnableVariants(dev())
      .filter((v) => v.family === family)
      .map((v) => v.variant);
    console.log(`${family}: split checked under ${names.join(', ')} on ${dev().adapterName}`);
    expect(names.length).toBeGreaterThan(0);
    return names;
  };

  /**
   * A convolution's float64 operands, drawn from one seed in a fixed order: the input, the weights (|w| ≤ wScale,
   * keeping the float32 sums small), then one tensor of each shape in `more` (bias, output gradient) at scale 1.
   */
  const convOperands = <More extends number[][]>(
    seed: number,
    x: number[],
    w: number[],
    wScale: number,
    ...more: More
  ) => {
    const rng = new Rng(seed);
    const xr = randomRef(x, rng);
    const wr = randomRef(w, rng, 'any', wScale);
    const rest = more.map((shape) => randomRef(shape, rng)) as { [K in keyof More]: RefTensor };
    return [xr, wr, ...rest] as const;
  };

  it('the kernels plan for the injected limit; a plane larger than one binding is a clear error', () => {
    expect(dev().limits.maxStorageBufferBindingSize).toBe(BINDING);
    const x = tensor(new Float32Array(300 * 300).fill(1), [1, 1, 300, 300], { device: dev() });
    const w = tensor(new Float32Array(9).fill(1), [1, 1, 3, 3], { device: dev() });
    let error: unknown = null;
    try {
      tidy(() => conv3x3(x, w, null));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelLimitError);
    expect(String(error)).toMatch(/one channel plane of 90000 floats .*exceeds .*0\.25 MiB.*predict's --tile/);
    x.dispose();
    w.dispose();
  });

  it('conv3x3 (forward, dgrad, wgrad), max-pool and elementwise ops split input, output and gradients', async () => {
    // [2, 24, 45, 67]: 72 360 floats per image > 65 536 per binding, as are the output and both gradients.
    const [N, C, H, W, Co] = [2, 24, 45, 67, 24];
    expect(C * H * W).toBeGreaterThan(FLOATS);
    const [xr, wr, br, gr] = convOperands(7, [N, C, H, W], [Co, C, 3, 3], 0.1, [Co], [N, Co, H, W]);
    const conv = registeredOps().get('conv3x3')!.reference;
    const attrs = { segments: 1, bias: true, relu: false } as never;
    const yRef = conv.forward([xr, wr, br], attrs);
    const [gxRef, gwRef, gbRef] = conv.backward([xr, wr, br], attrs, gr);
    // K = 216 products per output (|x·w| ≤ 0.1), K = 216 per input gradient, N·H·W = 6030 per weight gradient.
    const atol = 4 * 216 ** 1.5 * 2 ** -24;
    for (const variant of variantsOf('conv3x3')) {
      dev().variantOverrides = { conv3x3: variant };
      const x = gpu(xr, true);
      const w = gpu(wr, true);
      const b = gpu(br, true);
      const y = tidy(() => conv3x3(x, w, b));
      y.backward(gpu(gr));
      const what = `conv3x3 ${variant}`;
      expectClose((await ref(y)).data, yRef.data, { atol, rtol: 2e-5 }, `${what} forward`);
      expectClose((await ref(x.grad!)).data, gxRef!.data, { atol, rtol: 5e-5 }, `${what} dgrad`);
      expectClose(
        (await ref(w.grad!)).data,
        gwRef!.data,
        { atol: 4 * 6030 ** 1.5 * 2 ** -24, rtol: 5e-5 },
        `${what} wgrad`,
      );
      expectClose((await ref(b.grad!)).data, gbRef!.data, { atol: 1e-3, rtol: 5e-5 }, `${what} bias grad`);
      for (const t of [x, w, b, y]) t.dispose();
    }
    dev().variantOverrides = {};

    const x = gpu(xr, true);
    const { pooled, doubled } = tidy(() => ({ pooled: maxPool2x2(x), doubled: add(x, x) }));
    const poolRef = registeredOps()
      .get('maxPool2x2')!
      .reference.forward([xr], {} as never);
    expect(Array.from(await pooled.toArray())).toEqual(Array.from(poolRef.data, Math.fround));
    const d = await doubled.toArray();
    expect(Array.from(d)).toEqual(Array.from(xr.data, (v) => 2 * v));
    // Backward through the pool: the gradient of Σ pool(x) is 1 at each window's maximum, 0 elsewhere.
    tidy(() => sum(maxPool2x2(x)).backward());
    const g = await x.grad!.toArray();
    expect(g.reduce((p, v) => p + v, 0)).toBe(N * C * Math.floor(H / 2) * Math.floor(W / 2));
    for (const t of [x, pooled, doubled]) t.dispose();
  });

  it('the transposed convolution splits its output and gradients (forward, ReLU and bias, dgrad, wgrad)', async () => {
    // [2, 6, 23, 34] -> [2, 24, 46, 68]: 75 072 floats per output image > 65 536 per binding (the ReLU and bias
    // gradient too runs an image and a channel block at a time).
    const [N, C, H, W, Co] = [2, 6, 23, 34, 24];
    expect(Co * 4 * H * W).toBeGreaterThan(FLOATS);
    const [xr, wr, br, gr] = convOperands(11, [N, C, H, W], [C, Co, 3, 3], 0.2, [Co], [N, Co, 2 * H, 2 * W]);
    const convT = registeredOps().get('convTranspose3x3s2')!.reference;
    const attrs = { bias: true, relu: true } as never;
    const yRef = convT.forward([xr, wr, br], attrs);
    const [gxRef, gwRef, gbRef] = convT.backward([xr, wr, br], attrs, gr);
    for (const variant of variantsOf('convTranspose3x3s2')) {
      dev().variantOverrides = { convTranspose3x3s2: variant };
      const x = gpu(xr, true);
      const w = gpu(wr, true);
      const b = gpu(br, true);
      const y = tidy(() => convTranspose3x3s2(x, w, b, { relu: true }));
      y.backward(gpu(gr));
      const what = `convTranspose3x3s2 ${variant}`;
      // Forward: ≤ 24 products per output; dgrad: 216 per input pixel; wgrad: N·H·W = 1564 per weight.
      expectClose((await ref(y)).data, yRef.data, { atol: 1e-5, rtol: 2e-5 }, `${what} forward`);
      expectClose(
        (await ref(x.grad!)).data,
        gxRef!.data,
        { atol: 4 * 216 ** 1.5 * 2 ** -24, rtol: 5e-5 },
        `${what} dgrad`,
      );
      expectClose(
        (await ref(w.grad!)).data,
        gwRef!.data,
        { atol: 4 * 1564 ** 1.5 * 2 ** -24, rtol: 5e-5 },
        `${what} wgrad`,
      );
      // N·4·H·W = 6256 gradient terms per bias element.
      expectClose((await ref(b.grad!)).data, gbRef!.data, { atol: 1e-3, rtol: 5e-5 }, `${what} bias grad`);
      for (const t of [x, w, b, y]) t.dispose();
    }
    dev().variantOverrides = {};
  });

  it('the transposed convolution splits its input channels, bias on the first chunk and ReLU on the last', async () => {
    // [1, 40, 40, 42]: 67 200 input floats > 65 536 per binding, so the reduction runs in two channel chunks.
    const [N, C, H, W, Co] = [1, 40, 40, 42, 3];
    expect(C * H * W).toBeGreaterThan(FLOATS);
    const [xr, wr, br] = convOperands(12, [N, C, H, W], [C, Co, 3, 3], 0.2, [Co]);
    const attrs = { bias: true, relu: true } as never;
    const yRef = registeredOps().get('convTranspose3x3s2')!.reference.forward([xr, wr, br], attrs);
    for (const variant of variantsOf('convTranspose3x3s2')) {
      dev().variantOverrides = { convTranspose3x3s2: variant };
      const [x, w, b] = [gpu(xr), gpu(wr), gpu(br)];
      const y = tidy(() => convTranspose3x3s2(x, w, b, { relu: true }));
      // ≤ 4 taps × 40 channels + bias per output.
      expectClose((await ref(y)).data, yRef.data, { atol: 1e-5, rtol: 2e-5 }, `convTranspose3x3s2 ${variant} forward`);
      for (const t of [x, w, b, y]) t.dispose();
    }
    dev().variantOverrides = {};
  });
});
