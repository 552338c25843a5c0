/**
 * Bilinear 2× upsampling, PyTorch `Upsample(scale_factor=2, mode='bilinear', align_corners=False)`:
 * [P, H, W] planes -> [P, 2H, 2W] (P = N·C; planes are independent).
 *
 * Along each axis output o reads source coordinate s = max(0, (o + ½)/2 − ½) = max(0, o/2 − ¼): i0 = ⌊s⌋,
 * i1 = min(i0 + 1, n − 1), weights 1 − (s − i0) and s − i0 (¼/¾ inside, 1 at the clamped borders); the 2-D
 * weight is the product of the two axes' weights. All of these are exact in float32.
 *
 * Forward: one invocation per output element (64 per workgroup, a 2-D workgroup grid over the chunk's
 * elements), 4 reads. Backward is a scatter in PyTorch; here it is a gather: input i along an axis is read
 * only by outputs 2i − 1 … 2i + 2, so each input-gradient element sums its ≤ 4 × 4 outputs with the same weight
 * formula, with no atomics and no zero-fill pass. No workgroup memory: the reads of neighbouring lanes overlap
 * and the caches do the rest.
 *
 * Splitting: planes are split into chunks whose output (the larger side: 4·H·W floats a plane) fits one
 * binding (conv-plan.ts).
 */
import { channelChunks } from './conv-plan.ts';
import { elementWindow, f32Bindings, perElementMain, uniformBlock, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface UpsampleBilinear2xArgs {
  /** [P, H, W] (an NCHW tensor with P = N·C). */
  readonly input: BufferRange;
  /** [P, 2H, 2W], written. */
  readonly out: BufferRange;
  readonly planes: number;
  readonly height: number;
  readonly width: number;
}

export interface UpsampleBilinear2xBackwardArgs {
  /** [P, 2H, 2W]. */
  readonly gradOut: BufferRange;
  /** [P, H, W], written. */
  readonly gradInput: BufferRange;
  readonly planes: number;
  /** Input height and width. */
  readonly height: number;
  readonly width: number;
}

const WG = 64;

const UNIFORMS = uniformBlock(['inBase', 'outBase', 'count', 'H', 'W']);

/** Source indices and weights of output `o` along an axis of input length `n` (align_corners=False). */
const AXIS_WGSL = /* wgsl */ `
struct Taps { i0: u32, i1: u32, w0: f32, w1: f32 }
fn axisTaps(o: u32, n: u32) -> Taps {
  let s = max(0.0, f32(o) * 0.5 - 0.25);
  let i0 = min(u32(s), n - 1u);
  let l1 = s - f32(i0);
  return Taps(i0, min(i0 + 1u, n - 1u), 1.0 - l1, l1);
}
/** The weight with which output o (along this axis) reads input i. */
fn axisWeight(o: u32, i: u32, n: u32) -> f32 {
  let t = axisTaps(o, n);
  return select(0.0, t.w0, t.i0 == i) + select(0.0, t.w1, t.i1 == i);
}`;

/**
 * A kernel with one invocation per element e < u.count (linear workgroup index) reading `input` and writing
 * `output`; `body` computes element e.
 */
function perElementKernel(input: string, output: string, body: string): string {
  return /* wgsl */ `
${f32Bindings([input], output, UNIFORMS.wgsl)}
${AXIS_WGSL}

${perElementMain(WG, 'e', 'u.count')}
${body}}`;
}

const FORWARD_SOURCE = perElementKernel(
  'x',
  'y',
  /* wgsl */ `  let Wo = 2u * u.W;
  let plane = e / (4u * u.H * u.W);
  let r = e % (4u * u.H * u.W);
  let ty = axisTaps(r / Wo, u.H);
  let tx = axisTaps(r % Wo, u.W);
  let base = u.inBase + plane * u.H * u.W;
  let top = ty.w0 * (tx.w0 * x[base + ty.i0 * u.W + tx.i0] + tx.w1 * x[base + ty.i0 * u.W + tx.i1]);
  let bottom = ty.w1 * (tx.w0 * x[base + ty.i1 * u.W + tx.i0] + tx.w1 * x[base + ty.i1 * u.W + tx.i1]);
  y[u.outBase + e] = top + bottom;
`,
);

const BACKWARD_SOURCE = perElementKernel(
  'gy',
  'gx',
  /* wgsl */ `  let hw = u.H * u.W;
  let plane = e / hw;
  let iy = (e % hw) / u.W;
  let ix = e % u.W;
  let Ho = 2u * u.H;
  let Wo = 2u * u.W;
  let base = u.outBase + plane * Ho * Wo;
  var acc = 0.0;
  // Outputs 2i − 1 … 2i + 2 (those inside the image) are the only ones that read input i along an axis.
  for (var dy = 0u; dy < 4u; dy++) {
    let oy = 2u * iy + dy;
    if (oy == 0u || oy > Ho) { continue; }
    let wy = axisWeight(oy - 1u, iy, u.H);
    if (wy == 0.0) { continue; }
    var row = 0.0;
    for (var dx = 0u; dx < 4u; dx++) {
      let ox = 2u * ix + dx;
      if (ox == 0u || ox > Wo) { continue; }
      row += axisWeight(ox - 1u, ix, u.W) * gy[base + (oy - 1u) * Wo + ox - 1u];
    }
    acc += wy * row;
  }
  gx[u.inBase + e] = acc;
`,
);

function run(
  ctx: KernelContext,
  source: string,
  label: string,
  read: BufferRange,
  write: BufferRange,
  readIsOutput: boolean,
  planes: number,
  H: number,
  W: number,
): void {
  const hw = H * W;
  // The 2H×2W side is the larger binding: chunks are sized by it.
  for (const c of channelChunks(ctx, planes, 4 * hw, label)) {
    const small = elementWindow(ctx, readIsOutput ? write : read, c.start * hw, c.count * hw);
    const large = elementWindow(ctx, readIsOutput ? read : write, c.start * 4 * hw, c.count * 4 * hw);
    const count = c.count * (readIsOutput ? hw : 4 * hw);
    const [inWin, outWin] = readIsOutput ? [large, small] : [small, large];
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline(source, label),
      bindings: [inWin.range, outWin.range],
      uniforms: UNIFORMS.pack({
        // inBase/outBase name the [P, H, W] side and the [P, 2H, 2W] side in both shaders.
        inBase: small.base,
        outBase: large.base,
        count,
        H,
        W,
      }),
      workgroups: workgroupGrid(ctx, Math.ceil(count / WG)),
    });
  }
}

export function upsampleBilinear2xForward(ctx: KernelContext, a: UpsampleBilinear2xArgs): void {
  const label = `upsampleBilinear2xForward [${a.planes},${a.height},${a.width}]`;
  run(ctx, FORWARD_SOURCE, label, a.input, a.out, false, a.planes, a.height, a.width);
}

export function upsampleBilinear2xBackward(ctx: KernelContext, a: UpsampleBilinear2xBackwardArgs): void {
  const label = `upsampleBilinear2xBackward [${a.planes},${2 * a.height},${2 * a.width}]`;
  run(ctx, BACKWARD_SOURCE, label, a.gradOut, a.gradInput, true, a.planes, a.height, a.width);
}
