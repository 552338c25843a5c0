/**
 * The implicit-GEMM skeleton of the 'tiled' convolution kernels (conv3x3.ts, conv-transpose-tiled.ts):
 * out[c, p] = Σ_k W[c, k] · X[k, p] over a 64 (channels) × 64 (pixels) output tile per workgroup of 16×16
 * invocations. The reduction walks K in steps of 16, each staging a 16×64 weight tile `ws` and a 16×64 gathered
 * input tile `xs` in workgroup memory (each invocation loads 4 of each; what lies outside becomes zeros), then
 * after a barrier every invocation accumulates its own 4 channels × 4 pixels register block from workgroup
 * memory: 256 FMAs per 8 global loads. Each kernel brings only its gather (`stage`) and its store.
 */
import { gridMain } from './layout.ts';

/** Output tile edge (channels and pixels) of one workgroup; each of its 16×16 invocations owns 4×4 outputs. */
export const GEMM_TILE = 64;

/** What a kernel puts into the skeleton; names and counts are WGSL. */
export interface TiledGemm {
  /** The output's pixel and channel names; the tile's origins are `${pixel}0` (grid) and `${channel}0` (z). */
  readonly pixel: string;
  readonly channel: string;
  /** How many pixels and channels the output has: invocations skip the rest of the tile. */
  readonly pixels: string;
  readonly channels: string;
  /** Statements after the origins (e.g. `let hw = …;`), then the reduction's length K. */
  readonly prelude: string;
  readonly K: string;
  /** Fills `ws[idx]` and `xs[idx]` for row kk of the k-step (k = k0 + kk) and tile column m (0 ≤ m < 64). */
  readonly stage: string;
  /** Given `idx`, the output index of (channel, pixel), and `v`, its sum: the epilogue and the store. */
  readonly index: string;
  readonly store: string;
}

/** The workgroup arrays and `main` of a tiled GEMM kernel, from after the bindings to the closing brace. */
export function tiledGemmMain(g: TiledGemm): string {
  return /* wgsl */ `
var<workgroup> ws: array<f32, 1024>;
var<workgroup> xs: array<f32, 1024>;
${gridMain([16, 16], 'local_invocation_id')}
  let ${g.pixel}0 = linearWorkgroup(wid, nwg) * ${GEMM_TILE}u;
  let ${g.channel}0 = wid.z * ${GEMM_TILE}u;
  let tid = lid.y * 16u + lid.x;
${g.prelude}
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < ${g.K}; k0 += 16u) {
    for (var r = 0u; r < 4u; r++) {
      let idx = tid + r * 256u;
      let kk = idx / 64u;
      let m = idx % 64u;
      let k = k0 + kk;
${g.stage}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let xb = kk * 64u + lid.x * 4u;
      let bv = vec4<f32>(xs[xb], xs[xb + 1u], xs[xb + 2u], xs[xb + 3u]);
      for (var i = 0u; i < 4u; i++) { acc[i] += ws[kk * 64u + lid.y * 4u + i] * bv; }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let ${g.channel} = ${g.channel}0 + lid.y * 4u + i;
    if (${g.channel} >= ${g.channels}) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let ${g.pixel} = ${g.pixel}0 + lid.x * 4u + j;
      if (${g.pixel} >= ${g.pixels}) { continue; }
      let idx = ${g.index};
      var v = acc[i][j];
${g.store}
    }
  }
}`;
}
