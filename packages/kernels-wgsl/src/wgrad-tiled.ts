/**
 * The GPU weight gradient ("tiled" rows of conv3x3 and the transposed conv): a GEMM over pixels,
 *   gw[r, (c, tap)] = Σ_q rows[r, q] · cols[(c, tap), q],
 * q running over the pixels of every image in the bound windows. conv3x3: r = output channel (rows = gy),
 * columns = the im2col view of x (tap (ky, kx) of input channel c at pixel q: x[c, qy + ky − 1, qx + kx − 1]).
 * Transposed conv: r = input channel (rows = x), columns = the stride-2 gather of gy (gy[c, 2qy − 1 + ky,
 * 2qx − 1 + kx]). Both gathers happen on the fly; padding taps read as zero.
 *
 * Tiling, as the tiled forward: a workgroup of 16×16 invocations owns a 64 (r) × 64 (c, tap) block and walks the
 * pixels in steps of 16, staging a 16×64 row tile and a 16×64 column tile in workgroup memory (consecutive
 * invocations load consecutive pixels; tile rows padded to 65 floats so that the column-wise stores do not all hit
 * one bank), then each invocation accumulates its 4×4 block: 256 FMAs per invocation per 8 global loads. The
 * reduction (N·H·W, long) over few output blocks (often fewer than a GPU has cores) is split over S workgroups
 * writing partial sums, added by `sumWgradSlices` (`splitWgrad`, which the subgroup weight gradients use too).
 */
import { elementWindow, memoSource, perElementMain, uniformBlock, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export type TiledWgradMode = 'conv' | 'transpose';

const UNIFORMS = uniformBlock([
  'rBase',
  'cBase',
  'rImage',
  'cImage',
  'H',
  'W',
  'HW',
  'Q',
  'qPer',
  'K',
  'M',
  'outBase',
  'outRow',
  'sliceStride',
  'accumulate',
]);

/** Column (c, tap) at pixel p of image img: the im2col gather (conv) or the stride-2 gather of gy (transpose). */
function columnGather(mode: TiledWgradMode): string {
  return mode === 'conv'
    ? `
          let iy = i32(py) + i32(t / 3u) - 1;
          let ix = i32(px) + i32(t % 3u) - 1;
          if (iy >= 0 && iy < i32(u.H) && ix >= 0 && ix < i32(u.W)) {
            cv = cols[u.cBase + img * u.cImage + c * u.HW + u32(iy) * u.W + u32(ix)];
          }`
    : `
          let oy = 2 * i32(py) + i32(t / 3u) - 1;
          let ox = 2 * i32(px) + i32(t % 3u) - 1;
          if (oy >= 0 && ox >= 0) {
            cv = cols[u.cBase + img * u.cImage + c * 4u * u.HW + u32(oy) * 2u * u.W + u32(ox)];
          }`;
}

const source = memoSource(
  ({ mode }: { mode: TiledWgradMode }) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> rows: array<f32>;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> gw: array<f32>;
${UNIFORMS.wgsl}
@group(0) @binding(3) var<uniform> u: Params;
var<workgroup> rs: array<f32, 1040>;
var<workgroup> cs: array<f32, 1040>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let k0 = wid.x * 64u;
  let r0 = wid.y * 64u;
  let slice = wid.z;
  let qBegin = slice * u.qPer;
  let qEnd = min(qBegin + u.qPer, u.Q);
  let tid = lid.y * 16u + lid.x;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var q0 = qBegin; q0 < qEnd; q0 += 16u) {
    for (var s = 0u; s < 4u; s++) {
      let idx = tid + s * 256u;
      let kk = idx % 16u;
      let m = idx / 16u;
      let q = q0 + kk;
      var rv = 0.0;
      var cv = 0.0;
      if (q < qEnd) {
        let img = q / u.HW;
        let p = q - img * u.HW;
        if (r0 + m < u.M) { rv = rows[u.rBase + img * u.rImage + (r0 + m) * u.HW + p]; }
        let k = k0 + m;
        if (k < u.K) {
          let c = k / 9u;
          let t = k - c * 9u;
          let py = p / u.W;
          let px = p - py * u.W;${columnGather(mode)}
        }
      }
      rs[kk * 65u + m] = rv;
      cs[kk * 65u + m] = cv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      let row = kk * 65u;
      let cv = vec4<f32>(cs[row + lid.x * 4u], cs[row + lid.x * 4u + 1u], cs[row + lid.x * 4u + 2u],
                         cs[row + lid.x * 4u + 3u]);
      for (var i = 0u; i < 4u; i++) { acc[i] += rs[row + lid.y * 4u + i] * cv; }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + lid.y * 4u + i;
    if (r >= u.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let k = k0 + lid.x * 4u + j;
      if (k >= u.K) { continue; }
      let o = u.outBase + slice * u.sliceStride + r * u.outRow + k;
      var v = acc[i][j];
      if (u.accumulate != 0u) { v += gw[o]; }
      gw[o] = v;
    }
  }
}`,
);

export interface TiledWgradDispatch {
  mode: TiledWgradMode;
  /** Window of the row operand (first image, first bound channel) and of the column operand. */
  rows: { range: BufferRange; base: number };
  cols: { range: BufferRange; base: number };
  /** Floats from one image to the next in each window. */
  rowImage: number;
  colImage: number;
  /** Height and width of the pixel grid reduced over (the input's). */
  H: number;
  W: number;
  images: number;
  /** Bound row channels and column channels (each column channel has 9 taps). */
  rowCount: number;
  colChannels: number;
  gradWeight: { range: BufferRange; base: number };
  /** gw element of (row 0, column channel 0, tap 0); row r starts rowStride·9 floats later. */
  outBase: number;
  rowStride: number;
  accumulate: boolean;
  label: string;
}

/** gw[outBase + r·rowStride·9 + c·9 + tap] (+)= Σ_q rows · cols, split over pixel ranges when blocks are few. */
export function dispatchTiledWgrad(ctx: KernelContext, p: TiledWgradDispatch): void {
  const K = p.colChannels * 9;
  const n9 = p.rowCount * K;
  const HW = p.H * p.W;
  const Q = p.images * HW;
  const blocks = Math.ceil(K / 64) * Math.ceil(p.rowCount / 64);
  // Enough workgroups to fill a GPU (≥ 256), each reducing at least 256 pixels.
  const S = Math.max(1, Math.min(64, Math.ceil(256 / blocks), Math.floor(Q / 256)));
  const shape = {
    rBase: p.rows.base,
    cBase: p.cols.base,
    rImage: p.rowImage,
    cImage: p.colImage,
    H: p.H,
    W: p.W,
    HW,
    Q,
    qPer: Math.ceil(Q / S / 16) * 16,
    K,
    M: p.rowCount,
  };
  const slices = { ...p, S, rows: p.rowCount, cols: p.colChannels };
  splitWgrad(ctx, slices, (label, part) =>
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline(source({ mode: p.mode }), p.label),
      bindings: [p.rows.range, p.cols.range, part ? part.range : p.gradWeight.range],
      uniforms: UNIFORMS.pack(
        part
          ? { ...shape, outBase: part.base, outRow: K, sliceStride: n9, accumulate: 0 }
          : { ...shape, outBase: p.outBase, outRow: p.rowStride * 9, sliceStride: 0, accumulate: p.accumulate ? 1 : 0 },
      ),
      workgroups: [Math.ceil(K / 64), Math.ceil(p.rowCount / 64), S],
    }),
  );
}

const WGRAD_REDUCE_UNIFORMS = uniformBlock(['pBase', 'outBase', 'S', 'n', 'inner', 'rowStride', 'accumulate']);

/** Sum S partial slices [S][outer][inner][9] into gw[outBase + (outer·rowStride + inner)·9 + t]. */
const WGRAD_REDUCE_SOURCE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> gw: array<f32>;
${WGRAD_REDUCE_UNIFORMS.wgsl}
@group(0) @binding(2) var<uniform> u: Params;
${perElementMain(64, 'i', 'u.n')}
  let t = i % 9u;
  let inner = (i / 9u) % u.inner;
  let outer = i / (9u * u.inner);
  let o = u.outBase + (outer * u.rowStride + inner) * 9u + t;
  var acc = 0.0;
  if (u.accumulate != 0u) { acc = gw[o]; }
  for (var s = 0u; s < u.S; s++) { acc += part[u.pBase + s * u.n + i]; }
  gw[o] = acc;
}`;

/**
 * The second pass of a split-K weight gradient: the S slices of partial sums, laid out [S][outer][inner][9],
 * summed into the weight-gradient rows gw[outBase + (outer·rowStride + inner)·9 + t] (added with accumulate).
 */
function sumWgradSlices(
  ctx: KernelContext,
  p: {
    partial: BufferRange;
    S: number;
    outer: number;
    inner: number;
    gradWeight: { range: BufferRange; base: number };
    outBase: number;
    rowStride: number;
    accumulate: boolean;
    label: string;
  },
): void {
  const n9 = p.outer * p.inner * 9;
  const part = elementWindow(ctx, p.partial, 0, p.S * n9);
  const label = `${p.label} (sum ${p.S} slices)`;
  ctx.dispatch({
    label,
    pipeline: ctx.pipeline(WGRAD_REDUCE_SOURCE, label),
    bindings: [part.range, p.gradWeight.range],
    uniforms: WGRAD_REDUCE_UNIFORMS.pack({
      pBase: part.base,
      outBase: p.outBase,
      S: p.S,
      n: n9,
      inner: p.inner,
      rowStride: p.rowStride,
      accumulate: p.accumulate ? 1 : 0,
    }),
    workgroups: workgroupGrid(ctx, Math.ceil(n9 / 64)),
  });
}

/**
 * A weight gradient whose pixel reduction runs in S slices (split-K): with S = 1 `dispatch` writes the
 * weight-gradient rows itself (`partial` null); else it writes S partial slices [S][rows][cols][9] into a scratch
 * buffer (`partial`), which `sumWgradSlices` then adds into the rows. The tiled kernel here and both subgroup
 * weight-gradient kernels split this way.
 */
export function splitWgrad(
  ctx: KernelContext,
  p: {
    S: number;
    rows: number;
    cols: number;
    gradWeight: { range: BufferRange; base: number };
    outBase: number;
    rowStride: number;
    accumulate: boolean;
    label: string;
  },
  dispatch: (label: string, partial: { range: BufferRange; base: number } | null) => void,
): void {
  const n9 = p.rows * p.cols * 9;
  const partial = p.S > 1 ? ctx.scratch(p.S * n9 * 4, `${p.label} partial sums`) : null;
  const part = partial ? elementWindow(ctx, partial.range, 0, p.S * n9) : null;
  dispatch(part ? `${p.label} (split ${p.S})` : p.label, part);
  if (partial) {
    sumWgradSlices(ctx, {
      partial: partial.range,
      S: p.S,
      outer: p.rows,
      inner: p.cols,
      gradWeight: p.gradWeight,
      outBase: p.outBase,
      rowStride: p.rowStride,
      accumulate: p.accumulate,
      label: p.label,
    });
  }
  partial?.release();
}
