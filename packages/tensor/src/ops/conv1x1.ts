/** conv1x1: PyTorch `Conv2d(cin, cout, 1)`, weight [Cout, Cin, 1, 1]. */
import { conv1x1Dgrad, conv1x1Forward, conv1x1Wgrad } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import { checkConvInputs } from './conv3x3.ts';
import { defineOp } from './registry.ts';
import { convBiasGrad, describeAll, deviceOf, output } from './util.ts';

const conv1x1Op = defineOp<{ bias: boolean }>({
  name: 'conv1x1',
  inputs: ['x', 'weight', 'bias?'],
  apply: (inputs, attrs) => {
    const [x, w] = inputs as [Tensor, Tensor];
    const b = attrs.bias ? inputs[2]! : null;
    const { N, H, W, cin, cout } = checkConvInputs('conv1x1', [x], w, b, 1, () => describeAll(inputs));
    const device = deviceOf('conv1x1', inputs);
    const y = output(device, [N, cout, H, W], 'conv1x1');
    const dims = { batch: N, inChannels: cin, outChannels: cout, pixels: H * W };
    conv1x1Forward(device, {
      ...dims,
      input: x.rangeFor('conv1x1'),
      weight: w.rangeFor('conv1x1'),
      bias: b ? b.rangeFor('conv1x1') : null,
      out: y.rangeFor('conv1x1'),
    });
    return record(
      'conv1x1',
      inputs,
      y,
      (gy, [sx, sw]) => {
        const gx = output(device, sx!.shape, 'conv1x1 dgrad');
        conv1x1Dgrad(device, {
          ...dims,
          gradOut: gy.rangeFor('conv1x1 dgrad'),
          weight: sw!.rangeFor('conv1x1 dgrad'),
          gradInput: gx.rangeFor('conv1x1 dgrad'),
        });
        const gw = output(device, sw!.shape, 'conv1x1 wgrad');
        conv1x1Wgrad(device, {
          ...dims,
          input: sx!.rangeFor('conv1x1 wgrad'),
          gradOut: gy.rangeFor('conv1x1 wgrad'),
          gradWeight: gw.rangeFor('conv1x1 wgrad'),
        });
        return attrs.bias ? [gx, gw, convBiasGrad(device, gy, cout, null, 'conv1x1')] : [gx, gw];
      },
      [x, w],
    );
  },
  reference: {
    forward: (inputs, attrs) => {
      const { x, w, b, N, cin, cout, P } = unpack(inputs, attrs.bias);
      const y = refTensor([N, cout, x.shape[2]!, x.shape[3]!]);
      for (let n = 0; n < N; n++)
        for (let co = 0; co < cout; co++)
          for (let p = 0; p < P; p++) {
            let s = b ? b.data[co]! : 0;
            for (let ci = 0; ci < cin; ci++) s += w.data[co * cin + ci]! * x.data[(n * cin + ci) * P + p]!;
            y.data[(n * cout + co) * P + p] = s;
          }
      return y;
    },
    backward: (inputs, attrs, gy) => {
      const { x, w, N, cin, cout, P } = unpack(inputs, attrs.bias);
      const gx = refTensor(x.shape);
      const gw = refTensor(w.shape);
      const gb = refTensor([cout]);
      for (let n = 0; n < N; n++)
        for (let co = 0; co < cout; co++)
          for (let p = 0; p < P; p++) {
            const g = gy.data[(n * cout + co) * P + p]!;
            gb.data[co]! += g;
            for (let ci = 0; ci < cin; ci++) {
              gx.data[(n * cin + ci) * P + p]! += g * w.data[co * cin + ci]!;
              gw.data[co * cin + ci]! += g * x.data[(n * cin + ci) * P + p]!;
            }
          }
      return attrs.bias ? [gx, gw, gb] : [gx, gw];
    },
  },
});

function unpack(inputs: readonly RefTensor[], bias: boolean) {
  const [x, w] = inputs as [RefTensor, RefTensor];
  const b = bias ? inputs[2]! : null;
  const { N, H, W, cin, cout } = checkConvInputs('conv1x1', [x], w, b, 1, () => 'reference');
  return { x, w, b, N, cin, cout, P: H * W };
}

/** 1×1 convolution: `weight` [Cout, Cin, 1, 1], `bias` [Cout] or null. */
export function conv1x1(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return conv1x1Op.apply(bias ? [x, weight, bias] : [x, weight], { bias: bias !== null });
}
