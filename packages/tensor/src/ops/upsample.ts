/**
 * upsampleBilinear2x: PyTorch `Upsample(scale_factor=2, mode='bilinear', align_corners=False)` (what
 * TernausNet's UNet16 decoder uses when `is_deconv=False`): [N, C, H, W] -> [N, C, 2H, 2W].
 */
import { upsampleBilinear2xBackward, upsampleBilinear2xForward } from '@ternausnet/kernels-wgsl';
import { record } from '../autograd.ts';
import { type RefTensor, refTensor } from '../reference.ts';
import type { Tensor } from '../tensor.ts';
import { defineOp } from './registry.ts';
import { deviceOf, output } from './util.ts';

function dims(shape: readonly number[]): { P: number; H: number; W: number } {
  if (shape.length !== 4 || shape.some((d) => !(d > 0))) {
    throw new RangeError(`upsampleBilinear2x: input must be a non-empty NCHW (4-D) tensor, got [${shape}]`);
  }
  const [N, C, H, W] = shape as [number, number, number, number];
  return { P: N * C, H, W };
}

const upsampleOp = defineOp<Record<string, never>>({
  name: 'upsampleBilinear2x',
  inputs: ['x'],
  apply: ([x]) => {
    const { P, H, W } = dims(x!.shape);
    const [N, C] = x!.shape as [number, number];
    const device = deviceOf('upsampleBilinear2x', [x!]);
    const y = output(device, [N, C, 2 * H, 2 * W], 'upsampleBilinear2x');
    upsampleBilinear2xForward(device, {
      input: x!.rangeFor('upsampleBilinear2x'),
      out: y.rangeFor('upsampleBilinear2x'),
      planes: P,
      height: H,
      width: W,
    });
    const xShape = x!.shape;
    // The map is linear: the backward needs no saved tensor.
    return record('upsampleBilinear2x', [x!], y, (gy) => {
      const gx = output(device, xShape, 'upsampleBilinear2x backward');
      upsampleBilinear2xBackward(device, {
        gradOut: gy.rangeFor('upsampleBilinear2x backward'),
        gradInput: gx.rangeFor('upsampleBilinear2x backward'),
        planes: P,
        height: H,
        width: W,
      });
      return [gx];
    });
  },
  reference: {
    forward: ([x]) => {
      const { P, H, W } = dims(x!.shape);
      const [N, C] = x!.shape as [number, number];
      const y = refTensor([N, C, 2 * H, 2 * W]);
      forEachTap(P, H, W, (xi, yi, w) => {
        y.data[yi]! += w * x!.data[xi]!;
      });
      return y;
    },
    backward: ([x], _attrs, gy: RefTensor) => {
      const { P, H, W } = dims(x!.shape);
      const gx = refTensor(x!.shape);
      forEachTap(P, H, W, (xi, yi, w) => {
        gx.data[xi]! += w * gy.data[yi]!;
      });
      return [gx];
    },
  },
});

/** PyTorch's source index computation (area_pixel_compute_source_index, align_corners=False, scale ½). */
function axisTaps(o: number, n: number): [number, number, number, number] {
  const s = Math.max(0, (o + 0.5) / 2 - 0.5);
  const i0 = Math.min(Math.floor(s), n - 1);
  const l1 = s - i0;
  return [i0, Math.min(i0 + 1, n - 1), 1 - l1, l1];
}

/** Visit every (input index, output index, weight) of the upsampling, written as PyTorch's forward loop. */
function forEachTap(P: number, H: number, W: number, f: (xi: number, yi: number, w: number) => void) {
  const Ho = 2 * H;
  const Wo = 2 * W;
  for (let p = 0; p < P; p++)
    for (let oy = 0; oy < Ho; oy++) {
      const [y0, y1, wy0, wy1] = axisTaps(oy, H);
      for (let ox = 0; ox < Wo; ox++) {
        const [x0, x1, wx0, wx1] = axisTaps(ox, W);
        const yi = (p * Ho + oy) * Wo + ox;
        const at = (iy: number, ix: number) => (p * H + iy) * W + ix;
        f(at(y0, x0), yi, wy0 * wx0);
        f(at(y0, x1), yi, wy0 * wx1);
        f(at(y1, x0), yi, wy1 * wx0);
        f(at(y1, x1), yi, wy1 * wx1);
      }
    }
}

/** Bilinear 2× upsampling of an NCHW tensor (align_corners=False, PyTorch semantics at the borders). */
export function upsampleBilinear2x(x: Tensor): Tensor {
  return upsampleOp.apply([x], {});
}
