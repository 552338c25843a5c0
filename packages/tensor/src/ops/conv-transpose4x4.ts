/**
 * convTranspose4x4s2: PyTorch `ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1)` (TernausNet's
 * UNet16 decoder with `is_deconv=True`), weight [Cin, Cout, 4, 4], [N, Cin, H, W] -> [N, Cout, 2H, 2W], with an
 * optional fused ReLU.
 */
import {
  convTranspose4x4s2Dgrad,
  convTranspose4x4s2Forward,
  convTranspose4x4s2Wgrad,
  reduceSum,
} from '@ternausnet/kernels-wgsl';
import { record, WRITTEN_INTO } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import type { ConvOptions } from './conv3x3.ts';
import { mapTensors } from './elementwise.ts';
import { defineOp } from './registry.ts';
import { describeAll, deviceOf, output } from './util.ts';

interface Attrs {
  bias: boolean;
  relu: boolean;
}

const K = 4;

function check(xShape: readonly number[], wShape: readonly number[], bShape: readonly number[] | null, d: string) {
  if (xShape.length !== 4) throw new RangeError(`convTranspose4x4s2: input must be NCHW (4-D), got ${d}`);
  const [N, cin, H, W] = xShape as [number, number, number, number];
  if (wShape.length !== 4 || wShape[0] !== cin || wShape[2] !== K || wShape[3] !== K) {
    throw new RangeError(`convTranspose4x4s2: weight must be [${cin}, Cout, 4, 4] (PyTorch layout), got ${d}`);
  }
  const cout = wShape[1]!;
  if (bShape && (bShape.length !== 1 || bShape[0] !== cout)) {
    throw new RangeError(`convTranspose4x4s2: bias must be [${cout}], got ${d}`);
  }
  return { N, cin, H, W, cout };
}

const convT4Op = defineOp<Attrs>({
  name: 'convTranspose4x4s2',
  inputs: ['x', 'weight', 'bias?'],
  apply: (inputs, attrs) => {
    const [x, w] = inputs as [Tensor, Tensor];
    const b = attrs.bias ? inputs[2]! : null;
    const { N, cin, H, W, cout } = check(x.shape, w.shape, b?.shape ?? null, describeAll(inputs));
    const device = deviceOf('convTranspose4x4s2', inputs);
    const y = output(device, [N, cout, 2 * H, 2 * W], 'convTranspose4x4s2');
    const dims = { batch: N, inChannels: cin, outChannels: cout, height: H, width: W };
    convTranspose4x4s2Forward(device, {
      ...dims,
      input: x.rangeFor('convTranspose4x4s2'),
      weight: w.rangeFor('convTranspose4x4s2'),
      bias: b ? b.rangeFor('convTranspose4x4s2') : null,
      out: y.rangeFor('convTranspose4x4s2'),
      relu: attrs.relu,
    });
    return record(
      attrs.relu ? 'convTranspose4x4s2+relu' : 'convTranspose4x4s2',
      inputs,
      y,
      (gy, saved, into) => {
        const [sx, sw] = saved as [Tensor, Tensor];
        const g = attrs.relu ? mapTensors('reluBackward', [gy, saved[2]!], gy.shape) : gy;
        const gx = output(device, sx.shape, 'convTranspose4x4s2 dgrad');
        convTranspose4x4s2Dgrad(device, {
          ...dims,
          gradOut: g.rangeFor('convT4 dgrad'),
          weight: sw.rangeFor('convT4 dgrad'),
          gradInput: gx.rangeFor('convT4 dgrad'),
        });
        // Weight and bias gradients go straight into the leaves' gradient storage (the kernels add or overwrite).
        const intoW = into[1] ?? null;
        const gw = intoW?.tensor ?? output(device, sw.shape, 'convTranspose4x4s2 wgrad');
        convTranspose4x4s2Wgrad(device, {
          ...dims,
          input: sx.rangeFor('convT4 wgrad'),
          gradOut: g.rangeFor('convT4 wgrad'),
          gradWeight: gw.rangeFor('convT4 wgrad'),
          accumulate: intoW?.accumulate ?? false,
        });
        const grads: (Tensor | typeof WRITTEN_INTO)[] = [gx, intoW ? WRITTEN_INTO : gw];
        if (attrs.bias) {
          const intoB = into[2] ?? null;
          const gb = intoB?.tensor ?? output(device, [cout], 'convTranspose4x4s2 bias grad');
          reduceSum(device, {
            input: g.rangeFor('convT4 bias'),
            inShape: g.shape,
            axes: [0, 2, 3],
            out: gb.rangeFor('convT4 bias'),
            accumulate: intoB?.accumulate ?? false,
          });
          grads.push(intoB ? WRITTEN_INTO : gb);
        }
        if (g !== gy) g.dispose();
        return grads;
      },
      attrs.relu ? [x, w, y] : [x, w],
    );
  },
  reference: {
    forward: (inputs, attrs) => refConvT4(inputs, attrs).y,
    backward: (inputs, attrs, gy) => {
      const { y, x, w, N, cin, H, W, cout } = refConvT4(inputs, attrs);
      const g = refTensor(gy.shape, gy.data);
      if (attrs.relu) for (let i = 0; i < g.data.length; i++) if (!(y.data[i]! > 0)) g.data[i] = 0;
      const gx = refTensor(x.shape);
      const gw = refTensor(w.shape);
      const gb = refTensor([cout]);
      const hwo = 4 * H * W;
      for (let n = 0; n < N; n++)
        for (let co = 0; co < cout; co++)
          for (let i = 0; i < hwo; i++) gb.data[co]! += g.data[(n * cout + co) * hwo + i]!;
      forEachTap(N, cin, cout, H, W, (xi, wi, yi) => {
        gx.data[xi]! += g.data[yi]! * w.data[wi]!;
        gw.data[wi]! += g.data[yi]! * x.data[xi]!;
      });
      return attrs.bias ? [gx, gw, gb] : [gx, gw];
    },
  },
});

/** Visit every (input, weight, output) index triple of the transposed convolution (PyTorch's definition). */
function forEachTap(
  N: number,
  cin: number,
  cout: number,
  H: number,
  W: number,
  f: (xi: number, wi: number, yi: number) => void,
) {
  const Ho = 2 * H;
  const Wo = 2 * W;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < cin; ci++)
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++)
          for (let co = 0; co < cout; co++)
            for (let ky = 0; ky < K; ky++) {
              const oy = 2 * iy - 1 + ky;
              if (oy < 0 || oy >= Ho) continue;
              for (let kx = 0; kx < K; kx++) {
                const ox = 2 * ix - 1 + kx;
                if (ox < 0 || ox >= Wo) continue;
                f(
                  ((n * cin + ci) * H + iy) * W + ix,
                  ((ci * cout + co) * K + ky) * K + kx,
                  ((n * cout + co) * Ho + oy) * Wo + ox,
                );
              }
            }
}

function refConvT4(inputs: readonly RefTensor[], attrs: Attrs) {
  const [x, w] = inputs as [RefTensor, RefTensor];
  const b = attrs.bias ? inputs[2]! : null;
  const { N, cin, H, W, cout } = check(x.shape, w.shape, b?.shape ?? null, 'reference');
  const y = refTensor([N, cout, 2 * H, 2 * W]);
  const hwo = 4 * H * W;
  if (b) for (let i = 0; i < y.data.length; i++) y.data[i] = b.data[Math.floor(i / hwo) % cout]!;
  forEachTap(N, cin, cout, H, W, (xi, wi, yi) => {
    y.data[yi]! += x.data[xi]! * w.data[wi]!;
  });
  if (attrs.relu) for (let i = 0; i < y.data.length; i++) y.data[i] = Math.max(0, y.data[i]!);
  return { y, x, w, N, cin, H, W, cout };
}

/**
 * Transposed 4×4 convolution with stride 2 and padding 1 (PyTorch semantics): doubles H and W. `weight` is
 * [Cin, Cout, 4, 4] as PyTorch stores ConvTranspose2d weights.
 */
export function convTranspose4x4s2(x: Tensor, weight: Tensor, bias: Tensor | null, options: ConvOptions = {}): Tensor {
  return convT4Op.apply(bias ? [x, weight, bias] : [x, weight], { bias: bias !== null, relu: options.relu ?? false });
}
