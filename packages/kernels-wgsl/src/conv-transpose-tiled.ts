/**
 * GPU variants ("tiled") of the transposed 3×3 stride-2 convolution's forward and input gradient (conv-transpose.ts
 * has the shapes, the direct baseline and the tap algebra). Both are implicit GEMMs in the style of conv3x3's
 * tiled kernels, with every gather done on the fly:
 *
 * - forward, one dispatch per output parity (py, px): y[co, 2qy + py, 2qx + px] = Σ_k W[co, k] · X[k, q] over the
 *   input grid q = (qy, qx), k = (ci, tap) running over the parity's 1, 2, 2 or 4 real taps only (K = Cin · taps),
 *   X[(ci, tap), q] = x[ci, qy + dy, qx + dx] (zero past the bottom/right edge).
 * - dgrad: gx[ci, q] = Σ_k W'[ci, k] · G[k, q], k = (co, ky, kx) over all 9 taps (K = Cout · 9), G the stride-2
 *   gather G[(co, ky, kx), q] = gy[co, 2qy − 1 + ky, 2qx − 1 + kx] (zero at row/column −1).
 *
 * Tiling: tiled-gemm.ts's skeleton, a 64 (channels) × 64 (pixels) output tile per workgroup of 16×16 invocations,
 * K in steps of 16 staged in workgroup memory. Shapes are uniforms, so one pipeline per parity serves every layer.
 * The shaders take the direct kernels' bindings and uniforms, so the direct runners (conv-transpose-direct.ts)
 * dispatch them: operands over the binding limit are split by image and channel ranges, input-channel chunks of
 * the forward (output-channel chunks of dgrad) are a reduction that later chunks accumulate into the output, and
 * the epilogue (bias on the first chunk, ReLU on the last) is the direct forward's. On CPU adapters the barriers
 * serialise the SIMD lanes, so lavapipe keeps the other rows.
 */
import type { ConvTranspose3x3s2Args, ConvTranspose3x3s2DgradArgs } from './conv-transpose.ts';
import {
  runTransposeS2Dgrad,
  runTransposeS2Forward,
  TRANSPOSE_DGRAD_BINDINGS,
  TRANSPOSE_FORWARD_BINDINGS,
  type TransposeWorkgroupTile,
} from './conv-transpose-direct.ts';
import { flagEpilogue, memoSource } from './layout.ts';
import type { KernelContext } from './runtime.ts';
import { GEMM_TILE, tiledGemmMain } from './tiled-gemm.ts';

const TILED: TransposeWorkgroupTile = { pixels: GEMM_TILE, channels: GEMM_TILE };

/**
 * The tap (kernel index k, input offset d) of tap number `i` along an axis of output parity `p`, as WGSL
 * expressions: parity 0 has the single tap k = 1, d = 0; parity 1 has (k 0, d 1) and (k 2, d 0).
 */
function axisTap(p: number, i: string): { k: string; d: string } {
  return p === 0 ? { k: '1u', d: '0u' } : { k: `2u * ${i}`, d: `1u - ${i}` };
}

const forwardSource = memoSource(({ py, px }: { py: number; px: number }): string => {
  const nx = 1 + px;
  const taps = (1 + py) * nx;
  const ty = axisTap(py, 'ty');
  const tx = axisTap(px, 'tx');
  const stage = /* wgsl */ `
      let ci = k / ${taps}u;
      let t = k % ${taps}u;
      let ty = t / ${nx}u;
      let tx = t % ${nx}u;
      let co = co0 + m;
      var wv = 0.0;
      if (k < K && co < u.coCount) {
        wv = w[((u.ciStart + ci) * u.cout + u.coStart + co) * 9u + (${ty.k}) * 3u + ${tx.k}];
      }
      ws[idx] = wv;
      let q = q0 + m;
      var xv = 0.0;
      if (k < K && q < hw) {
        let iy = q / u.W + ${ty.d};
        let ix = q % u.W + ${tx.d};
        if (iy < u.H && ix < u.W) { xv = x[u.xBase + ci * hw + iy * u.W + ix]; }
      }
      xs[idx] = xv;`;
  return `${TRANSPOSE_FORWARD_BINDINGS}
${tiledGemmMain({
  pixel: 'q',
  channel: 'co',
  pixels: 'hw',
  channels: 'u.coCount',
  prelude: `  _ = &b;
  let hw = u.H * u.W;
  let K = u.ciCount * ${taps}u;`,
  K: 'K',
  stage,
  index: `u.yBase + co * 4u * hw + (2u * (q / u.W) + ${py}u) * 2u * u.W + 2u * (q % u.W) + ${px}u`,
  store: flagEpilogue('u.bBase + u.coStart + co', '      '),
})}`;
});

/** Forward runner of the 'tiled' variant (GPUs): the direct kernels' chunk walk, one dispatch per output parity. */
export function convTranspose3x3s2ForwardTiled(ctx: KernelContext, a: ConvTranspose3x3s2Args, label: string): void {
  const sources = [0, 1].flatMap((py) => [0, 1].map((px) => forwardSource({ py, px })));
  runTransposeS2Forward(ctx, a, label, 3, { sources, pixels: (hw) => hw, tile: TILED });
}

const DGRAD_SOURCE = `${TRANSPOSE_DGRAD_BINDINGS}
${tiledGemmMain({
  pixel: 'p',
  channel: 'ci',
  pixels: 'hw',
  channels: 'u.ciCount',
  prelude: `  let hw = u.H * u.W;
  let K = u.coCount * 9u;`,
  K: 'K',
  stage: /* wgsl */ `
      let co = k / 9u;
      let t = k % 9u;
      let ci = ci0 + m;
      var wv = 0.0;
      // k = (co, tap) is contiguous in the [Cin, Cout, 3, 3] weight for a fixed ci.
      if (k < K && ci < u.ciCount) { wv = w[((u.ciStart + ci) * u.cout + u.coStart) * 9u + k]; }
      ws[idx] = wv;
      let p = p0 + m;
      var gv = 0.0;
      if (k < K && p < hw) {
        // Output row/column + 1, so that the padding row/column −1 is 0 (no signed arithmetic).
        let oy1 = 2u * (p / u.W) + t / 3u;
        let ox1 = 2u * (p % u.W) + t % 3u;
        if (oy1 >= 1u && ox1 >= 1u) { gv = gy[u.gyBase + co * 4u * hw + (oy1 - 1u) * 2u * u.W + ox1 - 1u]; }
      }
      xs[idx] = gv;`,
  index: 'u.gxBase + ci * hw + p',
  store: `      if (u.accumulate != 0u) { v += gx[idx]; }
      gx[idx] = v;`,
})}`;

/** dgrad runner of the 'tiled' variant (GPUs): the direct kernels' chunk walk. */
export function convTranspose3x3s2DgradTiled(ctx: KernelContext, a: ConvTranspose3x3s2DgradArgs, label: string): void {
  runTransposeS2Dgrad(ctx, a, label, 3, { source: DGRAD_SOURCE, tile: TILED });
}
