/** maxPool2x2: PyTorch `MaxPool2d(2, 2)` (floor mode: odd trailing rows/columns are dropped). */
import { maxPool2x2Backward, maxPool2x2Forward } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';
import { deviceOf, output } from './util.ts';

function outShape(op: string, shape: readonly number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new RangeError(`${op}: input must be NCHW (4-D), got [${shape}]`);
  const [N, C, H, W] = shape as [number, number, number, number];
  return [N, C, Math.floor(H / 2), Math.floor(W / 2)];
}

const maxPoolOp = defineOp<Record<string, never>>({
  name: 'maxPool2x2',
  inputs: ['x'],
  apply: ([x]) => {
    const [N, C, Ho, Wo] = outShape('maxPool2x2', x!.shape);
    const [, , H, W] = x!.shape as [number, number, number, number];
    const device = deviceOf('maxPool2x2', [x!]);
    const y = output(device, [N, C, Ho, Wo], 'maxPool2x2');
    // The winner index per output (u32 bits in a float-sized buffer): what the backward gathers with.
    const argmax = output(device, [N, C, Ho, Wo], 'maxPool2x2 argmax');
    maxPool2x2Forward(device, {
      input: x!.rangeFor('maxPool2x2'),
      planes: N * C,
      height: H,
      width: W,
      out: y.rangeFor('maxPool2x2'),
      argmax: argmax.rangeFor('maxPool2x2'),
    });
    const xShape = x!.shape;
    const result = record(
      'maxPool2x2',
      [x!],
      y,
      (gy, [arg]) => {
        const gx = output(device, xShape, 'maxPool2x2 backward');
        maxPool2x2Backward(device, {
          gradOut: gy.rangeFor('maxPool2x2 backward'),
          argmax: arg!.rangeFor('maxPool2x2 backward'),
          planes: N * C,
          height: H,
          width: W,
          gradInput: gx.rangeFor('maxPool2x2 backward'),
        });
        return [gx];
      },
      [argmax],
    );
    argmax.dispose();
    return result;
  },
  reference: {
    forward: ([x]) => refMaxPool(x!.shape, x!.data).y,
    backward: ([x], _a, gy) => {
      const { arg } = refMaxPool(x!.shape, x!.data);
      const gx = refTensor(x!.shape);
      arg.forEach((src, o) => {
        gx.data[src]! += gy.data[o]!;
      });
      return [gx];
    },
  },
});

function refMaxPool(shape: readonly number[], data: Float64Array) {
  const [N, C, Ho, Wo] = outShape('maxPool2x2', shape);
  const [, , H, W] = shape as [number, number, number, number];
  const y = refTensor([N, C, Ho, Wo]);
  const arg: number[] = [];
  for (let p = 0; p < N * C; p++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        let best = Number.NEGATIVE_INFINITY;
        let at = -1;
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ] as const) {
          const i = (p * H + 2 * oy + dy) * W + 2 * ox + dx;
          if (data[i]! > best || at < 0) {
            best = data[i]!;
            at = i;
          }
        }
        y.data[(p * Ho + oy) * Wo + ox] = best;
        arg.push(at);
      }
  return { y, arg };
}

/** 2×2 max-pool with stride 2 over an NCHW tensor. */
export function maxPool2x2(x: Tensor): Tensor {
  return maxPoolOp.apply([x], {});
}
