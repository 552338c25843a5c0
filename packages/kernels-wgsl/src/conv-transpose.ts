/**
 * Transposed 3×3 convolution, stride 2, padding 1, output_padding 1 (PyTorch `ConvTranspose2d(cin, cout, 3,
 * stride=2, padding=1, output_padding=1)`, weight [Cin, Cout, 3, 3]): [N, Cin, H, W] -> [N, Cout, 2H, 2W].
 *
 * y[co, oy, ox] = Σ_{ci, ky, kx : oy = 2·iy − 1 + ky, ox = 2·ix − 1 + kx} x[ci, iy, ix] · w[ci, co, ky, kx].
 * Only a quarter of the taps of a zero-inserted dense convolution are real, and which ones depends on the
 * output's parity: the forward runs four dispatches, one per parity class (py, px) of the output, each a small
 * dense convolution over the input grid with a fixed tap set known at compile time:
 *   even rows use ky = 1 (iy = qy); odd rows use ky = 0 (iy = qy + 1) and ky = 2 (iy = qy); same for columns,
 * i.e. 1, 2, 2 and 4 taps (9 per 2×2 output block, no multiplication by inserted zeros). Lanes of a workgroup
 * all share a parity, so no SIMD lane idles on a tap it does not have.
 *
 * Backward: dgrad is a stride-2 gather over the output gradient (every one of the 9 taps is real), wgrad a
 * reduction over the input pixels. Tiling as conv3x3's direct kernels: an invocation per pixel × 4 channels,
 * 64 pixels per workgroup, workgroup z = channel block; no workgroup memory.
 */
import { channelChunks, imagesPerWindow } from './conv-plan.ts';
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
import {
  type ConvTransposeGeometry,
  runSubgroupConvTransposeDgrad,
  runSubgroupConvTransposeForward,
  runSubgroupConvTransposeWgrad,
} from './conv-transpose-subgroup.ts';
import { elementWindow, memoSource } from './layout.ts';
import type { KernelContext } from './runtime.ts';
import { runSelectedVariant } from './variants.ts';
import { dispatchTiledWgrad } from './wgrad-tiled.ts';

/** [N, Cin, H, W] -> [N, Cout, 2H, 2W], weight [Cin, Cout, 3, 3]. */
export type ConvTranspose3x3s2Args = ConvTransposeS2Args;
/** gradOut [N, Cout, 2H, 2W] -> gradInput [N, Cin, H, W]. */
export type ConvTranspose3x3s2DgradArgs = ConvTransposeS2DgradArgs;
/** gradWeight [Cin, Cout, 3, 3]. */
export type ConvTranspose3x3s2WgradArgs = ConvTransposeS2WgradArgs;

/** The (tap, input offset) pairs of one output parity along one axis: parity 0 -> ky 1; parity 1 -> ky 0, 2. */
function taps(parity: number): { k: number; d: number }[] {
  return parity === 0
    ? [{ k: 1, d: 0 }]
    : [
        { k: 0, d: 1 },
        { k: 2, d: 0 },
      ];
}

/** One output parity class (py, px): its tap set is unrolled; shapes and the epilogue flags are uniforms. */
const forwardSource = memoSource(({ py, px }: { py: number; px: number }): string => {
  let body = '';
  for (const ty of taps(py)) {
    for (const tx of taps(px)) {
      const guard = [ty.d ? 'qy + 1u < u.H' : '', tx.d ? 'qx + 1u < u.W' : ''].filter(Boolean).join(' && ');
      const load = `x[plane + (qy + ${ty.d}u) * u.W + qx + ${tx.d}u]`;
      const tap = ty.k * 3 + tx.k;
      const stmt = `acc += ${load} * vec4<f32>(weightAt(ci, co0, ${tap}u), weightAt(ci, co0 + 1u, ${tap}u), weightAt(ci, co0 + 2u, ${tap}u), weightAt(ci, co0 + 3u, ${tap}u));`;
      body += guard ? `    if (${guard}) { ${stmt} }\n` : `    ${stmt}\n`;
    }
  }
  return transposeForwardSource(3, {
    pixel: 'q',
    pixels: 'u.H * u.W',
    body: /* wgsl */ `  let hw = u.H * u.W;
  let qy = q / u.W;
  let qx = q % u.W;
  var acc = vec4<f32>(0.0);
  for (var ci = 0u; ci < u.ciCount; ci++) {
    let plane = u.xBase + ci * hw;
${body}  }
  let p = (2u * qy + ${py}u) * 2u * u.W + 2u * qx + ${px}u;
`,
    outPlane: '4u * hw',
  });
});

type TransposeShape = Pick<ConvTranspose3x3s2Args, 'batch' | 'inChannels' | 'outChannels' | 'height' | 'width'>;

/** The shape part of the dispatch labels of forward and wgrad. */
const inputShapeLabel = (a: TransposeShape) =>
  `[${a.batch},${a.inChannels},${a.height},${a.width}] -> ${a.outChannels}`;

/** The subgroup kernels' names for the shape. */
const geometry = (a: TransposeShape): ConvTransposeGeometry => ({
  N: a.batch,
  cin: a.inChannels,
  cout: a.outChannels,
  H: a.height,
  W: a.width,
});

/** The forward pass under the adapter's variant (variants.ts); the dispatch labels name the variant. */
export function convTranspose3x3s2Forward(ctx: KernelContext, a: ConvTranspose3x3s2Args): void {
  runSelectedVariant(ctx, 'convTranspose3x3s2', 'forward', a, 'convTranspose3x3s2Forward', inputShapeLabel(a));
}

/** Forward runner of the 'subgroup' variant (conv-transpose-subgroup.ts). */
export function convTranspose3x3s2ForwardSubgroup(ctx: KernelContext, a: ConvTranspose3x3s2Args, label: string): void {
  runSubgroupConvTransposeForward(ctx, geometry(a), a, label);
}

/** Forward runner of the 'direct' variant: four dispatches per window, one per output parity class. */
export function convTranspose3x3s2ForwardDirect(ctx: KernelContext, a: ConvTranspose3x3s2Args, label: string): void {
  const sources = [0, 1].flatMap((py) => [0, 1].map((px) => forwardSource({ py, px })));
  runTransposeS2Forward(ctx, a, label, 3, { sources, pixels: (hw) => hw });
}

/** The input gradient under the adapter's variant (variants.ts). */
export function convTranspose3x3s2Dgrad(ctx: KernelContext, a: ConvTranspose3x3s2DgradArgs): void {
  runSelectedVariant(
    ctx,
    'convTranspose3x3s2',
    'dgrad',
    a,
    'convTranspose3x3s2Dgrad',
    `[${a.batch},${a.outChannels},${2 * a.height},${2 * a.width}] -> ${a.inChannels}`,
  );
}

/** dgrad runner of the 'subgroup' variant. */
export function convTranspose3x3s2DgradSubgroup(
  ctx: KernelContext,
  a: ConvTranspose3x3s2DgradArgs,
  label: string,
): void {
  runSubgroupConvTransposeDgrad(ctx, geometry(a), a, label);
}

/** dgrad runner of the 'direct' variant. */
export function convTranspose3x3s2DgradDirect(ctx: KernelContext, a: ConvTranspose3x3s2DgradArgs, label: string): void {
  runTransposeS2Dgrad(ctx, a, label, 3);
}

/** The weight gradient under the adapter's variant (variants.ts). */
export function convTranspose3x3s2Wgrad(ctx: KernelContext, a: ConvTranspose3x3s2WgradArgs): void {
  runSelectedVariant(ctx, 'convTranspose3x3s2', 'wgrad', a, 'convTranspose3x3s2Wgrad', inputShapeLabel(a));
}

/** wgrad runner of the 'subgroup' variant. */
export function convTranspose3x3s2WgradSubgroup(
  ctx: KernelContext,
  a: ConvTranspose3x3s2WgradArgs,
  label: string,
): void {
  runSubgroupConvTransposeWgrad(ctx, geometry(a), a, label);
}

/** wgrad runner of the 'direct' variant. */
export function convTranspose3x3s2WgradDirect(ctx: KernelContext, a: ConvTranspose3x3s2WgradArgs, label: string): void {
  runTransposeS2Wgrad(ctx, a, label, 3);
}

/** wgrad runner of the 'tiled' variant (GPUs): the pixel GEMM of wgrad-tiled.ts over the stride-2 gather of gy. */
export function convTranspose3x3s2WgradTiled(ctx: KernelContext, a: ConvTranspose3x3s2WgradArgs, label: string): void {
  const { batch: N, inChannels: cin, outChannels: cout, height: H, width: W } = a;
  const HW = H * W;
  const ciChunks = channelChunks(ctx, cin, HW, `${label} input`);
  const coChunks = channelChunks(ctx, cout, 4 * HW, `${label} gradOut`);
  const gw = elementWindow(ctx, a.gradWeight, 0, cin * cout * 9);
  for (const ci of ciChunks) {
    for (const co of coChunks) {
      for (let n0 = 0; n0 < N; ) {
        // As many images per dispatch as both windows hold: the pixels of all of them are one reduction.
        const k = Math.min(imagesPerWindow(ctx, cin, HW, ci, N - n0), imagesPerWindow(ctx, cout, 4 * HW, co, N - n0));
        dispatchTiledWgrad(ctx, {
          mode: 'transpose',
          rows: elementWindow(ctx, a.input, (n0 * cin + ci.start) * HW, ((k - 1) * cin + ci.count) * HW),
          cols: elementWindow(ctx, a.gradOut, (n0 * cout + co.start) * 4 * HW, ((k - 1) * cout + co.count) * 4 * HW),
          rowImage: cin * HW,
          colImage: cout * 4 * HW,
          H,
          W,
          images: k,
          rowCount: ci.count,
          colChannels: co.count,
          gradWeight: gw,
          outBase: gw.base + (ci.start * cout + co.start) * 9,
          rowStride: cout,
          accumulate: n0 > 0 || (a.accumulate ?? false),
          label,
        });
        n0 += k;
      }
    }
  }
}
