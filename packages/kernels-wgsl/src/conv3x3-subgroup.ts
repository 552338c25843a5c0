/**
 * conv3x3 for CPU adapters (lavapipe/llvmpipe): the "subgroup" variant. Measured design (bench/NOTES.md):
 * on llvmpipe every storage load whose offset is not a compile-time constant — including workgroup-uniform
 * addresses and every load inside a loop — becomes a per-lane loop of ~10 instructions, while an 8-wide FMA
 * costs ~0.4 ns and subgroup shuffles/broadcasts are 1–2 instructions. So these kernels issue as few load
 * operations as possible, always vec4, and share every loaded value across the 8 SIMD lanes with subgroup ops.
 *
 * Forward (and dgrad, the same kernel on the output gradient with flipped, transposed weights): a subgroup of 8
 * lanes owns 32 consecutive pixels of a grid of Wq-wide rows (Wq = W rounded up to 4; lane l owns pixels 4l..4l+3,
 * always in one row), `rows` output rows per grid row and R output channels: by default two rows × 8 channels
 * (16 channels on planes ≥ 64²; one row of 16 on planes of ≤ 16 pixels: `subgroupConvBlocking`), i.e. 64 (128)
 * accumulators per lane. Per input channel: one vec4 load per input row (rows + 2 of them), the halo columns from
 * the neighbouring lanes by subgroupShuffle; the 9·R weights of this channel spread over the lanes — from a packed
 * copy [Cout/R][Cin][9][R] by ⌈9R/32⌉ vec4 loads, or in place from [Cout][Cin][3][3] by 9 scalar loads of one row
 * per lane (a training step on small planes: no packing pass) — made uniform by subgroupBroadcast; each weight
 * broadcast once for all the lane's rows. 36·R·rows FMAs per lane per channel. Workgroup = one subgroup.
 *
 * What llvmpipe makes of it (GALLIVM_DEBUG=asm, bench/NOTES.md): NIR lowers every fma to a multiply and an add;
 * each vec4 load is 4 bounds-checked element loads per lane; the accumulators live in stack slots. So the cost
 * is element loads per FMA and code size, which two rows per lane cut (4 row loads for 2 rows, half the weight
 * loads and broadcasts per FMA).
 *
 * wgrad: lanes over input channels, each with its own input rows; the gradient (identical for all lanes) is
 * loaded cooperatively and fanned out by subgroupBroadcast (see `subgroupWgradSource`).
 */
import { elementWindow, memoSource, uniformBlock } from './layout.ts';
import type { BufferRange, ContentKey, KernelContext } from './runtime.ts';
import {
  blockWeight,
  forwardKernelSource,
  runSubgroupForwardPasses,
  runSubgroupWgradPasses,
  SUBGROUP_FORWARD_UNIFORMS,
  type SubgroupForwardKernel,
  type SubgroupForwardRun,
  subgroupWgradUniforms,
  tapRowWindows,
  type WeightLayout,
  wgradKernelSource,
} from './subgroup-codegen.ts';

/**
 * Output channels per subgroup: `max` (16: 64 accumulators per lane, the best where the CPU has 32 vector
 * registers, e.g. AVX-512; 8 where it has 16, e.g. AVX2: bench/NOTES.md), or Cout rounded up to 4 if smaller.
 */
export function subgroupBlock(cout: number, max = 16): number {
  return cout >= max ? max : Math.ceil(cout / 4) * 4;
}

/**
 * The register block of the forward/dgrad kernel: up to `maxR` output channels (`subgroupBlock`) × `rows` output
 * rows per lane.
 */
export interface SubgroupBlocking {
  maxR: number;
  rows: number;
}

/**
 * The forward/dgrad kernel's default register block for an H × W plane. Two output rows per lane share every
 * weight broadcast and load 4 input rows for 2 (bench/NOTES.md, "Two output rows per lane"): with 8 channels
 * (64 accumulators, as one row of 16) on planes up to 32², with 16 (128, spilled) on larger ones, where the
 * rows' loads weigh more; one row of 16 on planes of ≤ 16 pixels, where a second row leaves lanes idle.
 */
export function subgroupConvBlocking(H: number, W: number): SubgroupBlocking {
  if (H * W <= 16) return { maxR: 16, rows: 1 };
  return { maxR: H * W >= 64 * 64 ? 16 : 8, rows: 2 };
}

/**
 * Pack weights for the subgroup kernels: forward [Cout][Cin][9] -> [⌈Cout/R⌉][Cin][9][R]; dgrad (the forward
 * convolution of the output gradient) uses w'[ci][co][t] = w[co][ci][8 − t] packed the same way, for the input
 * channels [outOffset, outOffset + outCount) of one concatenated segment; 'transpose' is dgrad without the tap
 * flip (the transposed convolution's forward, whose weight is [Cin][Cout]). Zero-padded to whole blocks.
 *
 * It is a permutation, so its cost is memory operations (per-lane loops on llvmpipe): each invocation makes 4
 * consecutive r of one (block, channel) for all 9 taps. The 9 source taps of one (co, ci) are contiguous: three
 * aligned vec4 loads cover them at any alignment and selects pick the taps; the results leave as 9 vec4 stores.
 * That is 21 memory operations per 36 weights instead of 72 for a load and a store per weight.
 */
const PACK_UNIFORMS = uniformBlock(['wBase', 'outOffset', 'cin', 'redCh', 'outCount', 'perBlock', 'lastWord']);

export type PackMode = 'forward' | 'dgrad' | 'transpose';

const packSource = memoSource(({ mode, R }: { mode: PackMode; R: number }): string => {
  // Element index of tap 0 of output channel o (of the block layout) and reduction channel c, in w.
  const run = (o: string) => (mode === 'forward' ? `(${o} * u.cin + c) * 9u` : `(c * u.cin + u.outOffset + ${o}) * 9u`);
  const lines: string[] = [];
  for (let j = 0; j < 4; j++) {
    lines.push(`  let o${j} = oBase + ${j}u;`);
    lines.push(`  let e${j} = u.wBase + ${run(`o${j}`)};`);
    lines.push(`  let a${j} = e${j} / 4u; let s${j} = e${j} % 4u;`);
    for (let k = 0; k < 3; k++) lines.push(`  let f${j}_${k} = w4[min(a${j} + ${k}u, u.lastWord)];`);
    lines.push(`  let ok${j} = o${j} < u.outCount;`);
  }
  const comp = (j: number, i: number) => `f${j}_${Math.floor(i / 4)}[${i % 4}]`;
  const pick = (j: number, t: number) => {
    // Element (shift + t) of the 12 floats f_0..f_2, shift ∈ {0, 1, 2, 3} per lane.
    const v = [0, 1, 2, 3].map((sh) => comp(j, sh + t));
    return `select(0.0, select(select(select(${v[0]}, ${v[1]}, s${j} == 1u), ${v[2]}, s${j} == 2u), ${v[3]}, s${j} == 3u), ok${j})`;
  };
  for (let t = 0; t < 9; t++) {
    const src = mode === 'dgrad' ? 8 - t : t;
    lines.push(
      `  packed[((blk * u.redCh + c) * 9u + ${t}u) * ${R / 4}u + q] = vec4<f32>(${[0, 1, 2, 3].map((j) => pick(j, src)).join(', ')});`,
    );
  }
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> w4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> packed: array<vec4<f32>>;
${PACK_UNIFORMS.wgsl}
@group(0) @binding(2) var<uniform> u: Params;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Workgroup y = output block: no runtime division (llvmpipe scalarises vector divides, 8 per lane group).
  let i = wid.x * 64u + lid;
  if (i >= u.perBlock) { return; }
  let q = i % ${R / 4}u;
  let c = i / ${R / 4}u;
  let blk = wid.y;
  let oBase = blk * ${R}u + q * 4u;
${lines.join('\n')}
}`;
});

export interface PackedWeights {
  readonly range: BufferRange;
  release(): void;
  readonly R: number;
  /** Reduction channels of the packed tensor (its Cin). */
  readonly channels: number;
}

/**
 * Packed weights for `runSubgroupConv` (release them once the convolution is encoded). Forward: all Cout output
 * channels. dgrad: the forward input channels [outOffset, outOffset + outCount). With the weight's content key
 * and a context that keeps buffers (`ctx.persistent`), the packing is kept and redone only when the weight was
 * written since (inference and validation pack once; a training step, whose Adam update writes every weight,
 * packs once per step as without it); otherwise it goes to scratch memory every call.
 */
export function packConv3x3Weights(
  ctx: KernelContext,
  weight: BufferRange,
  mode: PackMode,
  cout: number,
  cin: number,
  outOffset = 0,
  outCount = mode === 'forward' ? cout : cin,
  R = subgroupBlock(outCount),
  weightKey?: ContentKey,
): PackedWeights {
  const redCh = mode === 'forward' ? cin : cout;
  const total = Math.ceil(outCount / R) * redCh * 9 * R;
  const label = `conv3x3 pack ${mode} weights [${cout},${cin},3,3]`;
  const kept =
    weightKey && ctx.persistent
      ? ctx.persistent(`${weightKey.id} ${label} R${R} ${outOffset}+${outCount}`, weightKey.version, total * 4, label)
      : null;
  const keep = () => {};
  if (kept && !kept.stale) return { range: kept.range, release: keep, R, channels: redCh };
  const scratch = kept
    ? { range: kept.range, release: keep }
    : ctx.scratch(total * 4, `conv3x3 ${mode} packed weights`);
  const w = elementWindow(ctx, weight, 0, cout * cin * 9);
  const perBlock = (R / 4) * redCh;
  ctx.dispatch({
    label,
    pipeline: ctx.pipeline(packSource({ mode, R }), label),
    bindings: [w.range, scratch.range],
    uniforms: PACK_UNIFORMS.pack({
      wBase: w.base,
      outOffset,
      cin,
      redCh,
      outCount,
      perBlock,
      lastWord: Math.ceil((w.base + cout * cin * 9) / 4) - 1,
    }),
    workgroups: [Math.ceil(perBlock / 64), Math.ceil(outCount / R)],
  });
  return { range: scratch.range, release: () => scratch.release(), R, channels: redCh };
}

/** What the forward/dgrad source is specialised on; everything else (shapes, epilogue flags) is a uniform. */
export interface SubgroupConvKey {
  R: number;
  /** Subgroup lanes the source is written for (the adapter's fixed subgroup size; see subgroupLanes). */
  lanes: number;
  /** Input and output windows start 16-byte aligned and W % 4 == 0: whole-row vec4 loads and stores. */
  vec: boolean;
  /** 4·lanes % Wq != 0: strips start mid-row, so the first and last lane load their outer halo themselves. */
  needExtra: boolean;
  /** Output rows per lane (default 1): each loaded weight serves `rows` quads, each input row up to 3 outputs. */
  rows?: number;
  /** How the weights are read (default 'packed'). */
  weights?: WeightLayout;
}

/** Forward/dgrad WGSL (see the file comment). Bindings: x4, x1 (same range), w4, bias, y, uniforms. */
export const subgroupConvSource = memoSource((s: SubgroupConvKey): string => {
  const { R, needExtra, lanes } = s;
  const T = s.rows ?? 1;
  const layout = s.weights ?? 'packed';
  const setup = [
    '  let lOK = px != 0u; let rOK = px + 4u < W;',
    `  let sPrev = (sl + ${lanes - 1}u) & ${lanes - 1}u; let sNext = (sl + 1u) & ${lanes - 1}u;`,
  ];
  if (needExtra) setup.push('  let ex = select(min(px + 4u, W - 1u), select(px - 1u, 0u, px == 0u), sl == 0u);');
  for (let d = 0; d < T + 2; d++) {
    // py - 1 wraps to 0xffffffff at the top row: "not ok", read row 0 (clamped) and select zero.
    setup.push(`  let ry${d} = py + ${d}u - 1u; let ok${d} = ry${d} < H;`);
    setup.push(`  let ro${d} = u.xBase + min(ry${d}, H - 1u) * W;`);
  }
  // Per input channel and input row d: the quad's row by one load, its halo columns from the neighbouring lanes.
  const body: string[] = [];
  const loadRow = (d: number) => {
    if (s.vec) body.push(`    let m${d} = select(vec4<f32>(0.0), x4[(xo + ro${d} + px) >> 2u], ok${d});`);
    else {
      const quad = [0, 1, 2, 3].map((i) => `select(0.0, x1[xo + ro${d} + cx${i}], cOK${i})`).join(', ');
      body.push(`    let m${d} = select(vec4<f32>(0.0), vec4<f32>(${quad}), ok${d});`);
    }
    body.push(`    var l${d} = subgroupShuffle(m${d}.w, sPrev); var r${d} = subgroupShuffle(m${d}.x, sNext);`);
    if (needExtra) {
      body.push(`    let e${d} = select(0.0, x1[xo + ro${d} + ex], ok${d});`);
      body.push(`    l${d} = select(l${d}, e${d}, sl == 0u); r${d} = select(r${d}, e${d}, sl == ${lanes - 1}u);`);
    }
    body.push(`    l${d} = select(0.0, l${d}, lOK); r${d} = select(0.0, r${d}, rOK);`);
    body.push(
      `    let v${d}_0 = vec4<f32>(l${d}, m${d}.x, m${d}.y, m${d}.z); let v${d}_2 = vec4<f32>(m${d}.y, m${d}.z, m${d}.w, r${d});`,
    );
  };
  const win = (d: number, kx: number) => (kx === 1 ? `m${d}` : `v${d}_${kx}`);
  // Kernel row kd of output row o reads input row o + kd: rows are loaded as first needed, and each weight is
  // broadcast once for all the lane's output rows.
  for (let d = 0; d < T; d++) loadRow(d);
  for (let kd = 0; kd < 3; kd++) {
    if (kd > 0) loadRow(T - 1 + kd);
    for (let rr = 0; rr < R; rr++) {
      for (let kx = 0; kx < 3; kx++) {
        const w = `vec4<f32>(${blockWeight(layout, rr, kd * 3 + kx, R, lanes)})`;
        if (T === 1) body.push(`    a${rr} = fma(${w}, ${win(kd, kx)}, a${rr});`);
        else {
          body.push(`    { let w = ${w};`);
          for (let o = 0; o < T; o++) body.push(`      a${o}_${rr} = fma(w, ${win(o + kd, kx)}, a${o}_${rr});`);
          body.push('    }');
        }
      }
    }
  }
  const acc = (o: number, r: number) => (T === 1 ? `a${r}` : `a${o}_${r}`);
  const store = (r: number) => {
    const lines: string[] = [];
    for (let o = 0; o < T; o++) {
      lines.push(`      if (py + ${o}u < H) {`);
      lines.push(`      var v = ${acc(o, r)};`, '      if (addBias) { v += vec4<f32>(bias[u.bBase + co]); }');
      lines.push(`      let base = ob + ${o}u * W + co * u.HW;`);
      const prev = s.vec
        ? 'y[base >> 2u]'
        : `vec4<f32>(${[0, 1, 2, 3].map((i) => `select(0.0, y[base + ${i}u], cOK${i})`).join(', ')})`;
      lines.push(`      if (accumulate) { v += ${prev}; }`);
      // select, not max: NaN must propagate (max(NaN, 0) is 0 on x86).
      lines.push('      v = select(v, vec4<f32>(0.0), vec4<bool>(relu) & (v < vec4<f32>(0.0)));');
      if (s.vec) lines.push('      y[base >> 2u] = v;');
      else for (let i = 0; i < 4; i++) lines.push(`      if (cOK${i}) { y[base + ${i}u] = v[${i}]; }`);
      lines.push('      }');
    }
    return lines;
  };
  const accumulators: string[] = [];
  for (let o = 0; o < T; o++) for (let r = 0; r < R; r++) accumulators.push(`  var ${acc(o, r)} = vec4<f32>(0.0);`);
  return forwardKernelSource({
    lanes,
    R,
    rows: T,
    weights: layout,
    // A quad of output pixels is one vec4 when rows are whole quads (a per-lane scalar store is a scatter).
    yElement: s.vec ? 'vec4<f32>' : 'f32',
    vec: s.vec,
    strip: { lines: ['  let tile = linearWorkgroup(vec3<u32>(wid.x, wid.y, 0u), nwg);'], index: 'tile' },
    setup,
    accumulators,
    body,
    epilogue: { setup: '    let ob = u.yBase + py * W + px;', store },
  });
});

/** A forward or dgrad pass of conv3x3 (its planes are H·W; `runSubgroupForwardPasses` names the rest). */
export type SubgroupPass = Omit<SubgroupForwardRun, 'inPlane' | 'outPlane' | 'inputName' | 'outputName' | 'kernel'>;

/** The forward/dgrad kernel for `runSubgroupForwardPasses`. */
const SUBGROUP_CONV: SubgroupForwardKernel = {
  source: ({ R, rows, weights, lanes, needExtra, xVec, yVec }) =>
    subgroupConvSource({ R, rows, weights, lanes, vec: xVec && yVec, needExtra }),
  pack: SUBGROUP_FORWARD_UNIFORMS.pack,
  biasBinding: true,
};

/** out (+)= conv(input) over every image and binding chunk, with the epilogue on the last input chunk. */
export function runSubgroupConv(ctx: KernelContext, p: SubgroupPass): void {
  runSubgroupForwardPasses(ctx, {
    ...p,
    inPlane: p.H * p.W,
    outPlane: p.H * p.W,
    inputName: 'input',
    outputName: 'output',
    kernel: SUBGROUP_CONV,
  });
}

// ---------------- wgrad ----------------

export interface SubgroupWgradPass {
  input: BufferRange;
  inChannels: number;
  /** Offset of this input segment's channel 0 in the weight tensor's Cin. */
  ciOffset: number;
  gradOut: BufferRange;
  outChannels: number;
  gradWeight: BufferRange;
  /** Cin of the weight tensor (all segments). */
  weightCin: number;
  N: number;
  H: number;
  W: number;
  /** Add into gradWeight instead of overwriting it. */
  accumulate: boolean;
  label: string;
  /** Output channels per lane (default `WGRAD_RCO`). */
  rco?: number;
  /** Output rows of a strip (1, the default: 4·L pixels of one row; 2: two rows of 2·L). */
  stripRows?: number;
}

/**
 * wgrad: lane l owns input channel ci = 8·block + l and accumulates Rco output channels × 9 taps. Per strip of
 * 8 quads (one row of 32 pixels by default, or two rows of 16) each lane loads the gradient quad it owns for the
 * Rco channels (cooperative), then walks the strip's quads in a loop: its own input rows for quad j (3 vec4, or 4
 * per column of two quads; the left halo column carried from the previous quad), the gradient values of quad j
 * by shuffle from lane j (4·Rco), 36·Rco FMAs.
 * Broadcasts per FMA: 1/9. (The first version had lanes over co and broadcast the input windows instead, one
 * broadcast per 2 FMAs: 1.65× slower over UNet11's layers; bench/NOTES.md.) Layers with few weights and many
 * pixels split the pixel range over S workgroups writing partial sums, added by a second pass (no atomics;
 * `runSubgroupWgradPasses`, shared with the transposed conv).
 */
export interface WgradKey {
  vec: boolean;
  /** Subgroup lanes the source is written for. */
  lanes: number;
  /** Output channels per lane. */
  R: number;
  /** Output rows of a strip (default 1; see stripQuadPosition). */
  rows?: number;
  /** Quad columns per strip (lanes / rows, or fewer on a plane smaller than a strip). */
  columns: number;
}

/**
 * Output channels per lane: 16 × 9 accumulators (measured with AVX-512's 32 registers: 8 is 1.3× slower, 24 no
 * faster, 32 slower); the 'subgroup-r8' row offers 8 to the tuner.
 */
const WGRAD_RCO = 16;

const WGRAD_UNIFORMS = subgroupWgradUniforms({ blocks: 'nCOB', perGroup: 'COL', rowStride: 'outCin' });

export const subgroupWgradSource = memoSource((s: WgradKey): string => {
  const { lanes } = s;
  const T = s.rows ?? 1;
  // Quad j of a strip is row j % T of column quad c = ⌊j / T⌋ (stripQuadPosition). The quads run in a loop over
  // the columns, not unrolled: 8 unrolled quads of 16 channels are > 96 KB of machine code per strip, far past the
  // instruction cache, and the loop of one column was 1.04–1.22× faster (bench/NOTES.md). Per column: its T + 2
  // input rows; the left halo from the previous column's rows (carried; loaded before the loop for the first
  // column, where a strip may start mid-row: a load in the loop would run in every column, llvmpipe's `select`
  // evaluating both sides), the right one from the next column's rows (the loop runs one column behind its
  // loads), so that per-lane loads, llvmpipe's costliest instructions, are only the rows'.
  const cols = s.columns;
  // Row d (input row y + d − 1) of the quad column at (y, x), as m{name}; −1 wraps to 0xffffffff at the top: "not
  // ok", read row 0 (clamped) and select zero.
  const rowLoad = (d: number, y: string, x: string, name: string, indent: string): string[] => {
    const lines = [`${indent}let ry${name} = ${y} + ${d}u - 1u; let ok${name} = ry${name} < H;`];
    lines.push(`${indent}let ro${name} = xPlane + min(ry${name}, H - 1u) * W;`);
    if (s.vec) lines.push(`${indent}let m${name} = select(vec4<f32>(0.0), x4[(ro${name} + ${x}) >> 2u], ok${name});`);
    else {
      const quad = [0, 1, 2, 3]
        .map((i) => `select(0.0, x1[ro${name} + min(${x} + ${i}u, W - 1u)], ${x} + ${i}u < W)`)
        .join(', ');
      lines.push(`${indent}let m${name} = select(vec4<f32>(0.0), vec4<f32>(${quad}), ok${name});`);
    }
    return lines;
  };
  const quadLoop = (fmas: (lane: string) => string[]) => {
    const lines = ['    let q0y = subgroupBroadcast(py, 0u); let q0x = subgroupBroadcast(px, 0u);'];
    for (let d = 0; d < T + 2; d++) {
      lines.push(`    let h0y${d} = q0y + ${d}u - 1u;`);
      const load = `x1[xPlane + min(h0y${d}, H - 1u) * W + max(q0x, 1u) - 1u]`;
      lines.push(`    var hl${d} = select(0.0, ${load}, h0y${d} < H);`);
    }
    // The loop is one column behind its loads: iteration c loads column c's rows and computes column c − 1, whose
    // right halo is then column c's first pixel (when it continues the row) instead of a load of its own.
    lines.push('    var cy = q0y; var cx = q0x;');
    for (let d = 0; d < T + 2; d++) {
      lines.push(...rowLoad(d, 'cy', 'cx', `p${d}`, '    '));
      lines.push(`    var pm${d} = mp${d};`);
    }
    lines.push(`    for (var c = 1u; c <= ${cols}u; c++) {`);
    lines.push('      let wrap = cx + 4u >= Wq;');
    lines.push(`      let nx = select(cx + 4u, 0u, wrap); let ny = select(cy, cy + ${T}u, wrap);`);
    for (let d = 0; d < T + 2; d++) {
      lines.push(...rowLoad(d, 'ny', 'nx', `${d}`, '      '));
      lines.push(`      let l${d} = select(0.0, hl${d}, cx != 0u);`);
      lines.push(`      let r${d} = select(0.0, m${d}.x, cx + 4u < W);`);
    }
    for (let o = 0; o < T; o++) {
      lines.push('      {');
      for (let d = 0; d < 3; d++) {
        const [m, l, r] = [`pm${o + d}`, `l${o + d}`, `r${o + d}`];
        const windows = [
          `vec4<f32>(${l}, ${m}.x, ${m}.y, ${m}.z)`,
          m,
          `vec4<f32>(${m}.y, ${m}.z, ${m}.w, ${r})`,
        ] as const;
        lines.push(...tapRowWindows('w', d, windows));
      }
      lines.push(...fmas(`(c - 1u) * ${T}u + ${o}u`), '      }');
    }
    for (let d = 0; d < T + 2; d++) lines.push(`      hl${d} = pm${d}.w; pm${d} = m${d};`);
    lines.push('      cx = nx; cy = ny;');
    lines.push('    }');
    return lines;
  };
  // Blocks of Rco output channels (the gradient quads, broadcast), lanes over input channels (their own rows).
  return wgradKernelSource({
    uniforms: WGRAD_UNIFORMS,
    lanes,
    R: s.R,
    vec: s.vec,
    rows: T,
    shapes: '  let H = u.H; let W = u.W; let Wq = u.Wq; let HW = u.HW;',
    blocked: 'g',
    names: { block: 'cob', base: 'coBase', plane: 'HW', quad: 'gq' },
    lanePlane: '    let xPlane = u.xBase + img * u.xImage + ci * HW;',
    beforeQuads: [],
    quadLoop,
    windows: 'w',
  });
});

/** gw (+)= the weight gradient of one input segment: blocks of Rco gradient channels, lanes over input channels. */
export function runSubgroupWgrad(ctx: KernelContext, p: SubgroupWgradPass): void {
  const stripRows = p.stripRows ?? 1;
  runSubgroupWgradPasses(ctx, {
    ...p,
    gradPlane: p.H * p.W,
    rows: 'gradOut',
    columns: p.weightCin,
    columnOffset: p.ciOffset,
    rowsPerLane: () => p.rco ?? WGRAD_RCO,
    source: (R, vec, lanes, columns) => subgroupWgradSource({ vec, lanes, R, rows: stripRows, columns }),
    stripRows,
    uniforms: WGRAD_UNIFORMS,
  });
}
