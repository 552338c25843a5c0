/**
 * Strided block copy: dst[dstBase + r·dstStride + c] = src[srcBase + r·srcStride + c] for r < rows, c < cols.
 * Channel concatenation of NCHW tensors is this copy with rows = N and cols = C_i·H·W (and its backward, the
 * split, is the same copy the other way).
 *
 * Tiling: one invocation per element, 256 per workgroup. When the source or destination of all rows exceeds
 * one storage binding, the rows are processed in chunks; a single row must fit one binding.
 */
import {
  assertBindable,
  elementWindow,
  f32Bindings,
  maxBindingElements,
  packUniforms,
  perElementMain,
  workgroupGrid,
} from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface CopyBlockArgs {
  readonly src: BufferRange;
  readonly dst: BufferRange;
  readonly rows: number;
  readonly cols: number;
  /** Elements between consecutive rows of src / dst. */
  readonly srcStride: number;
  readonly dstStride: number;
  /** Element offset of row 0 in src / dst. */
  readonly srcOffset?: number;
  readonly dstOffset?: number;
}

const WG = 256;
const SOURCE = /* wgsl */ `
${f32Bindings(['src'], 'dst', 'struct Params { rows: u32, cols: u32, srcStride: u32, dstStride: u32, srcBase: u32, dstBase: u32 }')}
${perElementMain(WG, 'i', 'u.rows * u.cols')}
  let r = i / u.cols;
  let c = i - r * u.cols;
  dst[u.dstBase + r * u.dstStride + c] = src[u.srcBase + r * u.srcStride + c];
}`;

export function copyBlock(ctx: KernelContext, args: CopyBlockArgs): void {
  const { rows, cols, srcStride, dstStride } = args;
  if (rows === 0 || cols === 0) return;
  const srcOffset = args.srcOffset ?? 0;
  const dstOffset = args.dstOffset ?? 0;
  const label = `copyBlock ${rows}x${cols}`;
  assertBindable(ctx, `${label} (one row)`, Math.max(srcStride, dstStride, cols));
  const pipeline = ctx.pipeline(SOURCE, 'copyBlock');
  const limit = maxBindingElements(ctx);
  const rowSpan = Math.max(srcStride, dstStride, cols);
  const rowsPerChunk = Math.max(1, Math.min(rows, Math.floor((limit - cols) / rowSpan) + 1));
  if (rows * cols > 0xffffffff) throw new RangeError(`${label}: too many elements for one dispatch`);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - r0);
    const s = elementWindow(ctx, args.src, srcOffset + r0 * srcStride, (n - 1) * srcStride + cols);
    const d = elementWindow(ctx, args.dst, dstOffset + r0 * dstStride, (n - 1) * dstStride + cols);
    ctx.dispatch({
      label,
      pipeline,
      bindings: [s.range, d.range],
      uniforms: packUniforms([n, cols, srcStride, dstStride, s.base, d.base]),
      workgroups: workgroupGrid(ctx, Math.ceil((n * cols) / WG)),
    });
  }
}
