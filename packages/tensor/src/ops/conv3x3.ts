/**
 * conv3x3: 3×3 convolution, stride 1, padding 1 (PyTorch `Conv2d(cin, cout, 3, padding=1)`), with an optional
 * fused ReLU, over an input given as one tensor or as several tensors concatenated along channels (the U-Net
 * skip connection, computed without materialising the concatenation).
 */
import { conv3x3Dgrad, conv3x3Forward, conv3x3Wgrad } from '@ternausnet/kernels-wgsl';
import { record, WRITTEN_INTO, willRecord } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import { mapTensors } from './elementwise.ts';
import { defineOp } from './registry.ts';
import { convBiasGrad, describeAll, deviceOf, output } from './util.ts';

export interface Conv3x3Attrs {
  /** How many leading inputs are channel segments of the input (the rest: weight, then bias if `bias`). */
  segments: number;
  bias: boolean;
  relu: boolean;
}

/** Validate shapes; returns N, H, W, channels per segment, Cout. */
export function checkConvInputs(
  op: string,
  xs: readonly { shape: readonly number[] }[],
  w: { shape: readonly number[] },
  b: { shape: readonly number[] } | null,
  kernel: number,
  describe: () => string,
) {
  const first = xs[0];
  if (!first) throw new RangeError(`${op}: no input`);
  if (first.shape.length !== 4) throw new RangeError(`${op}: input must be NCHW (4-D), got ${describe()}`);
  const [N, , H, W] = first.shape as [number, number, number, number];
  for (const x of xs) {
    if (x.shape.length !== 4 || x.shape[0] !== N || x.shape[2] !== H || x.shape[3] !== W) {
      throw new RangeError(`${op}: concatenated inputs must agree in N, H, W: ${describe()}`);
    }
  }
  const cin = xs.reduce((p, x) => p + x.shape[1]!, 0);
  const [cout, wcin, kh, kw] = w.shape as [number, number, number, number];
  if (w.shape.length !== 4 || wcin !== cin || kh !== kernel || kw !== kernel) {
    throw new RangeError(
      `${op}: weight must be [Cout, ${cin}, ${kernel}, ${kernel}] for ${cin} input channels, got ${describe()}`,
    );
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) {
    throw new RangeError(`${op}: bias must be [${cout}], got ${describe()}`);
  }
  return { N, H, W, cin, cout, channels: xs.map((x) => x.shape[1]!) };
}

const conv3x3Op = defineOp<Conv3x3Attrs>({
  name: 'conv3x3',
  inputs: ['...x', 'weight', 'bias?'],
  apply: (inputs, attrs) => {
    const xs = inputs.slice(0, attrs.segments);
    const w = inputs[attrs.segments]!;
    const b = attrs.bias ? inputs[attrs.segments + 1]! : null;
    const { N, H, W, cin, cout, channels } = checkConvInputs('conv3x3', xs, w, b, 3, () => describeAll(inputs));
    const device = deviceOf('conv3x3', inputs);
    const y = output(device, [N, cout, H, W], 'conv3x3');
    conv3x3Forward(device, {
      input: xs.map((x) => ({ range: x.rangeFor('conv3x3'), channels: x.shape[1]! })),
      weight: w.rangeFor('conv3x3'),
      weightKey: w.contentKey('conv3x3'),
      bias: b ? b.rangeFor('conv3x3') : null,
      out: y.rangeFor('conv3x3'),
      batch: N,
      height: H,
      width: W,
      outChannels: cout,
      relu: attrs.relu,
      inference: !willRecord(inputs),
    });
    const saved = attrs.relu ? [...xs, w, y] : [...xs, w];
    return record(
      attrs.relu ? 'conv3x3+relu' : 'conv3x3',
      inputs,
      y,
      (gy, s, into, needsGrad) => {
        const sx = s.slice(0, attrs.segments);
        const sw = s[attrs.segments]!;
        // Through the fused ReLU first: the gradient flows where the output is positive.
        const g = attrs.relu ? mapTensors('reluBackward', [gy, s[attrs.segments + 1]!], gy.shape) : gy;
        // No input gradient for an input outside the graph (the image under the first layer).
        const gxs = sx.map((x, i) => (needsGrad[i] ? output(device, x.shape, 'conv3x3 dgrad') : null));
        conv3x3Dgrad(device, {
          gradOut: g.rangeFor('conv3x3 dgrad'),
          weight: sw.rangeFor('conv3x3 dgrad'),
          weightKey: sw.contentKey('conv3x3 dgrad'),
          gradInput: gxs.map((gx, i) => ({ range: gx?.rangeFor('conv3x3 dgrad') ?? null, channels: channels[i]! })),
          batch: N,
          height: H,
          width: W,
          outChannels: cout,
        });
        // Weight and bias gradients go straight into the leaves' gradient storage (the kernels add or overwrite).
        const intoW = into[attrs.segments] ?? null;
        const gw = intoW?.tensor ?? output(device, [cout, cin, 3, 3], 'conv3x3 wgrad');
        conv3x3Wgrad(device, {
          input: sx.map((x) => ({ range: x.rangeFor('conv3x3 wgrad'), channels: x.shape[1]! })),
          gradOut: g.rangeFor('conv3x3 wgrad'),
          gradWeight: gw.rangeFor('conv3x3 wgrad'),
          batch: N,
          height: H,
          width: W,
          outChannels: cout,
          accumulate: intoW?.accumulate ?? false,
        });
        const grads: (Tensor | null | typeof WRITTEN_INTO)[] = [...gxs, intoW ? WRITTEN_INTO : gw];
        if (attrs.bias) grads.push(convBiasGrad(device, g, cout, into[attrs.segments + 1] ?? null, 'conv3x3'));
        if (g !== gy) g.dispose();
        return grads;
      },
      saved,
    );
  },
  reference: {
    forward: (inputs, attrs) => refConv3x3(inputs, attrs).y,
    backward: (inputs, attrs, gy) => {
      const { y, x, w, N, H, W, cin, cout } = refConv3x3(inputs, attrs);
      const { g, gx, gw, gb } = refConvGradients(gy, y, attrs.relu, x, w, cout);
      for (let n = 0; n < N; n++)
        for (let co = 0; co < cout; co++)
          for (let oy = 0; oy < H; oy++)
            for (let ox = 0; ox < W; ox++) {
              const gv = g.data[((n * cout + co) * H + oy) * W + ox]!;
              gb.data[co]! += gv;
              forEachTap(n, co, oy, ox, H, W, cin, (xi, wi) => {
                gx.data[xi]! += gv * w.data[wi]!;
                gw.data[wi]! += gv * x.data[xi]!;
              });
            }
      return [...splitChannels(gx, inputs.slice(0, attrs.segments)), gw, ...(attrs.bias ? [gb] : [])];
    },
  },
});

/**
 * Where a convolution's reference backward starts: `g`, the gradient before its fused ReLU (`gy` where the output
 * `y` is positive, 0 elsewhere, if `relu`), and zeroed gradients of the input `x`, the weight `w` and the bias
 * ([cout]) to accumulate into.
 */
export function refConvGradients(
  gy: RefTensor,
  y: RefTensor,
  relu: boolean | undefined,
  x: RefTensor,
  w: RefTensor,
  cout: number,
): { g: RefTensor; gx: RefTensor; gw: RefTensor; gb: RefTensor } {
  const g = refTensor(gy.shape, gy.data);
  if (relu) for (let i = 0; i < g.data.length; i++) if (!(y.data[i]! > 0)) g.data[i] = 0;
  return { g, gx: refTensor(x.shape), gw: refTensor(w.shape), gb: refTensor([cout]) };
}

/** Concatenate reference tensors along channels (dim 1). */
export function refConcatChannels(xs: readonly RefTensor[]): RefTensor {
  const [N, , H, W] = xs[0]!.shape as [number, number, number, number];
  const C = xs.reduce((p, x) => p + x.shape[1]!, 0);
  const out = refTensor([N, C, H, W]);
  for (let n = 0; n < N; n++) {
    let c0 = 0;
    for (const x of xs) {
      const c = x.shape[1]!;
      out.data.set(x.data.subarray(n * c * H * W, (n + 1) * c * H * W), (n * C + c0) * H * W);
      c0 += c;
    }
  }
  return out;
}

/** Split a reference gradient along channels into the shapes of `parts`. */
export function splitChannels(g: RefTensor, parts: readonly RefTensor[]): RefTensor[] {
  const [N, C, H, W] = g.shape as [number, number, number, number];
  let c0 = 0;
  return parts.map((p) => {
    const c = p.shape[1]!;
    const out = refTensor(p.shape);
    for (let n = 0; n < N; n++) {
      out.data.set(g.data.subarray((n * C + c0) * H * W, (n * C + c0 + c) * H * W), n * c * H * W);
    }
    c0 += c;
    return out;
  });
}

/**
 * Calls `tap(xi, wi)` for each input element and weight that output pixel (oy, ox) of channel `co`, image `n` of a
 * padded 3x3 convolution reads (NCHW input of `cin` channels, weight [Cout, Cin, 3, 3]); taps in the zero padding
 * are skipped.
 */
function forEachTap(
  n: number,
  co: number,
  oy: number,
  ox: number,
  H: number,
  W: number,
  cin: number,
  tap: (xi: number, wi: number) => void,
): void {
  for (let ci = 0; ci < cin; ci++)
    for (let ky = 0; ky < 3; ky++) {
      const iy = oy + ky - 1;
      if (iy < 0 || iy >= H) continue;
      for (let kx = 0; kx < 3; kx++) {
        const ix = ox + kx - 1;
        if (ix < 0 || ix >= W) continue;
        tap(((n * cin + ci) * H + iy) * W + ix, ((co * cin + ci) * 3 + ky) * 3 + kx);
      }
    }
}

function refConv3x3(inputs: readonly RefTensor[], attrs: Conv3x3Attrs) {
  const xs = inputs.slice(0, attrs.segments);
  const w = inputs[attrs.segments]!;
  const b = attrs.bias ? inputs[attrs.segments + 1]! : null;
  const { N, H, W, cin, cout } = checkConvInputs('conv3x3', xs, w, b, 3, () => 'reference');
  const x = refConcatChannels(xs);
  const y = refTensor([N, cout, H, W]);
  for (let n = 0; n < N; n++)
    for (let co = 0; co < cout; co++)
      for (let oy = 0; oy < H; oy++)
        for (let ox = 0; ox < W; ox++) {
          let s = b ? b.data[co]! : 0;
          forEachTap(n, co, oy, ox, H, W, cin, (xi, wi) => {
            s += x.data[xi]! * w.data[wi]!;
          });
          y.data[((n * cout + co) * H + oy) * W + ox] = attrs.relu ? Math.max(s, 0) : s;
        }
  return { y, x, w, N, H, W, cin, cout };
}

export interface ConvOptions {
  /** Fuse a ReLU after the convolution (and its gradient before the backward kernels). */
  relu?: boolean;
}

/**
 * 3×3 convolution, stride 1, padding 1 (PyTorch `Conv2d(cin, cout, 3, padding=1)` semantics).
 * `x` is [N, Cin, H, W], or an array of tensors concatenated along channels (no copy is made);
 * `weight` is [Cout, Cin, 3, 3]; `bias` is [Cout] or null.
 */
export function conv3x3(
  x: Tensor | readonly Tensor[],
  weight: Tensor,
  bias: Tensor | null,
  options: ConvOptions = {},
): Tensor {
  const xs = Array.isArray(x) ? (x as readonly Tensor[]) : [x as Tensor];
  return conv3x3Op.apply(bias ? [...xs, weight, bias] : [...xs, weight], {
    segments: xs.length,
    bias: bias !== null,
    relu: options.relu ?? false,
  });
}
