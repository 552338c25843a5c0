import { type BufferRange, type KernelContext, KernelLimitError } from './runtime.ts';

/** Bytes per element of the one storage type the kernels use today (float32; f16 would add a variant). */
export const F32_BYTES = 4;

/**
 * A sub-range of `range` covering elements [start, start + count), as a binding: WebGPU wants binding offsets
 * aligned (16 bytes on lavapipe, 256 on most GPUs), so the window starts at the aligned-down byte and `base` is
 * the element index of `start` inside the window. Kernels index `x[base + i]`.
 */
export function elementWindow(
  ctx: KernelContext,
  range: BufferRange,
  start: number,
  count: number,
): { range: BufferRange; base: number } {
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const byteStart = range.offset + start * F32_BYTES;
  const alignedStart = byteStart - (byteStart % align);
  const base = (byteStart - alignedStart) / F32_BYTES;
  // Whole 16-byte words when the buffer has room: kernels may bind the window as array<vec4<f32>>.
  const exact = Math.max(F32_BYTES, (base + count) * F32_BYTES);
  const size = Math.min(Math.ceil(exact / 16) * 16, range.buffer.size - alignedStart);
  return { range: { buffer: range.buffer, offset: alignedStart, size: Math.max(size, exact) }, base };
}

/** Bytes in MiB for messages, with 3 significant digits (a limit of 256 KiB is 0.25 MiB, not 0). */
export function mib(bytes: number): string {
  return `${Number((bytes / 2 ** 20).toPrecision(3))} MiB`;
}

/** Largest element count a binding may hold, leaving room for the alignment slack of `elementWindow`. */
export function maxBindingElements(ctx: KernelContext): number {
  return Math.floor((ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment) / F32_BYTES);
}

/** Throws a clear error when one binding of `elements` floats would exceed the device's binding limit. */
export function assertBindable(ctx: KernelContext, what: string, elements: number): void {
  const bytes = elements * F32_BYTES;
  if (bytes > ctx.limits.maxStorageBufferBindingSize - ctx.limits.minStorageBufferOffsetAlignment) {
    throw new KernelLimitError(
      `${what}: ${elements} float32 elements (${mib(bytes)}) exceed this device's ` +
        `maxStorageBufferBindingSize of ${mib(ctx.limits.maxStorageBufferBindingSize)} ` +
        `and this kernel cannot split this operand; use a smaller batch or tile size.`,
    );
  }
}

/**
 * Spread `count` workgroups over x and y (each dimension is capped, 65535 on most adapters). Shaders recover
 * the linear index with `linearWorkgroup(wid, nwg)`; workgroups past `count` must return early.
 */
export function workgroupGrid(ctx: KernelContext, count: number): [number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [Math.max(1, count), 1];
  const y = Math.ceil(count / max);
  if (y > max) throw new KernelLimitError(`dispatch of ${count} workgroups exceeds ${max}² workgroups`);
  return [Math.ceil(count / y), y];
}

/** WGSL helper: the linear workgroup index of a 2-D grid made by `workgroupGrid` (`gridMain` emits it). */
const LINEAR_WORKGROUP_WGSL = /* wgsl */ `
fn linearWorkgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }`;

/** The invocation builtins a grid kernel's `main` may take after the workgroup's, with the parameter each binds. */
const LOCAL_BUILTINS = {
  local_invocation_index: 'lid: u32',
  local_invocation_id: 'lid: vec3<u32>',
  subgroup_invocation_id: 'sl: u32',
} as const;

/**
 * `linearWorkgroup` and the opening of `main` for a kernel dispatched on a `workgroupGrid`: `wid` and `nwg` (so
 * the body recovers the linear workgroup index with `linearWorkgroup(wid, nwg)`) and the invocation's `local`
 * builtin (`lid`, or `sl` for the subgroup lane). Workgroups past the work must return early; the kernel's body and
 * closing brace follow. WGSL takes the helper fn anywhere at module scope.
 */
export function gridMain(
  workgroupSize: number | readonly [number, number],
  local: keyof typeof LOCAL_BUILTINS = 'local_invocation_index',
): string {
  const size = typeof workgroupSize === 'number' ? `${workgroupSize}` : workgroupSize.join(', ');
  return `${LINEAR_WORKGROUP_WGSL}

@compute @workgroup_size(${size})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(${local}) ${LOCAL_BUILTINS[local]}) {`;
}

/**
 * The opening of `main` for a kernel with one invocation per element over a `workgroupGrid` of `size`-invocation
 * workgroups (`gridMain`): binds the element's index to `index` and returns past `count` (a WGSL expression). The
 * kernel's body and closing brace follow.
 */
export function perElementMain(size: number, index: string, count: string): string {
  return `${gridMain(size)}
  let ${index} = linearWorkgroup(wid, nwg) * ${size}u + lid;
  if (${index} >= ${count}) { return; }`;
}

/** The chunks [start, start + count) of `total` elements, each small enough for one binding. */
export interface ElementChunk {
  readonly start: number;
  readonly count: number;
}

/**
 * Split `total` elements into chunks that each fit one binding, every chunk (but the last) a multiple of
 * `multiple` long: a multiple of 4 keeps every chunk's windows as 16-byte aligned as the first, a multiple of the
 * elements per workgroup keeps workgroups whole.
 */
export function elementChunks(ctx: KernelContext, total: number, multiple = 1): ElementChunk[] {
  const chunk = Math.floor(maxBindingElements(ctx) / multiple) * multiple;
  const chunks: ElementChunk[] = [];
  for (let start = 0; start < total; start += chunk) chunks.push({ start, count: Math.min(chunk, total - start) });
  return chunks;
}

/**
 * The bindings of a kernel over f32 arrays: the `read` arrays, the `written` one, then the uniform block `u` of
 * type `Params` (declared by `paramsWgsl`), numbered in that order, the order of the dispatch's `bindings`.
 */
export function f32Bindings(read: readonly string[], written: string, paramsWgsl: string): string {
  return [
    ...read.map((name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`),
    `@group(0) @binding(${read.length}) var<storage, read_write> ${written}: array<f32>;`,
    paramsWgsl,
    `@group(0) @binding(${read.length + 1}) var<uniform> u: Params;`,
  ].join('\n');
}

/**
 * Sums `value` over a workgroup of `size` invocations (a power of two) in the workgroup array `shared`: a tree of
 * halving steps with a barrier after each; the total ends in `shared[0]`. Every invocation must reach it
 * (uniform control flow). `step` names the loop variable.
 */
export function workgroupTreeSum(size: number, shared: string, value: string, step: string): string {
  return `  ${shared}[lid] = ${value};
  workgroupBarrier();
  for (var ${step} = ${size / 2}u; ${step} > 0u; ${step} = ${step} / 2u) {
    if (lid < ${step}) { ${shared}[lid] = ${shared}[lid] + ${shared}[lid + ${step}]; }
    workgroupBarrier();
  }`;
}

/** Pack u32 then f32 fields into one uniform block (WGSL struct with the u32 fields first, then the f32). */
export function packUniforms(u32: readonly number[], f32: readonly number[] = []): ArrayBuffer {
  const words = Math.max(4, Math.ceil((u32.length + f32.length) / 4) * 4);
  const buf = new ArrayBuffer(words * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u32.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uniform u32 out of range: ${v}`);
    u[i] = v;
  });
  f32.forEach((v, i) => {
    f[u32.length + i] = v;
  });
  return buf;
}

/**
 * A uniform block of named u32 fields: its WGSL struct declaration and a packer that takes the values by name,
 * so the struct's field order and the packed order cannot drift apart. Kernels that pass shapes as uniforms
 * (instead of baking them into the source) compile once for every layer shape: on llvmpipe a heavily unrolled
 * shader costs seconds to compile, so one pipeline per layer shape costs minutes per training run.
 */
export function uniformBlock<K extends string>(
  fields: readonly K[],
): { wgsl: string; pack(values: Readonly<Record<K, number>>): ArrayBuffer } {
  return {
    wgsl: `struct Params { ${fields.map((f) => `${f}: u32`).join(', ')} }`,
    pack: (values) => packUniforms(fields.map((f) => values[f])),
  };
}

/**
 * Epilogue flags of the convolution kernels that take their epilogue as a uniform (branching on them is free next
 * to the main loop, and saves a pipeline per combination).
 */
export const FLAG_BIAS = 1;
export const FLAG_ACCUMULATE = 2;
export const FLAG_RELU = 4;

/**
 * The epilogue flags of input-channel chunk `chunk` of `chunks` (a reduction: later chunks add to the output):
 * the bias on the first chunk, the earlier chunks' partial sums on every later one, the ReLU on the last only,
 * once the sum is whole.
 */
export function chunkEpilogueFlags(chunk: number, chunks: number, bias: boolean, relu: boolean): number {
  const first = chunk === 0;
  return (
    (first && bias ? FLAG_BIAS : 0) | (first ? 0 : FLAG_ACCUMULATE) | (chunk === chunks - 1 && relu ? FLAG_RELU : 0)
  );
}

/**
 * WGSL: the epilogue `u.flags` asks for, applied to the sum `v` of output `y[idx]`: + `b[biasIndex]`, + the value
 * already at `y[idx]`, ReLU; then the store. Each line starts with `indent`.
 */
export function flagEpilogue(biasIndex: string, indent: string): string {
  return [
    `if ((u.flags & ${FLAG_BIAS}u) != 0u) { v += b[${biasIndex}]; }`,
    `if ((u.flags & ${FLAG_ACCUMULATE}u) != 0u) { v += y[idx]; }`,
    `v = select(v, 0.0, (u.flags & ${FLAG_RELU}u) != 0u && v < 0.0);`,
    'y[idx] = v;',
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');
}

/**
 * Memoise a WGSL generator on its (small, JSON-serialisable) specialisation key: generating a large unrolled
 * shader on every dispatch would cost more JS time than encoding the dispatch, and the device's pipeline cache
 * is keyed by the source text.
 */
export function memoSource<K>(generate: (key: K) => string): (key: K) => string {
  const cache = new Map<string, string>();
  return (key) => {
    const k = JSON.stringify(key);
    let source = cache.get(k);
    if (source === undefined) {
      source = generate(key);
      cache.set(k, source);
    }
    return source;
  };
}
