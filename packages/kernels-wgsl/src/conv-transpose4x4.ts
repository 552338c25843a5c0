/**
 * Transposed 4×4 convolution, stride 2, padding 1 (PyTorch `ConvTranspose2d(cin, cout, kernel_size=4, stride=2,
 * padding=1)`, weight [Cin, Cout, 4, 4]; TernausNet's UNet16 decoder with `is_deconv=True`):
 * [N, Cin, H, W] -> [N, Cout, 2H, 2W].
 *
 * y[co, oy, ox] = b[co] + Σ_{ci, ky, kx : oy = 2·iy − 1 + ky, ox = 2·ix − 1 + kx} x[ci, iy, ix] · w[ci, co, ky, kx].
 * Along an axis an output o has exactly two real taps, ky ≡ o + 1 (mod 2): ky = (o + 1) % 2 + 2t, iy =
 * (o + 1 − ky) / 2, t ∈ {0, 1} (one of them falls outside at the borders). So every output pixel sums 4 taps per
 * input channel, whatever its parity; one generic shader serves all four parity classes.
 *
 * The baseline kernels, written for correctness first (speed: see bench/NOTES.md): forward and dgrad run one
 * invocation per pixel × 4 channels (64 pixels per workgroup, workgroup z = channel block, no workgroup memory),
 * as conv-transpose.ts's direct 3×3 kernels; wgrad one invocation per (ci, co) pair holding its 16 taps, lanes
 * over co. Operands larger than one binding are split by image and channel range (conv-transpose-direct.ts): output
 * channels independently, input channels as a reduction whose later chunks accumulate.
 */
import type {
  ConvTransposeS2Args,
  ConvTransposeS2DgradArgs,
  ConvTransposeS2WgradArgs,
} from './conv-transpose-direct.ts';
import {
  runTransposeS2Dgrad,
  runTransposeS2Forward,
  runTransposeS2Wgrad,
  transposeForwardSource,
} from './conv-transpose-direct.ts';
import type { KernelContext } from './runtime.ts';

/** [N, Cin, H, W] -> [N, Cout, 2H, 2W], weight [Cin, Cout, 4, 4]. */
export type ConvTranspose4x4s2Args = ConvTransposeS2Args;
/** gradOut [N, Cout, 2H, 2W] -> gradInput [N, Cin, H, W]. */
export type ConvTranspose4x4s2DgradArgs = ConvTransposeS2DgradArgs;
/** gradWeight [Cin, Cout, 4, 4]. */
export type ConvTranspose4x4s2WgradArgs = ConvTransposeS2WgradArgs;

const FORWARD_SOURCE = transposeForwardSource(4, {
  pixel: 'p',
  pixels: '4u * u.H * u.W',
  body: /* wgsl */ `  let Wo = 2u * u.W;
  let hwo = 4u * u.H * u.W;
  let oy = p / Wo;
  let ox = p % Wo;
  // The two taps per axis (see the header); an input index outside [0, n) marks a missing tap.
  var iys: array<i32, 2>;
  var kys: array<u32, 2>;
  var ixs: array<i32, 2>;
  var kxs: array<u32, 2>;
  for (var t = 0u; t < 2u; t++) {
    kys[t] = (oy + 1u) % 2u + 2u * t;
    iys[t] = (i32(oy) + 1 - i32(kys[t])) / 2;
    kxs[t] = (ox + 1u) % 2u + 2u * t;
    ixs[t] = (i32(ox) + 1 - i32(kxs[t])) / 2;
  }
  var acc = vec4<f32>(0.0);
  for (var ci = 0u; ci < u.ciCount; ci++) {
    let plane = u.xBase + ci * u.H * u.W;
    for (var ty = 0u; ty < 2u; ty++) {
      let iy = iys[ty];
      if (iy < 0 || iy >= i32(u.H)) { continue; }
      for (var tx = 0u; tx < 2u; tx++) {
        let ix = ixs[tx];
        if (ix < 0 || ix >= i32(u.W)) { continue; }
        let v = x[plane + u32(iy) * u.W + u32(ix)];
        let tap = kys[ty] * 4u + kxs[tx];
        acc += v * vec4<f32>(weightAt(ci, co0, tap), weightAt(ci, co0 + 1u, tap), weightAt(ci, co0 + 2u, tap),
                             weightAt(ci, co0 + 3u, tap));
      }
    }
  }
`,
  outPlane: 'hwo',
});

export function convTranspose4x4s2Forward(ctx: KernelContext, a: ConvTranspose4x4s2Args): void {
  const label = `convTranspose4x4s2Forward [${a.batch},${a.inChannels},${a.height},${a.width}] -> ${a.outChannels}`;
  // One generic shader covers all four output parities: one dispatch over the 4·H·W output pixels.
  runTransposeS2Forward(ctx, a, label, 4, { sources: [FORWARD_SOURCE], pixels: (hw) => 4 * hw });
}

export function convTranspose4x4s2Dgrad(ctx: KernelContext, a: ConvTranspose4x4s2DgradArgs): void {
  const label = `convTranspose4x4s2Dgrad [${a.batch},${a.outChannels},${2 * a.height},${2 * a.width}] -> ${a.inChannels}`;
  runTransposeS2Dgrad(ctx, a, label, 4);
}

export function convTranspose4x4s2Wgrad(ctx: KernelContext, a: ConvTranspose4x4s2WgradArgs): void {
  const label = `convTranspose4x4s2Wgrad [${a.batch},${a.inChannels},${a.height},${a.width}] -> ${a.outChannels}`;
  runTransposeS2Wgrad(ctx, a, label, 4);
}
