/**
 * `bench ceiling`: what the adapter can do at best, the denominators of the "% of ceiling" columns.
 * - compute: a register-only FMA loop (vec4 accumulators, no memory traffic but one store per invocation);
 * - bandwidth: a vec4 copy of 64 MiB.
 */
import { type Device, rand } from '@ternausnet/tensor';
import { type Timing, timeKernel } from './timing.ts';

export interface Ceiling {
  gflops: number;
  gbps: number;
  fma: Timing;
  copy: Timing;
}

const FMA_ITERS = 4096;
const FMA_WORKGROUPS = 1024;
const FMA_WG = 64;

const FMA_SOURCE = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(${FMA_WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  // Eight independent accumulator chains hide the FMA latency; the loop bound is a constant the compiler sees.
  let s = f32(g.x) * 1e-7;
  var a0 = vec4<f32>(s); var a1 = a0 + 1.0; var a2 = a0 + 2.0; var a3 = a0 + 3.0;
  var a4 = a0 + 4.0; var a5 = a0 + 5.0; var a6 = a0 + 6.0; var a7 = a0 + 7.0;
  let m = vec4<f32>(0.999999);
  let c = vec4<f32>(1e-6);
  for (var i = 0u; i < ${FMA_ITERS}u; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  out[g.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}`;

const COPY_FLOATS = 16 * 2 ** 20;
const COPY_SOURCE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let i = g.y * n.x * 256u + g.x;
  if (i < ${COPY_FLOATS / 4}u) { dst[i] = src[i]; }
}`;

export async function measureCeiling(device: Device, runs: number, warmup: number): Promise<Ceiling> {
  const out = rand([FMA_WORKGROUPS * FMA_WG * 4], { seed: 1 });
  const fmaPipeline = device.pipeline(FMA_SOURCE, 'ceiling fma');
  const fma = await timeKernel(
    device,
    () =>
      device.dispatch({
        label: 'ceiling fma',
        pipeline: fmaPipeline,
        bindings: [out.rangeFor('')],
        workgroups: [FMA_WORKGROUPS],
      }),
    runs,
    warmup,
  );
  const fmaFlops = FMA_WORKGROUPS * FMA_WG * FMA_ITERS * 8 * 4 * 2;
  const src = rand([COPY_FLOATS], { seed: 2 });
  const dst = rand([COPY_FLOATS], { seed: 3 });
  const copyPipeline = device.pipeline(COPY_SOURCE, 'ceiling copy');
  const groups = COPY_FLOATS / 4 / 256;
  const x = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
  const copy = await timeKernel(
    device,
    () =>
      device.dispatch({
        label: 'ceiling copy',
        pipeline: copyPipeline,
        bindings: [src.rangeFor(''), dst.rangeFor('')],
        workgroups: [x, Math.ceil(groups / x)],
      }),
    runs,
    warmup,
  );
  for (const t of [out, src, dst]) t.dispose();
  return { gflops: fmaFlops / fma.median / 1e6, gbps: (2 * 4 * COPY_FLOATS) / copy.median / 1e6, fma, copy };
}
