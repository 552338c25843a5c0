/**
 * `bench kernels`: every kernel at every UNet11 (or UNet16) layer shape — forward, dgrad, wgrad of the convolutions,
 * max-pool forward/backward, the fused loss and the fused Adam step — timed on the GPU, with GFLOP/s, GB/s and
 * the fraction of the adapter's measured ceiling.
 */
import {
  adamUpdate,
  bceJaccardBackward,
  bceJaccardForward,
  conv1x1Dgrad,
  conv1x1Forward,
  conv1x1Wgrad,
  conv3x3Dgrad,
  conv3x3Forward,
  conv3x3Wgrad,
  convTranspose3x3s2Dgrad,
  convTranspose3x3s2Forward,
  convTranspose3x3s2Wgrad,
  convTranspose4x4s2Dgrad,
  convTranspose4x4s2Forward,
  convTranspose4x4s2Wgrad,
  maxPool2x2Backward,
  maxPool2x2Forward,
  upsampleBilinear2xBackward,
  upsampleBilinear2xForward,
} from '@ternausnet/kernels-wgsl';
import type { Architecture } from '@ternausnet/model';
import { type Device, rand, type Tensor } from '@ternausnet/tensor';
import { cin, type LayerShape, layerBytes, layerFlops, parameterSizes, unet11Layers, unet16Layers } from './layers.ts';
import { type Timing, timeKernel } from './timing.ts';

export interface KernelRow {
  layer: string;
  kernel: string;
  shape: string;
  flops: number;
  bytes: number;
  timing: Timing;
  gflops: number;
  gbps: number;
}

export interface KernelBenchOptions {
  size: number;
  batch: number;
  runs: number;
  warmup: number;
  /** Only layers/kernels whose name contains this. */
  filter?: string;
  /** The model whose layers are timed (default UNet11). */
  model?: Architecture;
}

/** The layer list of the benchmarked model. */
export function modelLayers(size: number, batch: number, model?: Architecture): LayerShape[] {
  return model?.model === 'unet16'
    ? unet16Layers(size, batch, model.numFilters, model.deconv)
    : unet11Layers(size, batch);
}

/** The two stride-2 transposed convolutions take the same arguments; they differ in K and their kernels. */
const CONV_TRANSPOSE_KERNELS = {
  convTranspose3x3s2: {
    K: 3,
    forward: convTranspose3x3s2Forward,
    dgrad: convTranspose3x3s2Dgrad,
    wgrad: convTranspose3x3s2Wgrad,
  },
  convTranspose4x4s2: {
    K: 4,
    forward: convTranspose4x4s2Forward,
    dgrad: convTranspose4x4s2Dgrad,
    wgrad: convTranspose4x4s2Wgrad,
  },
} as const;

/** A row with its rates: GFLOP/s and GB/s at the median time. */
function kernelRow(
  layer: string,
  kernel: string,
  shape: string,
  flops: number,
  bytes: number,
  timing: Timing,
): KernelRow {
  return {
    layer,
    kernel,
    shape,
    flops,
    bytes,
    timing,
    gflops: flops / timing.median / 1e6,
    gbps: bytes / timing.median / 1e6,
  };
}

let seed = 1;
const r = (shape: number[]) => rand(shape, { seed: seed++, low: -1, high: 1 });

/** The passes of one layer, each an encode function over freshly allocated random operands. */
function layerPasses(
  device: Device,
  l: LayerShape,
): { kernel: string; encode: () => void; pass: 'forward' | 'dgrad' | 'wgrad' | 'backward'; tensors: Tensor[] }[] {
  const { batch: N, height: H, width: W, cout } = l;
  const C = cin(l);
  if (l.kind === 'conv3x3') {
    const xs = l.segments.map((c) => r([N, c, H, W]));
    const w = r([cout, C, 3, 3]);
    const b = r([cout]);
    const y = r([N, cout, H, W]);
    const gxs = l.segments.map((c) => r([N, c, H, W]));
    const gw = r([cout, C, 3, 3]);
    const seg = (ts: Tensor[]) => ts.map((t, i) => ({ range: t.rangeFor('bench'), channels: l.segments[i]! }));
    const dims = { batch: N, height: H, width: W, outChannels: cout };
    const tensors = [...xs, w, b, y, ...gxs, gw];
    return [
      {
        kernel: 'conv3x3Forward',
        pass: 'forward',
        tensors,
        encode: () =>
          conv3x3Forward(device, {
            ...dims,
            input: seg(xs),
            weight: w.rangeFor(''),
            bias: b.rangeFor(''),
            out: y.rangeFor(''),
            relu: true,
          }),
      },
      {
        kernel: 'conv3x3Dgrad',
        pass: 'dgrad',
        tensors: [],
        encode: () =>
          conv3x3Dgrad(device, { ...dims, gradOut: y.rangeFor(''), weight: w.rangeFor(''), gradInput: seg(gxs) }),
      },
      {
        kernel: 'conv3x3Wgrad',
        pass: 'wgrad',
        tensors: [],
        encode: () =>
          conv3x3Wgrad(device, { ...dims, input: seg(xs), gradOut: y.rangeFor(''), gradWeight: gw.rangeFor('') }),
      },
    ];
  }
  if (l.kind === 'convTranspose3x3s2' || l.kind === 'convTranspose4x4s2') {
    const { K, forward, dgrad, wgrad } = CONV_TRANSPOSE_KERNELS[l.kind];
    const x = r([N, C, H, W]);
    const w = r([C, cout, K, K]);
    const b = r([cout]);
    const y = r([N, cout, 2 * H, 2 * W]);
    const gx = r([N, C, H, W]);
    const gw = r([C, cout, K, K]);
    const dims = { batch: N, inChannels: C, outChannels: cout, height: H, width: W };
    return [
      {
        kernel: `${l.kind}Forward`,
        pass: 'forward',
        tensors: [x, w, b, y, gx, gw],
        encode: () =>
          forward(device, {
            ...dims,
            input: x.rangeFor(''),
            weight: w.rangeFor(''),
            bias: b.rangeFor(''),
            out: y.rangeFor(''),
            relu: true,
          }),
      },
      {
        kernel: `${l.kind}Dgrad`,
        pass: 'dgrad',
        tensors: [],
        encode: () =>
          dgrad(device, { ...dims, gradOut: y.rangeFor(''), weight: w.rangeFor(''), gradInput: gx.rangeFor('') }),
      },
      {
        kernel: `${l.kind}Wgrad`,
        pass: 'wgrad',
        tensors: [],
        encode: () =>
          wgrad(device, { ...dims, input: x.rangeFor(''), gradOut: y.rangeFor(''), gradWeight: gw.rangeFor('') }),
      },
    ];
  }
  if (l.kind === 'upsampleBilinear2x') {
    const x = r([N, C, H, W]);
    const y = r([N, C, 2 * H, 2 * W]);
    const gx = r([N, C, H, W]);
    const dims = { planes: N * C, height: H, width: W };
    return [
      {
        kernel: 'upsampleBilinear2xForward',
        pass: 'forward',
        tensors: [x, y, gx],
        encode: () => upsampleBilinear2xForward(device, { ...dims, input: x.rangeFor(''), out: y.rangeFor('') }),
      },
      {
        kernel: 'upsampleBilinear2xBackward',
        pass: 'backward',
        tensors: [],
        encode: () =>
          upsampleBilinear2xBackward(device, { ...dims, gradOut: y.rangeFor(''), gradInput: gx.rangeFor('') }),
      },
    ];
  }
  if (l.kind === 'maxPool2x2') {
    const x = r([N, C, H, W]);
    const y = r([N, C, H / 2, W / 2]);
    const arg = r([N, C, H / 2, W / 2]);
    const gx = r([N, C, H, W]);
    const dims = { planes: N * C, height: H, width: W };
    return [
      {
        kernel: 'maxPool2x2Forward',
        pass: 'forward',
        tensors: [x, y, arg, gx],
        encode: () =>
          maxPool2x2Forward(device, { ...dims, input: x.rangeFor(''), out: y.rangeFor(''), argmax: arg.rangeFor('') }),
      },
      {
        kernel: 'maxPool2x2Backward',
        pass: 'backward',
        tensors: [],
        encode: () => {
          maxPool2x2Forward(device, { ...dims, input: x.rangeFor(''), out: y.rangeFor(''), argmax: arg.rangeFor('') });
          maxPool2x2Backward(device, {
            ...dims,
            gradOut: y.rangeFor(''),
            argmax: arg.rangeFor(''),
            gradInput: gx.rangeFor(''),
          });
        },
      },
    ];
  }
  const x = r([N, C, H, W]);
  const w = r([cout, C, 1, 1]);
  const b = r([cout]);
  const y = r([N, cout, H, W]);
  const gx = r([N, C, H, W]);
  const gw = r([cout, C, 1, 1]);
  const dims = { batch: N, inChannels: C, outChannels: cout, pixels: H * W };
  return [
    {
      kernel: 'conv1x1Forward',
      pass: 'forward',
      tensors: [x, w, b, y, gx, gw],
      encode: () =>
        conv1x1Forward(device, {
          ...dims,
          input: x.rangeFor(''),
          weight: w.rangeFor(''),
          bias: b.rangeFor(''),
          out: y.rangeFor(''),
        }),
    },
    {
      kernel: 'conv1x1Dgrad',
      pass: 'dgrad',
      tensors: [],
      encode: () =>
        conv1x1Dgrad(device, { ...dims, gradOut: y.rangeFor(''), weight: w.rangeFor(''), gradInput: gx.rangeFor('') }),
    },
    {
      kernel: 'conv1x1Wgrad',
      pass: 'wgrad',
      tensors: [],
      encode: () =>
        conv1x1Wgrad(device, { ...dims, input: x.rangeFor(''), gradOut: y.rangeFor(''), gradWeight: gw.rangeFor('') }),
    },
  ];
}

export async function benchKernels(device: Device, o: KernelBenchOptions): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  const want = (s: string) => !o.filter || s.includes(o.filter);
  for (const l of modelLayers(o.size, o.batch, o.model)) {
    const passes = layerPasses(device, l);
    const shape = `${l.batch}x[${l.segments.join('+')}]x${l.height}x${l.width}->${l.cout}`;
    for (const p of passes) {
      if (!want(l.name) && !want(p.kernel)) continue;
      const timing = await timeKernel(device, p.encode, o.runs, o.warmup);
      const flops = p.kernel === 'maxPool2x2Backward' ? 2 * layerFlops(l) : layerFlops(l);
      rows.push(kernelRow(l.name, p.kernel, shape, flops, layerBytes(l, p.pass), timing));
    }
    for (const p of passes) for (const t of p.tensors) t.dispose();
  }
  // The loss over the batch's logits and the Adam step over all 22.9 M parameters.
  const px = o.batch * o.size * o.size;
  if (want('loss') || want('bceJaccard')) {
    const z = r([px]);
    const t = rand([px], { seed: seed++ });
    const stats = r([5]);
    const gl = r([1]);
    const gz = r([px]);
    const timing = await timeKernel(
      device,
      () => {
        const a = {
          logits: z.rangeFor(''),
          target: t.rangeFor(''),
          count: px,
          stats: stats.rangeFor(''),
          bceWeight: 1,
          jaccardWeight: 1,
        };
        bceJaccardForward(device, a);
        bceJaccardBackward(device, { ...a, gradLoss: gl.rangeFor(''), gradLogits: gz.rangeFor('') });
      },
      o.runs,
      o.warmup,
    );
    rows.push(kernelRow('loss', 'bceJaccard fwd+bwd', `${px}px`, 40 * px, 4 * px * 5, timing));
    for (const x of [z, t, stats, gl, gz]) x.dispose();
  }
  if (want('adam')) {
    // Adam's arena: the model's parameters (UNet11: 22 927 393), each tensor padded to 64 floats as the optimizer
    // lays them.
    const n = parameterSizes(modelLayers(o.size, 1, o.model)).reduce((s, k) => s + Math.ceil(k / 64) * 64, 0);
    const [p, g, m, v] = [0, 1, 2, 3].map(() => r([n])) as [Tensor, Tensor, Tensor, Tensor];
    let step = 0;
    const timing = await timeKernel(
      device,
      () =>
        adamUpdate(device, {
          params: p.rangeFor(''),
          grads: g.rangeFor(''),
          m: m.rangeFor(''),
          v: v.rangeFor(''),
          count: n,
          lr: 1e-3,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
          step: ++step,
        }),
      o.runs,
      o.warmup,
    );
    rows.push(kernelRow('optimizer', 'adam', `${n} floats`, 12 * n, 4 * n * 7, timing));
    for (const x of [p, g, m, v]) x.dispose();
  }
  return rows;
}
