/**
 * Adam over a flat arena of parameters (one dispatch for the whole model), with torch.optim.Adam's semantics:
 *   g ← grad + λ·θ (L2 weight decay, as Adam's `weight_decay`), m ← β1 m + (1 − β1) g, v ← β2 v + (1 − β2) g²,
 *   θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)   (ε outside the square root).
 * The bias corrections are computed on the CPU in float64 each step and passed as uniforms.
 *
 * Tiling: one invocation per parameter (or per four, see `adamSource`), 256 per workgroup; arenas over one
 * binding run in chunks.
 */
import { elementChunks, elementWindow, memoSource, packUniforms, perElementMain, workgroupGrid } from './layout.ts';
import type { BufferRange, KernelContext } from './runtime.ts';

export interface AdamArgs {
  readonly params: BufferRange;
  readonly grads: BufferRange;
  readonly m: BufferRange;
  readonly v: BufferRange;
  readonly count: number;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1-based step number after this update. */
  readonly step: number;
}

/**
 * `lanes` = 4: each invocation updates four consecutive parameters through vec4 loads and stores. llvmpipe runs
 * invocations as SIMD lanes and turns a scalar per-lane load into a gather; a vec4 per lane is one contiguous
 * 16-byte load, so the kernel moves closer to copy bandwidth. Needs every base and the count a multiple of 4.
 */
const adamSource = memoSource(
  (lanes: 1 | 4) => /* wgsl */ `
alias T = ${lanes === 4 ? 'vec4<f32>' : 'f32'};
@group(0) @binding(0) var<storage, read_write> theta: array<T>;
@group(0) @binding(1) var<storage, read> grad: array<T>;
@group(0) @binding(2) var<storage, read_write> m: array<T>;
@group(0) @binding(3) var<storage, read_write> v: array<T>;
struct Params { n: u32, pBase: u32, gBase: u32, mBase: u32, vBase: u32,
                stepSize: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, bc2Sqrt: f32 }
@group(0) @binding(4) var<uniform> u: Params;
${perElementMain(256, 'i', 'u.n')}
  let p = theta[u.pBase + i];
  let g = grad[u.gBase + i] + u.weightDecay * p;
  let mi = u.beta1 * m[u.mBase + i] + (1.0 - u.beta1) * g;
  let vi = u.beta2 * v[u.vBase + i] + (1.0 - u.beta2) * g * g;
  m[u.mBase + i] = mi;
  v[u.vBase + i] = vi;
  theta[u.pBase + i] = p - u.stepSize * mi / (sqrt(vi) / u.bc2Sqrt + u.eps);
}`,
);

export function adamUpdate(ctx: KernelContext, a: AdamArgs): void {
  const label = `adam [${a.count}]`;
  const stepSize = a.lr / (1 - a.beta1 ** a.step);
  const bc2Sqrt = Math.sqrt(1 - a.beta2 ** a.step);
  // Chunks of a multiple of 4 elements keep every chunk's bases as aligned as the first.
  for (const { start, count: n } of elementChunks(ctx, a.count, 4)) {
    const [p, g, m, v] = [a.params, a.grads, a.m, a.v].map((r) => elementWindow(ctx, r, start, n)) as [
      ReturnType<typeof elementWindow>,
      ReturnType<typeof elementWindow>,
      ReturnType<typeof elementWindow>,
      ReturnType<typeof elementWindow>,
    ];
    const lanes = [n, p.base, g.base, m.base, v.base].every((k) => k % 4 === 0) ? 4 : 1;
    ctx.dispatch({
      label,
      pipeline: ctx.pipeline(adamSource(lanes), lanes === 4 ? 'adam (vec4)' : 'adam'),
      bindings: [p.range, g.range, m.range, v.range],
      uniforms: packUniforms(
        [n / lanes, p.base / lanes, g.base / lanes, m.base / lanes, v.base / lanes],
        [stepSize, a.beta1, a.beta2, a.eps, a.weightDecay, bc2Sqrt],
      ),
      workgroups: workgroupGrid(ctx, Math.ceil(n / lanes / 256)),
    });
  }
}
