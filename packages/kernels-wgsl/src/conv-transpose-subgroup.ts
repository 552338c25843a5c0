/**
 * The transposed convolution (3×3, stride 2, padding 1, output_padding 1) for CPU adapters: the "subgroup"
 * variant, built like conv3x3-subgroup.ts (few vec4 loads, values shared across the 8 SIMD lanes by subgroup
 * shuffles and broadcasts, shapes as uniforms). Only real taps are computed, 9 per input pixel and channel pair.
 *
 * Forward: a subgroup owns 32 consecutive input pixels of the H×Wq grid (lane l: pixels 4l..4l+3 of one row)
 * and R = 8 output channels. An input pixel q = (qy, qx) feeds the 2×2 output block (2qy + py, 2qx + px) from
 * the input window x[qy..qy+1, qx..qx+1]:
 *   (0,0) = x00·w11   (0,1) = x01·w10 + x00·w12   (1,0) = x10·w01 + x00·w21
 *   (1,1) = x11·w00 + x10·w02 + x01·w20 + x00·w22            (wKyKx; x01 = x[qy, qx+1], ...)
 * Per input channel: two vec4 row loads, the right neighbour column by a shuffle from the next lane, and the 9R
 * weights (packed [Cout/R][Cin][9][R], see packConv3x3Weights 'transpose', or in a training step on planes up to
 * 16² the 9 taps of one output channel per lane, read from the [Cin][Cout][3][3] tensor as it is) by broadcast:
 * 9R vec4 FMAs into 4R accumulators (the 4 parities × R channels).
 *
 * dgrad: gx[ci, iy, ix] = Σ_co Σ_taps gy[co, 2iy − 1 + ky, 2ix − 1 + kx] · w[ci, co, ky, kx], a stride-2
 * convolution of gy: a lane owns 4 output pixels (iy, ix..ix+3); per gy channel and tap row it loads the 8
 * columns 2ix..2ix+7 as two vec4, takes column 2ix − 1 from the previous lane, and de-interleaves even and odd
 * columns. R = 16 output channels as the conv's forward; weights packed 'forward' from [Cin][Cout], or read in
 * place on planes up to 32² (one input channel's run of Cout·9 per lane row, as conv3x3's forward reads its own).
 *
 * wgrad: gw[ci, co, t] = Σ_pixels x[ci, q] · gy[co, 2q − 1 + t]: lanes over co (each loads its own gy rows,
 * two vec4 per tap row and quad, the left column carried over from the previous quad), the Rci input channels'
 * pixels loaded cooperatively (one quad per lane) and broadcast; Rci × 9 accumulators per lane; split over
 * pixel strips with a second summing pass when the weights are few and the pixels many (as conv3x3's wgrad).
 */
import { packConv3x3Weights, subgroupBlock } from './conv3x3-subgroup.ts';
import { elementWindow, FLAG_ACCUMULATE, memoSource, uniformBlock } from './layout.ts';
import type { BufferRange, ContentKey, KernelContext } from './runtime.ts';
import {
  blockStores,
  blockWeight,
  directWeights,
  forwardKernelSource,
  forwardQuadPosition,
  forwardStyleHeader,
  packedWeightLoop,
  readsWeightsInPlace,
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
 * Output channels per subgroup of the forward: 4 parities × 8 channels = 32 vec4 accumulators. A transposed
 * convolution gives each accumulator only 2.25 taps per input channel (conv3x3: 9), so the per-channel loads and
 * loop are shared by few FMAs; 8 channels instead of 4 halve that share despite the register pressure
 * (bench/NOTES.md: 1.2× over the five UNet11 decoders; 16 was no faster and compiles 5× longer).
 */
const FORWARD_R = 8;

interface ForwardKey {
  /** Output channels per subgroup (FORWARD_R, or Cout rounded up to 4 if smaller). */
  R: number;
  /** Packed weights, or the [Cin][Cout][3][3] tensor read in place ('forward': rows co 9 apart, channels Cout·9). */
  weights: WeightLayout;
  vec: boolean;
  needExtra: boolean;
  /** Subgroup lanes the source is written for. */
  lanes: number;
}

export const convTransposeForwardSource = memoSource((s: ForwardKey): string => {
  const { R, lanes } = s;
  const setup = [
    `  let sNext = (sl + 1u) & ${lanes - 1}u;`,
    '  let rOK = px + 4u < W; let dOK = py + 1u < H;',
    '  let ro0 = u.xBase + py * W; let ro1 = u.xBase + min(py + 1u, H - 1u) * W;',
  ];
  if (s.needExtra) setup.push('  let ex = min(px + 4u, W - 1u);');
  const accumulators: string[] = [];
  for (let r = 0; r < R; r++) for (let k = 0; k < 4; k++) accumulators.push(`  var a${r}_${k} = vec4<f32>(0.0);`);
  // Per input channel: rows py and py + 1 of the quad, each with its right neighbour column (from the next lane).
  const body: string[] = [];
  for (let d = 0; d < 2; d++) {
    const rowOK = d === 0 ? '' : 'dOK';
    const guard = (v: string) => (rowOK ? `select(vec4<f32>(0.0), ${v}, ${rowOK})` : v);
    if (s.vec) body.push(`    let m${d} = ${guard(`x4[(xo + ro${d} + px) >> 2u]`)};`);
    else {
      const quad = [0, 1, 2, 3].map((i) => `select(0.0, x1[xo + ro${d} + cx${i}], cOK${i})`).join(', ');
      body.push(`    let m${d} = ${guard(`vec4<f32>(${quad})`)};`);
    }
    body.push(`    var r${d} = subgroupShuffle(m${d}.x, sNext);`);
    if (s.needExtra) {
      // Strips that end mid-row: lane 7's right neighbour is the next strip's, so it loads it itself.
      const e = `x1[xo + ro${d} + ex]`;
      body.push(`    r${d} = select(r${d}, ${d === 0 ? e : `select(0.0, ${e}, dOK)`}, sl == ${lanes - 1}u);`);
    }
    body.push(`    r${d} = select(0.0, r${d}, rOK);`);
    body.push(`    let s${d} = vec4<f32>(m${d}.y, m${d}.z, m${d}.w, r${d});`);
  }
  // x00 = m0, x01 = s0, x10 = m1, x11 = s1.
  const w = (t: number, r: number) => `vec4<f32>(${blockWeight(s.weights, r, t, R, lanes)})`;
  for (let r = 0; r < R; r++) {
    body.push(`    a${r}_0 = fma(m0, ${w(4, r)}, a${r}_0);`);
    body.push(`    a${r}_1 = fma(s0, ${w(3, r)}, fma(m0, ${w(5, r)}, a${r}_1));`);
    body.push(`    a${r}_2 = fma(m1, ${w(1, r)}, fma(m0, ${w(7, r)}, a${r}_2));`);
    body.push(
      `    a${r}_3 = fma(s1, ${w(0, r)}, fma(m1, ${w(2, r)}, fma(s0, ${w(6, r)}, fma(m0, ${w(8, r)}, a${r}_3))));`,
    );
  }
  // Each accumulator element is one output pixel of the 2×2 block of its input pixel: scalar stores.
  const store = (r: number) => {
    const lines = ['      let b = select(0.0, bias[u.bBase + co], addBias);'];
    for (let py = 0; py < 2; py++) {
      lines.push(`      let row${py} = u.yBase + co * 4u * u.HW + (2u * py + ${py}u) * Wo + 2u * px;`);
      for (let i = 0; i < 4; i++) {
        for (let px = 0; px < 2; px++) {
          const k = 2 * py + px;
          const idx = `row${py} + ${2 * i + px}u`;
          const store = `{ var v = a${r}_${k}[${i}] + b; if (accumulate) { v += y[${idx}]; } y[${idx}] = select(v, 0.0, relu && v < 0.0); }`;
          lines.push(`      ${s.vec ? '' : `if (cOK${i}) `}${store}`);
        }
      }
    }
    return lines;
  };
  return forwardKernelSource({
    lanes,
    R,
    weights: s.weights,
    yElement: 'f32',
    vec: s.vec,
    strip: { lines: [], index: 'linearWorkgroup(vec3<u32>(wid.x, wid.y, 0u), nwg)' },
    setup,
    accumulators,
    body,
    epilogue: { setup: '    let Wo = 2u * W;', store },
  });
});

export interface ConvTransposeGeometry {
  N: number;
  cin: number;
  cout: number;
  H: number;
  W: number;
}

/** The forward kernel for `runSubgroupForwardPasses` (its stores are scalar: only the input need be aligned). */
const FORWARD_KERNEL: SubgroupForwardKernel = {
  source: ({ R, weights, lanes, needExtra, xVec }) =>
    convTransposeForwardSource({ R, weights, vec: xVec, needExtra, lanes }),
  pack: SUBGROUP_FORWARD_UNIFORMS.pack,
  biasBinding: true,
};

/**
 * y (+)= convTranspose(x) + bias, ReLU on the last input chunk; weight [Cin][Cout][3][3], read in place in
 * training on planes up to 16² (`readsWeightsInPlace`; at 32² in place lost 4–6 %), packed otherwise.
 */
export function runSubgroupConvTransposeForward(
  ctx: KernelContext,
  g: ConvTransposeGeometry,
  a: {
    input: BufferRange;
    weight: BufferRange;
    weightKey?: ContentKey;
    inference?: boolean;
    bias: BufferRange | null;
    out: BufferRange;
    relu: boolean;
  },
  label: string,
): void {
  const { cin, cout } = g;
  const R = subgroupBlock(cout, FORWARD_R);
  const pass = {
    ...g,
    ...a,
    inChannels: cin,
    ciOffset: 0,
    outChannels: cout,
    inPlane: g.H * g.W,
    outPlane: 4 * g.H * g.W,
    firstWrites: true,
    label,
    inputName: 'input',
    outputName: 'output',
    kernel: FORWARD_KERNEL,
  };
  const inPlace = readsWeightsInPlace(ctx, g.H, g.W, a.inference === true && a.weightKey !== undefined, 16 * 16);
  runWithWeights(ctx, g, pass, a, 'cout', R, inPlace);
}

/**
 * `pass` with the [Cin][Cout][3][3] weight in blocks of R output channels (`rows` 'cout', the forward: the input
 * channels are the reduction) or of R input channels ('cin', the dgrad: the output channels are), read in place
 * (taps as stored; block rows 9 or Cout·9 apart) or from a packed copy.
 */
function runWithWeights(
  ctx: KernelContext,
  g: ConvTransposeGeometry,
  pass: Omit<SubgroupForwardRun, 'weights'>,
  a: { weight: BufferRange; weightKey?: ContentKey },
  rows: 'cout' | 'cin',
  R: number,
  inPlace: boolean,
): void {
  const { cin, cout } = g;
  const channels = rows === 'cout' ? cin : cout;
  if (inPlace) {
    const w = elementWindow(ctx, a.weight, 0, cin * cout * 9);
    const strides = rows === 'cout' ? { row: 9, channel: cout * 9 } : { row: cout * 9, channel: 9 };
    const direct = directWeights(w, cin * cout * 9, 'forward', R, strides);
    runSubgroupForwardPasses(ctx, { ...pass, weights: { range: w.range, R, channels, direct } });
    return;
  }
  // Packed [blocks][channels][9][R] from the weight read as a conv weight [cout'=Cin][cin'=Cout]: transposed for
  // the forward, as it is for the dgrad.
  const weights =
    rows === 'cout'
      ? packConv3x3Weights(ctx, a.weight, 'transpose', cin, cout, 0, cout, R, a.weightKey)
      : packConv3x3Weights(ctx, a.weight, 'forward', cin, cout, 0, cin, R, a.weightKey);
  runSubgroupForwardPasses(ctx, { ...pass, weights });
  weights.release();
}

// ---------------- dgrad ----------------

interface DgradKey {
  R: number;
  /** Packed weights, or the [Cin][Cout][3][3] tensor read in place ('forward': rows ci Cout·9 apart, channels 9). */
  weights: WeightLayout;
  vec: boolean;
  needExtra: boolean;
  lanes: number;
}

const DGRAD_UNIFORMS = uniformBlock([
  'gBase',
  'yBase',
  'woBase',
  'H',
  'W',
  'Wq',
  'HW',
  'HWq',
  'redCount',
  'outCount',
  'blockStride',
  'wRowStride',
  'wChStride',
  'wLast',
  'accumulate',
]);

export const convTransposeDgradSource = memoSource((s: DgradKey): string => {
  const { R, lanes } = s;
  const L: string[] = [];
  const out = (line: string) => L.push(line);
  // gy as vec4 and scalar views (g4, g1), the weights (packed vec4, or the tensor's floats), gx (y); no bias.
  const direct = s.weights !== 'packed';
  const storage = [
    ['g4', 'array<vec4<f32>>'],
    ['g1', 'array<f32>'],
    direct ? (['w1', 'array<f32>'] as const) : (['w4', 'array<vec4<f32>>'] as const),
    ['y', 'array<f32>'],
  ] as const;
  for (const line of forwardStyleHeader(storage, DGRAD_UNIFORMS.wgsl, lanes, ['g4', 'g1'])) out(line);
  out('  let H = u.H; let W = u.W; let Wq = u.Wq; let Wo = 2u * W;');
  for (const line of forwardQuadPosition('linearWorkgroup(vec3<u32>(wid.x, wid.y, 0u), nwg)', lanes)) out(line);
  out(`  let sPrev = (sl + ${lanes - 1}u) & ${lanes - 1}u;`);
  out('  let lOK = px != 0u;');
  out('  let c0 = 2u * px;');
  for (let ky = 0; ky < 3; ky++) {
    // gy row 2·py − 1 + ky; −1 wraps to 0xffffffff: "not ok", read row 0 and select zero.
    out(`  let gr${ky} = 2u * py + ${ky}u - 1u; let ok${ky} = gr${ky} < 2u * H;`);
    out(`  let go${ky} = u.gBase + min(gr${ky}, 2u * H - 1u) * Wo;`);
  }
  if (!s.vec) for (let i = 0; i < 8; i++) out(`  let cc${i} = min(c0 + ${i}u, Wo - 1u);`);
  for (let r = 0; r < R; r++) out(`  var a${r} = vec4<f32>(0.0);`);
  // Per gy channel and tap row ky: the 8 gy columns 2px − 1 .. 2px + 7 of the quad's 4 pixels, de-interleaved.
  const body: string[] = [];
  for (let ky = 0; ky < 3; ky++) {
    body.push('    {');
    if (s.vec) {
      body.push(`      let v0 = x4ok(g4[(xo + go${ky} + c0) >> 2u], ok${ky});`);
      body.push(`      let v1 = x4ok(g4[(xo + go${ky} + c0 + 4u) >> 2u], ok${ky});`);
    } else {
      // Columns past the row end belong to pixels past W, which are not stored: clamped loads, any finite value.
      for (let h = 0; h < 2; h++) {
        const quad = [0, 1, 2, 3].map((i) => `g1[xo + go${ky} + cc${4 * h + i}]`).join(', ');
        body.push(`      let v${h} = x4ok(vec4<f32>(${quad}), ok${ky});`);
      }
    }
    body.push('      var l = subgroupShuffle(v1.w, sPrev);');
    if (s.needExtra) {
      // Strips that start mid-row: lane 0's left column is the previous strip's, so it loads it itself.
      body.push(`      l = select(l, select(0.0, g1[xo + go${ky} + max(c0, 1u) - 1u], ok${ky}), sl == 0u);`);
    }
    body.push('      l = select(0.0, l, lOK);');
    body.push('      let k0 = vec4<f32>(l, v0.y, v0.w, v1.y);');
    body.push('      let k1 = vec4<f32>(v0.x, v0.z, v1.x, v1.z);');
    body.push('      let k2 = vec4<f32>(v0.y, v0.w, v1.y, v1.w);');
    const w = (t: number, r: number) => `vec4<f32>(${blockWeight(s.weights, r, t, R, lanes)})`;
    for (let r = 0; r < R; r++) {
      body.push(
        `      a${r} = fma(k0, ${w(3 * ky, r)}, fma(k1, ${w(3 * ky + 1, r)}, fma(k2, ${w(3 * ky + 2, r)}, a${r})));`,
      );
    }
    body.push('    }');
  }
  const gyLoop = { channel: 'co', count: 'u.redCount', plane: '4u * u.HW' };
  for (const line of packedWeightLoop(R, lanes, gyLoop, body, direct)) out(line);
  const store = (r: number) => [
    `      let base = ob + (cb * ${R}u + ${r}u) * u.HW;`,
    ...[0, 1, 2, 3].map((i) => {
      const store = `{ var v = a${r}[${i}]; if (keep) { v += y[base + ${i}u]; } y[base + ${i}u] = v; }`;
      return `      ${s.vec ? '' : `if (px + ${i}u < W) `}${store}`;
    }),
  ];
  const setup = ['    let keep = u.accumulate != 0u;', '    let ob = u.yBase + py * W + px;'];
  for (const line of blockStores(R, 'u.outCount', setup, store)) out(line);
  out('fn x4ok(v: vec4<f32>, ok: bool) -> vec4<f32> { return select(vec4<f32>(0.0), v, ok); }');
  return L.join('\n');
});

/** The dgrad kernel for `runSubgroupForwardPasses`: gy is its input; it binds no bias and only accumulates. */
const DGRAD_KERNEL: SubgroupForwardKernel = {
  source: ({ R, weights, lanes, needExtra, xVec }) =>
    convTransposeDgradSource({ R, weights, vec: xVec, needExtra, lanes }),
  pack: (v) =>
    DGRAD_UNIFORMS.pack({
      ...v,
      gBase: v.xBase,
      redCount: v.ciCount,
      outCount: v.coCount,
      accumulate: v.flags & FLAG_ACCUMULATE ? 1 : 0,
    }),
  biasBinding: false,
};

/**
 * gx = dgrad(gy); weight [Cin][Cout][3][3] (read in place or packed, as the forward); gx written (chunks of gy
 * channels accumulate).
 */
export function runSubgroupConvTransposeDgrad(
  ctx: KernelContext,
  g: ConvTransposeGeometry,
  a: { gradOut: BufferRange; weight: BufferRange; weightKey?: ContentKey; gradInput: BufferRange },
  label: string,
): void {
  const { cin, cout } = g;
  const R = subgroupBlock(cin);
  // The forward convolution of gy (cout channels of 2H × 2W) into gx, reduction over gy's channels.
  const pass = {
    ...g,
    input: a.gradOut,
    inChannels: cout,
    ciOffset: 0,
    out: a.gradInput,
    outChannels: cin,
    inPlane: 4 * g.H * g.W,
    outPlane: g.H * g.W,
    bias: null,
    firstWrites: true,
    relu: false,
    label,
    inputName: 'gradOut',
    outputName: 'gradInput',
    kernel: DGRAD_KERNEL,
  };
  runWithWeights(ctx, g, pass, a, 'cin', R, readsWeightsInPlace(ctx, g.H, g.W, false));
}

// ---------------- wgrad ----------------

/** What the wgrad source is specialised on; shapes and the accumulate flag are uniforms. */
interface WgradKey {
  Rci: number;
  vec: boolean;
  lanes: number;
  /** Quad columns per strip (lanes, or fewer on a plane smaller than a strip; strips are one row here). */
  columns: number;
}

const WGRAD_UNIFORMS = subgroupWgradUniforms({ blocks: 'nCIB', perGroup: 'CIL', rowStride: 'rowStride' });

export const convTransposeWgradSource = memoSource((s: WgradKey): string => {
  const { Rci, lanes } = s;
  // This lane's gy windows at the loop's quad j: per tap row, the 8 columns 2qx − 1 .. 2qx + 7, de-interleaved.
  const windows = () => {
    const lines = [
      '      let qy = subgroupShuffle(py, j); let qx = subgroupShuffle(px, j);',
      '      let lOK = qx != 0u; let c0 = 2u * qx;',
    ];
    for (let ky = 0; ky < 3; ky++) {
      lines.push(`      let gr${ky} = 2u * qy + ${ky}u - 1u; let ok${ky} = gr${ky} < 2u * H;`);
      lines.push(`      let go${ky} = gPlane + min(gr${ky}, 2u * H - 1u) * Wo;`);
      if (s.vec) {
        lines.push(`      let v${ky}_0 = select(vec4<f32>(0.0), g4[(go${ky} + c0) >> 2u], ok${ky});`);
        lines.push(`      let v${ky}_1 = select(vec4<f32>(0.0), g4[(go${ky} + c0 + 4u) >> 2u], ok${ky});`);
      } else {
        for (let h = 0; h < 2; h++) {
          const quad = [0, 1, 2, 3].map((i) => `g1[go${ky} + min(c0 + ${4 * h + i}u, Wo - 1u)]`).join(', ');
          lines.push(`      let v${ky}_${h} = select(vec4<f32>(0.0), vec4<f32>(${quad}), ok${ky});`);
        }
      }
      // Column 2qx − 1: the previous quad's last one when it is in the same row (at j = 0 loaded before the loop).
      lines.push(`      let l${ky} = select(0.0, tail${ky}, lOK);`);
      lines.push(`      tail${ky} = v${ky}_1.w;`);
      const [a, b] = [`v${ky}_0`, `v${ky}_1`];
      const even = `vec4<f32>(${a}.x, ${a}.z, ${b}.x, ${b}.z)`;
      const odd = `vec4<f32>(${a}.y, ${a}.w, ${b}.y, ${b}.w)`;
      lines.push(...tapRowWindows('k', ky, [`vec4<f32>(l${ky}, ${a}.y, ${a}.w, ${b}.y)`, even, odd]));
    }
    return lines;
  };
  // The strip's quads in a loop, not unrolled: unrolled, 8 quads × 16 channels × 9 taps were more machine code than
  // the instruction cache holds, and the loop was 1.3–1.8× faster (bench/NOTES.md).
  const loop = (fmas: (lane: string) => string[]) => [
    `    for (var j = 0u; j < ${s.columns}u; j++) {`,
    ...windows(),
    ...fmas('j'),
    '    }',
  ];
  // Blocks of Rci input channels (their pixels, broadcast), lanes over output channels (their own gy rows).
  return wgradKernelSource({
    uniforms: WGRAD_UNIFORMS,
    lanes,
    R: Rci,
    vec: s.vec,
    shapes: '  let H = u.H; let W = u.W; let Wq = u.Wq; let Wo = 2u * W;',
    blocked: 'x',
    names: { block: 'cib', base: 'cBase', plane: 'u.HW', quad: 'm' },
    lanePlane: '    let gPlane = u.gBase + img * u.gImage + co * 4u * u.HW;',
    // The quads of the strip in turn, their position from the lane that owns them (no division per quad).
    // The first quad's left gy column (a strip may start mid-row), loaded here and not in the loop, where
    // llvmpipe's `select` would load it at every quad.
    beforeQuads: [
      '    let q0y = subgroupBroadcast(py, 0u); let q0x = subgroupBroadcast(px, 0u);',
      ...[0, 1, 2].map((ky) => {
        const row = `gPlane + min(2u * q0y + ${ky}u - 1u, 2u * H - 1u) * Wo`;
        const ok = `2u * q0y + ${ky}u - 1u < 2u * H`;
        return `    var tail${ky} = select(0.0, g1[${row} + max(2u * q0x, 1u) - 1u], ${ok});`;
      }),
    ],
    quadLoop: loop,
    windows: 'k',
  });
});

/** gw = wgrad(x, gy) (+= with accumulate), gw [Cin][Cout][3][3]; images accumulate. */
export function runSubgroupConvTransposeWgrad(
  ctx: KernelContext,
  g: ConvTransposeGeometry,
  a: { input: BufferRange; gradOut: BufferRange; gradWeight: BufferRange; accumulate?: boolean },
  label: string,
): void {
  runSubgroupWgradPasses(ctx, {
    ...a,
    inChannels: g.cin,
    outChannels: g.cout,
    gradPlane: 4 * g.H * g.W,
    rows: 'input',
    columns: g.cout,
    columnOffset: 0,
    N: g.N,
    H: g.H,
    W: g.W,
    accumulate: a.accumulate ?? false,
    label,
    // Two block sizes only (channels past the chunk are clamped and not stored), one shader each (cold, on
    // llvmpipe, with the quads unrolled, Rci = 8 / 16 / 32 took 7 / 15 / 42 s to compile). 16 measured fastest.
    rowsPerLane: (rows) => (rows >= 16 ? 16 : 4),
    source: (Rci, vec, lanes, columns) => convTransposeWgradSource({ Rci, vec, lanes, columns }),
    uniforms: WGRAD_UNIFORMS,
  });
}
