/**
 * The device layer: one class over a WebGPU device that picks an adapter, asks for the adapter's own limits,
 * pools buffers (`pool.ts`), caches pipelines, batches dispatches into few submissions (`recorder.ts`), times
 * work (`timing.ts`), and turns WebGPU's asynchronous error reporting into thrown errors that name the op and
 * its shapes. Browser-safe: the GPU comes from the platform (`platform.ts`; Dawn under the Node entry).
 */
import {
  type AdapterClass,
  type AdapterProfile,
  type BufferRange,
  type DispatchRequest,
  describeAdapter,
  type KernelContext,
  type KernelLimits,
  type KernelProblem,
  type ScratchBuffer,
  type SubgroupSizes,
} from '@ternausnet/kernels-wgsl';
import { DeviceLostError, GPUOperationError } from './errors.ts';
import { type DeviceOptions, gpuPlatform } from './platform.ts';
import { BufferPool, type PoolStats } from './pool.ts';
import { CommandRecorder } from './recorder.ts';
import { type DispatchTime, profileWork, type TimingHost, timeWork } from './timing.ts';

/** Everything the device knows about its resources, for leak tests and benchmarks. */
export interface DeviceStats extends PoolStats {
  pipelines: number;
  dispatches: number;
  submits: number;
  /** Buffers kept across calls (`persistent`): packed weights of live tensors. */
  persistentBuffers: number;
}

export class Device implements KernelContext {
  readonly device: GPUDevice;
  readonly limits: KernelLimits;
  readonly adapterClass: AdapterClass;
  /** Kernel variants forced per family (`{ conv3x3: 'tiled' }`) instead of the adapter's default. */
  variantOverrides: Record<string, string>;
  /** Variants chosen by measurement per problem (`tuneKernels`, or a tuning cache loaded into it). */
  readonly kernelChoices = new Map<string, string>();
  /** Set while `collectKernelProblems` records a workload. */
  onKernelProblem: ((problem: KernelProblem) => void) | null = null;
  /** Human-readable adapter name, e.g. `llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) [vulkan, cpu kernels]`. */
  readonly adapterName: string;
  readonly adapterInfo: GPUAdapterInfo;
  /** The adapter's classification and why (kernels-wgsl's describeAdapter). */
  readonly adapterProfile: AdapterProfile;
  readonly features: ReadonlySet<string>;
  readonly subgroupSizes: SubgroupSizes | null;
  readonly poison: boolean;

  private readonly pool: BufferPool;
  /** `persistent()` buffers by key, with the source version they were filled for. */
  private readonly kept = new Map<string, { buffer: GPUBuffer; version: number }>();
  /** The `kept` keys of each storage id (the part of the key before '@'), so freeing a storage finds its own. */
  private readonly keptByStorage = new Map<string, string[]>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly recorder: CommandRecorder;
  private readonly waitFor: <T>(promise: Promise<T>) => Promise<T>;
  private errors: string[] = [];
  private lostMessage: string | null = null;
  private destroyed = false;
  private poisonPipeline: GPUComputePipeline | null = null;

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
    this.waitFor = gpuPlatform().waitFor;
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
    const forced = opts.kernels;
    if (forced !== undefined && forced !== 'cpu' && forced !== 'gpu') {
      throw new RangeError(`kernels must be 'cpu' or 'gpu', got '${forced as string}'`);
    }
    // The class from the adapter's real properties (kernels-wgsl's describeAdapter), unless forced.
    this.adapterClass = forced ?? this.adapterProfile.adapterClass;
    this.adapterName = `${this.adapterProfile.name} [${backend}, ${this.adapterClass} kernels]`;
    this.variantOverrides = { ...opts.variants };
    this.poison = opts.poison ?? false;
    this.pool = new BufferPool(device, l.maxBufferSize, opts.maxPooledBytes ?? 6 * 2 ** 30);
    this.recorder = new CommandRecorder(device, opts.submitEvery ?? 32);
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(`${ev.error.constructor.name}: ${ev.error.message}`);
    };
    device.lost.then((info) => {
      if (!this.destroyed) this.lostMessage = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /**
   * Open a device on `options.gpu`, else the platform's GPU (`navigator.gpu` in a page; under the Node entry
   * Dawn, with `options.backend`/`options.adapter`, else env `WEBGPU_BACKEND` / `WEBGPU_ADAPTER`). Requests the
   * adapter's own limits (the WebGPU defaults are far lower).
   */
  static async create(options: DeviceOptions = {}): Promise<Device> {
    const platform = gpuPlatform();
    const opts: DeviceOptions = { ...platform.defaults(), ...stripUndefined(options) };
    const opened = opts.gpu
      ? {
          gpu: opts.gpu,
          backend: 'injected GPU',
          request: opts.powerPreference ? { powerPreference: opts.powerPreference } : {},
        }
      : platform.open(opts);
    const adapter = await opened.gpu.requestAdapter(opened.request);
    if (!adapter) {
      throw new Error(
        `No WebGPU adapter${opts.backend ? ` for backend '${opts.backend}'` : ''}${opts.adapter ? ` named '${opts.adapter}'` : ''}. ` +
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
    return new Device(opened.gpu, adapter, device, opts, opened.backend);
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

  dispatch(req: DispatchRequest): void {
    this.assertUsable();
    this.recorder.dispatch(req);
  }

  /** Encode a buffer-to-buffer copy (in order with the dispatches). */
  copy(src: BufferRange, dst: BufferRange): void {
    this.assertUsable();
    this.recorder.copy(src, dst);
  }

  /** Submit everything encoded so far. */
  flush(): void {
    this.recorder.flush();
  }

  /** Wait until the GPU has finished all submitted work; throws any WebGPU error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.waitFor(this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  private timingHost(): TimingHost {
    return {
      device: this.device,
      recorder: this.recorder,
      hasTimestamps: this.features.has('timestamp-query'),
      adapterName: this.adapterName,
      sync: () => this.sync(),
      waitFor: this.waitFor,
      checkErrors: () => this.checkErrors(),
      read: (range) => this.read(range),
    };
  }

  /**
   * Time the GPU work that `encode` records: all of it goes into one compute pass with timestamp queries
   * (when the adapter has 'timestamp-query'; `gpuMs` is null otherwise) and `wallMs` is measured from submit
   * to completion. Earlier work is finished first so it does not count.
   */
  time(encode: () => void): Promise<{ gpuMs: number | null; wallMs: number }> {
    return timeWork(this.timingHost(), encode);
  }

  /**
   * GPU time of every dispatch that `run` encodes, in order: each dispatch gets a compute pass of its own with
   * timestamp queries (the adapter needs 'timestamp-query'). `run` may read results (it may await). Separate
   * passes cost a little synchronisation each, so the sum is an upper bound of the same work batched; the
   * shares are what the profile is for.
   */
  profile(run: () => void | Promise<void>): Promise<DispatchTime[]> {
    return profileWork(this.timingHost(), run);
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

  /**
   * A buffer kept across calls (kernels-wgsl's `KernelContext.persistent`: weights packed for a kernel), keyed by
   * `key`, which starts with the id of the storage it derives from (`Tensor.contentKey`); freed with that storage.
   */
  persistent(key: string, version: number, bytes: number, label: string): { range: BufferRange; stale: boolean } {
    let entry = this.kept.get(key);
    if (entry && entry.buffer.size < bytes) {
      this.release(entry.buffer);
      entry = undefined;
    }
    if (!entry) {
      entry = { buffer: this.acquire(bytes, label), version: Number.NaN };
      if (!this.kept.has(key)) {
        const storageId = key.slice(0, key.indexOf('@'));
        this.keptByStorage.set(storageId, [...(this.keptByStorage.get(storageId) ?? []), key]);
      }
      this.kept.set(key, entry);
    }
    const stale = entry.version !== version;
    entry.version = version;
    return { range: { buffer: entry.buffer, offset: 0, size: bytes }, stale };
  }

  /** Free the `persistent()` buffers derived from storage `storageId` (called when that storage is freed). */
  forgetPersistent(storageId: string): void {
    const keys = this.keptByStorage.get(storageId);
    if (!keys) return;
    this.keptByStorage.delete(storageId);
    for (const key of keys) {
      this.release(this.kept.get(key)!.buffer);
      this.kept.delete(key);
    }
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
      if (size > 0) this.recorder.endPass().copyBufferToBuffer(range.buffer, range.offset, staging, 0, size);
      this.flush();
      try {
        await this.waitFor(staging.mapAsync(GPUMapMode.READ));
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
    return {
      ...this.pool.stats(),
      pipelines: this.pipelines.size,
      dispatches: this.recorder.dispatches,
      submits: this.recorder.submits,
      persistentBuffers: this.kept.size,
    };
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

/** `{ a: undefined }` must not hide a default from the environment. */
function stripUndefined(o: DeviceOptions): DeviceOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as DeviceOptions;
}
