/**
 * The device layer: Dawn (the `webgpu` package) behind one class that picks an adapter, asks for the adapter's
 * own limits, pools buffers, caches pipelines, batches dispatches into few submissions, and turns WebGPU's
 * asynchronous error reporting into thrown errors that name the op and its shapes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AdapterClass,
  type AdapterProfile,
  type BufferRange,
  type DispatchRequest,
  describeAdapter,
  type KernelContext,
  type KernelLimits,
  type ScratchBuffer,
  type SubgroupSizes,
} from '@ternausnet/kernels-wgsl';
import { create, globals } from 'webgpu';
import { BufferPool, type PoolStats } from './pool.ts';

Object.assign(globalThis, globals);

export interface DeviceOptions {
  /** Dawn backend: 'vulkan', 'opengles', 'metal', 'd3d12', ... Default: env WEBGPU_BACKEND, else Dawn's choice. */
  backend?: string;
  /** Adapter name (a substring Dawn matches, e.g. 'llvmpipe' or 'NVIDIA'). Default: env WEBGPU_ADAPTER. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Kernel variant family; default from the adapter (software rasterizers are 'cpu'), env TERNAUSNET_KERNELS. */
  kernels?: AdapterClass;
  /**
   * Fill every buffer handed out by the pool with NaN before use, so a kernel that leaves an output element
   * unwritten fails its test instead of passing on stale data. For tests; costs one fill per allocation.
   */
  poison?: boolean;
  /** Submit after this many dispatches (the adapter starts on them while JS encodes more). Default 32. */
  submitEvery?: number;
  /** Released buffers kept for reuse up to this many bytes. Default 6 GiB. */
  maxPooledBytes?: number;
  /**
   * Plan every kernel for bindings of at most this many bytes (when below the device's own limit), so that the
   * splitting of large tensors is exercised on any adapter with small tensors. For tests.
   */
  maxStorageBufferBindingSize?: number;
}

/** Everything the device knows about its resources, for leak tests and benchmarks. */
export interface DeviceStats extends PoolStats {
  pipelines: number;
  dispatches: number;
  submits: number;
}

/** A WebGPU error (validation, out-of-memory, internal) raised by work this device encoded. */
export class GPUOperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GPUOperationError';
  }
}

/** The GPU device was lost (driver reset, destroy(), out of memory at the driver level). */
export class DeviceLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceLostError';
  }
}

/**
 * dawn.node drives a pending promise (onSubmittedWorkDone, mapAsync) by re-arming the global `setImmediate` in
 * a tight loop: while the GPU works, the JS thread burns a whole core — on a 2-core machine with a CPU adapter,
 * half of the compute. While we await Dawn, `setImmediate` spins only for the first millisecond of a burst and then
 * polls every millisecond (measured: 1.85× faster convolutions on lavapipe; bench/NOTES.md). Other code calling
 * setImmediate meanwhile is delayed by at most 1 ms.
 */
const realSetImmediate = globalThis.setImmediate;
let dawnWaits = 0;
let burstStart = 0;
let lastCall = Number.NEGATIVE_INFINITY;
function politeSetImmediate<A extends unknown[]>(fn: (...args: A) => void, ...args: A): NodeJS.Immediate {
  const now = performance.now();
  if (now - lastCall > 5) burstStart = now;
  lastCall = now;
  if (now - burstStart < 1) return realSetImmediate(fn, ...args);
  // A Timeout is not an Immediate, but callers of setImmediate only keep the handle to clear it.
  return setTimeout(fn, 1, ...args) as unknown as NodeJS.Immediate;
}

/**
 * Await a Dawn promise with the polling throttled (see above). Exported for code that drives another WebGPU
 * client on the same Dawn instance (the benchmark's TF.js peer), so that both wait the same way.
 */
export async function awaitDawn<T>(promise: Promise<T>): Promise<T> {
  if (dawnWaits++ === 0) globalThis.setImmediate = politeSetImmediate as typeof setImmediate;
  try {
    return await promise;
  } finally {
    if (--dawnWaits === 0) globalThis.setImmediate = realSetImmediate;
  }
}

const UNIFORM_SLOT = 256;
const UNIFORM_ARENA_BYTES = 256 * 1024;
/** Dispatches per timestamp query set in `profile()` (WebGPU allows 4096 queries per set, two per dispatch). */
const PROFILE_SET_DISPATCHES = 2048;

/** One dispatch's GPU time, from `Device.profile()`. */
export interface DispatchTime {
  /** The kernel's label: its name and shapes. */
  label: string;
  ms: number;
}

function envString(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

export class Device implements KernelContext {
  readonly device: GPUDevice;
  readonly limits: KernelLimits;
  readonly adapterClass: AdapterClass;
  /**
   * Kernel variants forced per family (`{ conv3x3: 'tiled' }`) instead of the adapter's default; also from env
   * TERNAUSNET_VARIANTS="conv3x3=tiled,...". For tests and benchmarks.
   */
  variantOverrides: Record<string, string> = {};
  /** Human-readable adapter name, e.g. `llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) [vulkan, cpu kernels]`. */
  readonly adapterName: string;
  readonly adapterInfo: GPUAdapterInfo;
  /** The adapter's classification and why (kernels-wgsl's describeAdapter). */
  readonly adapterProfile: AdapterProfile;
  readonly features: ReadonlySet<string>;
  readonly subgroupSizes: SubgroupSizes | null;
  readonly poison: boolean;

  private readonly pool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly submitEvery: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  private uniformArena: GPUBuffer;
  private readonly uniformStaging = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformUsed = 0;
  private readonly uniformAlign: number;
  private dispatches = 0;
  private submits = 0;
  private errors: string[] = [];
  private lostMessage: string | null = null;
  private destroyed = false;
  private poisonPipeline: GPUComputePipeline | null = null;
  /** Set while `time()` records one compute pass with timestamps. */
  private timing: GPUQuerySet | null = null;
  /** Set while `profile()` gives every dispatch its own timestamped pass. */
  private profiling: { sets: GPUQuerySet[]; labels: string[] } | null = null;

  private constructor(
    // Dawn frees its instance when the JS GPU object is garbage-collected, even while a device created from it
    // is alive (a use-after-free in the event loop): the Device must keep the instance and adapter reachable.
    readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    device: GPUDevice,
    opts: DeviceOptions,
    backend: string,
  ) {
    this.device = device;
    this.adapterInfo = adapter.info;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.adapterProfile = describeAdapter(
      adapter.info,
      this.features,
      adapter.limits,
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    );
    this.subgroupSizes = this.adapterProfile.subgroupSizes;
    const l = device.limits;
    const cap = opts.maxStorageBufferBindingSize;
    if (cap !== undefined && !(Number.isInteger(cap) && cap >= 4096 && cap % 4 === 0)) {
      throw new RangeError(`maxStorageBufferBindingSize must be a multiple of 4 bytes ≥ 4096, got ${cap}`);
    }
    this.limits = {
      maxStorageBufferBindingSize: Math.min(l.maxStorageBufferBindingSize, cap ?? Number.POSITIVE_INFINITY),
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    };
    this.uniformAlign = Math.max(l.minUniformBufferOffsetAlignment, 16);
    const forced = opts.kernels ?? (envString('TERNAUSNET_KERNELS') as AdapterClass | undefined);
    if (forced !== undefined && forced !== 'cpu' && forced !== 'gpu') {
      throw new RangeError(`TERNAUSNET_KERNELS / kernels must be 'cpu' or 'gpu', got '${forced}'`);
    }
    this.adapterClass = forced ?? this.adapterProfile.adapterClass;
    const i = adapter.info;
    const name = i.description || [i.vendor, i.device].filter(Boolean).join(' ') || 'unknown adapter';
    this.adapterName = `${name} [${backend}, ${this.adapterClass} kernels]`;
    for (const pair of (envString('TERNAUSNET_VARIANTS') ?? '').split(',').filter(Boolean)) {
      const [family, variant] = pair.split('=');
      if (!family || !variant)
        throw new RangeError(`TERNAUSNET_VARIANTS: expected family=variant pairs, got '${pair}'`);
      this.variantOverrides[family] = variant;
    }
    this.poison = opts.poison ?? false;
    this.submitEvery = opts.submitEvery ?? 32;
    this.pool = new BufferPool(device, l.maxBufferSize, opts.maxPooledBytes ?? 6 * 2 ** 30);
    this.uniformArena = this.createUniformArena();
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(`${ev.error.constructor.name}: ${ev.error.message}`);
    };
    device.lost.then((info) => {
      if (!this.destroyed) this.lostMessage = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /**
   * Open a device. Adapter choice: `options.backend`/`options.adapter`, else env `WEBGPU_BACKEND` /
   * `WEBGPU_ADAPTER`, else Dawn's default. Requests the adapter's own limits (the WebGPU defaults are far lower).
   */
  static async create(options: DeviceOptions = {}): Promise<Device> {
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'xdg-'));
    const backend = options.backend ?? envString('WEBGPU_BACKEND');
    const adapterName = options.adapter ?? envString('WEBGPU_ADAPTER');
    const flags: string[] = [];
    if (backend) flags.push(`backend=${backend}`);
    if (adapterName) flags.push(`adapter=${adapterName}`);
    const gpu = create(flags);
    const request: GPURequestAdapterOptions = {};
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    if (backend === 'opengles') request.featureLevel = 'compatibility';
    const adapter = await gpu.requestAdapter(request);
    if (!adapter) {
      throw new Error(
        `No WebGPU adapter${backend ? ` for backend '${backend}'` : ''}${adapterName ? ` named '${adapterName}'` : ''}. ` +
          `Run 'npm run setup' (it installs Mesa's lavapipe on Debian/Ubuntu) or see README.md (the paragraph after the first commands: what to install elsewhere).`,
      );
    }
    const a = adapter.limits;
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxBufferSize: a.maxBufferSize,
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    };
    const requiredFeatures = (['timestamp-query', 'shader-f16', 'subgroups'] as GPUFeatureName[]).filter((f) =>
      adapter.features.has(f),
    );
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    return new Device(gpu, adapter, device, options, backend ?? 'default backend');
  }

  private createUniformArena(): GPUBuffer {
    return this.device.createBuffer({
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'uniform arena',
    });
  }

  private assertUsable(): void {
    if (this.lostMessage) throw new DeviceLostError(this.lostMessage);
    if (this.destroyed) throw new DeviceLostError('this Device was destroyed');
  }

  /** Throw the first WebGPU error reported since the last check (errors arrive asynchronously). */
  checkErrors(): void {
    this.assertUsable();
    if (this.errors.length > 0) {
      const errs = this.errors;
      this.errors = [];
      throw new GPUOperationError(
        `WebGPU reported ${errs.length} error(s); the failing op is named in the quoted labels:\n${errs.join('\n')}`,
      );
    }
  }

  pipeline(wgsl: string, label: string): GPUComputePipeline {
    let p = this.pipelines.get(wgsl);
    if (!p) {
      const module = this.device.createShaderModule({ code: wgsl, label });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      this.pipelines.set(wgsl, p);
    }
    return p;
  }

  private ensurePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) {
      this.pass = this.encoder.beginComputePass(
        this.timing
          ? { timestampWrites: { querySet: this.timing, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
          : {},
      );
    }
    return this.pass;
  }

  /** A compute pass of its own for one dispatch, with timestamps at its start and end (see `profile()`). */
  private profiledPass(label: string): GPUComputePassEncoder {
    const prof = this.profiling!;
    const index = prof.labels.length % PROFILE_SET_DISPATCHES;
    if (index === 0)
      prof.sets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SET_DISPATCHES }));
    prof.labels.push(label);
    const encoder = this.endPass();
    this.pass = encoder.beginComputePass({
      timestampWrites: {
        querySet: prof.sets[prof.sets.length - 1]!,
        beginningOfPassWriteIndex: 2 * index,
        endOfPassWriteIndex: 2 * index + 1,
      },
    });
    return this.pass;
  }

  private endPass(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.encoder;
  }

  dispatch(req: DispatchRequest): void {
    this.assertUsable();
    const entries: GPUBindGroupEntry[] = req.bindings.map((r, binding) => ({
      binding,
      resource: { buffer: r.buffer, offset: r.offset, size: r.size },
    }));
    if (req.uniforms) {
      const bytes = req.uniforms.byteLength;
      if (bytes > UNIFORM_SLOT) throw new RangeError(`${req.label}: uniform block of ${bytes} bytes > ${UNIFORM_SLOT}`);
      const slot = Math.ceil(bytes / this.uniformAlign) * this.uniformAlign;
      if (this.uniformUsed + slot > UNIFORM_ARENA_BYTES) {
        if (this.timing) throw new RangeError('time(): the timed work needs more uniform space than one submission');
        this.flush();
      }
      this.uniformStaging.set(new Uint8Array(req.uniforms), this.uniformUsed);
      entries.push({
        binding: req.bindings.length,
        resource: { buffer: this.uniformArena, offset: this.uniformUsed, size: bytes },
      });
      this.uniformUsed += slot;
    }
    const pass = this.profiling ? this.profiledPass(req.label) : this.ensurePass();
    const bindGroup = this.device.createBindGroup({
      layout: req.pipeline.getBindGroupLayout(0),
      entries,
      label: req.label,
    });
    pass.setPipeline(req.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(req.workgroups[0], req.workgroups[1] ?? 1, req.workgroups[2] ?? 1);
    this.dispatches++;
    if (this.profiling) this.endPass();
    if (++this.pendingDispatches >= this.submitEvery && !this.timing) this.flush();
  }

  /** Encode a buffer-to-buffer copy (in order with the dispatches). */
  copy(src: BufferRange, dst: BufferRange): void {
    this.assertUsable();
    if (src.size !== dst.size) throw new RangeError(`copy: sizes differ (${src.size} vs ${dst.size} bytes)`);
    if (src.size === 0) return;
    this.endPass().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size);
  }

  /** Submit everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    this.device.queue.submit([encoder.finish()]);
    this.encoder = null;
    this.pendingDispatches = 0;
    this.submits++;
  }

  /** Wait until the GPU has finished all submitted work; throws any WebGPU error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await awaitDawn(this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  /**
   * Time the GPU work that `encode` records: all of it goes into one compute pass with timestamp queries
   * (when the adapter has 'timestamp-query'; `gpuMs` is null otherwise) and `wallMs` is measured from submit
   * to completion. Earlier work is finished first so it does not count.
   */
  async time(encode: () => void): Promise<{ gpuMs: number | null; wallMs: number }> {
    await this.sync();
    const hasTimestamps = this.features.has('timestamp-query');
    const querySet = hasTimestamps ? this.device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
    const resolve = hasTimestamps
      ? this.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
      : null;
    const readback = hasTimestamps
      ? this.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
      : null;
    this.timing = querySet;
    try {
      this.endPass();
      encode();
      const encoder = this.endPass();
      if (querySet && resolve && readback) {
        encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
        encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16);
      }
    } finally {
      this.timing = null;
    }
    const t0 = performance.now();
    this.flush();
    await awaitDawn(this.device.queue.onSubmittedWorkDone());
    const wallMs = performance.now() - t0;
    this.checkErrors();
    let gpuMs: number | null = null;
    if (readback) {
      await awaitDawn(readback.mapAsync(GPUMapMode.READ));
      const t = new BigUint64Array(readback.getMappedRange());
      gpuMs = Number(t[1]! - t[0]!) / 1e6;
      readback.unmap();
    }
    for (const b of [resolve, readback]) b?.destroy();
    querySet?.destroy();
    return { gpuMs, wallMs };
  }

  /**
   * GPU time of every dispatch that `run` encodes, in order: each dispatch gets a compute pass of its own with
   * timestamp queries (the adapter needs 'timestamp-query'). `run` may read results (it may await). Separate
   * passes cost a little synchronisation each, so the sum is an upper bound of the same work batched; the
   * shares are what the profile is for.
   */
  async profile(run: () => void | Promise<void>): Promise<DispatchTime[]> {
    if (!this.features.has('timestamp-query')) {
      throw new Error(`profile(): adapter ${this.adapterName} has no 'timestamp-query' feature`);
    }
    if (this.profiling || this.timing) throw new Error('profile(): already timing');
    await this.sync();
    const prof: { sets: GPUQuerySet[]; labels: string[] } = { sets: [], labels: [] };
    this.profiling = prof;
    try {
      await run();
      await this.sync();
    } finally {
      this.profiling = null;
    }
    const bytes = prof.sets.length * PROFILE_SET_DISPATCHES * 16;
    if (bytes === 0) return [];
    const resolve = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const encoder = this.endPass();
    prof.sets.forEach((set, k) => {
      const count = Math.min(prof.labels.length - k * PROFILE_SET_DISPATCHES, PROFILE_SET_DISPATCHES);
      encoder.resolveQuerySet(set, 0, 2 * count, resolve, k * PROFILE_SET_DISPATCHES * 16);
    });
    try {
      const t = new BigUint64Array(await this.read({ buffer: resolve, offset: 0, size: bytes }));
      return prof.labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1]! - t[2 * i]!) / 1e6 }));
    } finally {
      resolve.destroy();
      for (const set of prof.sets) set.destroy();
    }
  }

  /** A pooled storage buffer of at least `bytes`. Poisoned with NaN when the device was created with `poison`. */
  acquire(bytes: number, label: string): GPUBuffer {
    this.assertUsable();
    const buffer = this.pool.acquire(bytes, label);
    if (this.poison) this.fillNaN(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  scratch(bytes: number, label: string): ScratchBuffer {
    const buffer = this.acquire(bytes, label);
    let released = false;
    return {
      range: { buffer, offset: 0, size: buffer.size },
      release: () => {
        if (released) return;
        released = true;
        this.release(buffer);
      },
    };
  }

  private fillNaN(buffer: GPUBuffer): void {
    if (!this.poisonPipeline) {
      this.poisonPipeline = this.pipeline(
        /* wgsl */ `@group(0) @binding(0) var<storage, read_write> x: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let i = g.y * n.x * 256u + g.x;
  if (i < arrayLength(&x)) { x[i] = 0x7fc00000u; }
}`,
        'poison',
      );
    }
    const words = buffer.size / 4;
    const chunk = Math.floor(this.limits.maxStorageBufferBindingSize / 4);
    for (let start = 0; start < words; start += chunk) {
      const count = Math.min(chunk, words - start);
      const groups = Math.ceil(count / 256);
      const x = Math.min(groups, this.limits.maxComputeWorkgroupsPerDimension);
      this.dispatch({
        label: `poison ${buffer.label}`,
        pipeline: this.poisonPipeline,
        bindings: [{ buffer, offset: start * 4, size: count * 4 }],
        workgroups: [x, Math.ceil(groups / x)],
      });
    }
  }

  /**
   * Upload `data` into `buffer` at `offset`. Flushes first: `queue.writeBuffer` runs before any unsubmitted
   * commands, which may still read the previous contents of a pooled buffer.
   */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.assertUsable();
    this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Read `range` back to the CPU. Submits pending work; resolves once the GPU has produced it. */
  async read(range: BufferRange): Promise<ArrayBuffer> {
    this.assertUsable();
    const size = Math.ceil(range.size / 4) * 4;
    const staging = this.device.createBuffer({
      size: Math.max(4, size),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'readback',
    });
    try {
      if (size > 0) this.endPass().copyBufferToBuffer(range.buffer, range.offset, staging, 0, size);
      this.flush();
      try {
        await awaitDawn(staging.mapAsync(GPUMapMode.READ));
      } catch (e) {
        this.checkErrors();
        throw e;
      }
      this.checkErrors();
      return staging.getMappedRange().slice(0, range.size);
    } finally {
      staging.destroy();
    }
  }

  stats(): DeviceStats {
    return { ...this.pool.stats(), pipelines: this.pipelines.size, dispatches: this.dispatches, submits: this.submits };
  }

  /** Start a new `peakLiveBytes` measurement from the bytes live now. */
  resetPeakStats(): void {
    this.pool.resetPeak();
  }

  /** Destroy pooled (free) buffers; live tensors are untouched. */
  trimPool(): void {
    this.pool.trim();
  }

  /** Finish outstanding work and release the GPU. The Device cannot be used afterwards. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      if (!this.lostMessage) await this.sync();
    } finally {
      this.destroyed = true;
      this.pool.trim();
      this.device.destroy();
    }
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }
}
