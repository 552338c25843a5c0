/**
 * The stride-2 transposed convolutions of TernausNet's decoders, both PyTorch `ConvTranspose2d` with weight
 * [Cin, Cout, K, K], [N, Cin, H, W] -> [N, Cout, 2H, 2W] and an optional fused ReLU:
 * - convTranspose3x3s2: `ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)` (UNet11);
 * - convTranspose4x4s2: `ConvTranspose2d(cin, cout, 4, stride=2, padding=1)` (UNet16 with `is_deconv=True`).
 * Both place input pixel (iy, ix) at output (2·iy − 1 + ky, 2·ix − 1 + kx), taps outside [0, 2H) × [0, 2W)
 * dropped, so one op definition serves both; only the kernels and K differ.
 */
import {
  convTranspose3x3s2Dgrad,
  convTranspose3x3s2Forward,
  convTranspose3x3s2Wgrad,
  convTranspose4x4s2Dgrad,
  convTranspose4x4s2Forward,
  convTranspose4x4s2Wgrad,
} from '@ternausnet/kernels-wgsl';
import { record, WRITTEN_INTO, willRecord } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import { type ConvOptions, refConvGradients } from './conv3x3.ts';
import { mapTensors } from './elementwise.ts';
import { defineOp } from './registry.ts';
import { convBiasGrad, describeAll, deviceOf, output } from './util.ts';

interface Attrs {
  bias: boolean;
  relu: boolean;
}

/** The three kernels of one transposed convolution (the 3×3 and 4×4 kernels take the same arguments). */
interface ConvTransposeKernels {
  readonly forward: typeof convTranspose3x3s2Forward;
  readonly dgrad: typeof convTranspose3x3s2Dgrad;
  readonly wgrad: typeof convTranspose3x3s2Wgrad;
}

/** The op `name`, a K×K transposed convolution with stride 2 and padding 1, as a function of (x, weight, bias). */
function defineConvTranspose(
  name: string,
  K: number,
  kernels: ConvTransposeKernels,
): (x: Tensor, weight: Tensor, bias: Tensor | null, options?: ConvOptions) => Tensor {
  function check(xShape: readonly number[], wShape: readonly number[], bShape: readonly number[] | null, d: string) {
    if (xShape.length !== 4) throw new RangeError(`${name}: input must be NCHW (4-D), got ${d}`);
    const [N, cin, H, W] = xShape as [number, number, number, number];
    if (wShape.length !== 4 || wShape[0] !== cin || wShape[2] !== K || wShape[3] !== K) {
      throw new RangeError(`${name}: weight must be [${cin}, Cout, ${K}, ${K}] (PyTorch layout), got ${d}`);
    }
    const cout = wShape[1]!;
    if (bShape && (bShape.length !== 1 || bShape[0] !== cout)) {
      throw new RangeError(`${name}: bias must be [${cout}], got ${d}`);
    }
    return { N, cin, H, W, cout };
  }

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

  function refConvT(inputs: readonly RefTensor[], attrs: Attrs) {
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

  const op = defineOp<Attrs>({
    name,
    inputs: ['x', 'weight', 'bias?'],
    apply: (inputs, attrs) => {
      const [x, w] = inputs as [Tensor, Tensor];
      const b = attrs.bias ? inputs[2]! : null;
      const { N, cin, H, W, cout } = check(x.shape, w.shape, b?.shape ?? null, describeAll(inputs));
      const device = deviceOf(name, inputs);
      const y = output(device, [N, cout, 2 * H, 2 * W], name);
      const dims = { batch: N, inChannels: cin, outChannels: cout, height: H, width: W };
      kernels.forward(device, {
        ...dims,
        input: x.rangeFor(name),
        weight: w.rangeFor(name),
        weightKey: w.contentKey(name),
        bias: b ? b.rangeFor(name) : null,
        out: y.rangeFor(name),
        relu: attrs.relu,
        inference: !willRecord(inputs),
      });
      return record(
        attrs.relu ? `${name}+relu` : name,
        inputs,
        y,
        (gy, saved, into) => {
          const [sx, sw] = saved as [Tensor, Tensor];
          const g = attrs.relu ? mapTensors('reluBackward', [gy, saved[2]!], gy.shape) : gy;
          const gx = output(device, sx.shape, `${name} dgrad`);
          kernels.dgrad(device, {
            ...dims,
            gradOut: g.rangeFor(`${name} dgrad`),
            weight: sw.rangeFor(`${name} dgrad`),
            weightKey: sw.contentKey(`${name} dgrad`),
            gradInput: gx.rangeFor(`${name} dgrad`),
          });
          // Weight and bias gradients go straight into the leaves' gradient storage (the kernels add or overwrite).
          const intoW = into[1] ?? null;
          const gw = intoW?.tensor ?? output(device, sw.shape, `${name} wgrad`);
          kernels.wgrad(device, {
            ...dims,
            input: sx.rangeFor(`${name} wgrad`),
            gradOut: g.rangeFor(`${name} wgrad`),
            gradWeight: gw.rangeFor(`${name} wgrad`),
            accumulate: intoW?.accumulate ?? false,
          });
          const grads: (Tensor | typeof WRITTEN_INTO)[] = [gx, intoW ? WRITTEN_INTO : gw];
          if (attrs.bias) grads.push(convBiasGrad(device, g, cout, into[2] ?? null, name));
          if (g !== gy) g.dispose();
          return grads;
        },
        attrs.relu ? [x, w, y] : [x, w],
      );
    },
    reference: {
      forward: (inputs, attrs) => refConvT(inputs, attrs).y,
      backward: (inputs, attrs, gy) => {
        const { y, x, w, N, cin, H, W, cout } = refConvT(inputs, attrs);
        const { g, gx, gw, gb } = refConvGradients(gy, y, attrs.relu, x, w, cout);
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

  return (x: Tensor, weight: Tensor, bias: Tensor | null, options: ConvOptions = {}): Tensor =>
    op.apply(bias ? [x, weight, bias] : [x, weight], { bias: bias !== null, relu: options.relu ?? false });
}

/**
 * Transposed 3×3 convolution with stride 2, padding 1, output_padding 1 (PyTorch semantics): doubles H and W.
 * `weight` is [Cin, Cout, 3, 3] as PyTorch stores ConvTranspose2d weights.
 */
export const convTranspose3x3s2 = defineConvTranspose('convTranspose3x3s2', 3, {
  forward: convTranspose3x3s2Forward,
  dgrad: convTranspose3x3s2Dgrad,
  wgrad: convTranspose3x3s2Wgrad,
});

/**
 * Transposed 4×4 convolution with stride 2 and padding 1 (PyTorch semantics): doubles H and W. `weight` is
 * [Cin, Cout, 4, 4] as PyTorch stores ConvTranspose2d weights.
 */
export const convTranspose4x4s2 = defineConvTranspose('convTranspose4x4s2', 4, {
  forward: convTranspose4x4s2Forward,
  dgrad: convTranspose4x4s2Dgrad,
  wgrad: convTranspose4x4s2Wgrad,
});
