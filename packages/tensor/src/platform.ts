/**
 * Where a Device gets its GPU. The core is browser-safe: by default it takes `navigator.gpu`. The Node entry
 * (`node.ts`) installs Dawn instead, with the environment variables as default options and Dawn's polling
 * throttled while we wait. A `gpu` passed in DeviceOptions always wins.
 */
import type { AdapterClass } from '@ternausnet/kernels-wgsl';

export interface DeviceOptions {
  /** The WebGPU entry point: `navigator.gpu` in a page, Dawn's `create()` in Node. Default: the platform's. */
  gpu?: GPU;
  /** Dawn (Node) backend: 'vulkan', 'opengles', 'metal', 'd3d12', ... Default: env WEBGPU_BACKEND, else Dawn's. */
  backend?: string;
  /** Dawn (Node) adapter name (a substring, e.g. 'llvmpipe' or 'NVIDIA'). Default: env WEBGPU_ADAPTER. */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** Kernel variant family; default from the adapter (software rasterizers are 'cpu'). Node: env TERNAUSNET_KERNELS. */
  kernels?: AdapterClass;
  /**
   * Kernel variants forced per family (`{ conv3x3: 'tiled' }`) instead of the adapter's default. Node: env
   * TERNAUSNET_VARIANTS="conv3x3=tiled,..." (see `parseVariantOverrides`). For tests and benchmarks.
   */
  variants?: Record<string, string>;
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

/** A GPU to open, and how to ask it for an adapter. */
export interface OpenedGpu {
  gpu: GPU;
  /** Shown in `Device.adapterName`, e.g. 'vulkan' or 'browser'. */
  backend: string;
  request: GPURequestAdapterOptions;
}

export interface GpuPlatform {
  /** Options from the environment, applied under the explicit ones. */
  defaults(): DeviceOptions;
  /** The GPU to use when `DeviceOptions.gpu` is not given. */
  open(options: DeviceOptions): OpenedGpu;
  /** Await one of the GPU's promises (mapAsync, onSubmittedWorkDone). */
  waitFor<T>(promise: Promise<T>): Promise<T>;
}

const browserPlatform: GpuPlatform = {
  defaults: () => ({}),
  open(options) {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (!gpu) {
      throw new Error(
        'WebGPU is not available here (no navigator.gpu). In a browser, use one with WebGPU enabled; in Node, ' +
          "import '@ternausnet/tensor' (its Node entry installs Dawn) or pass { gpu } to initDevice().",
      );
    }
    const request: GPURequestAdapterOptions = {};
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    return { gpu, backend: 'browser', request };
  },
  waitFor: (promise) => promise,
};

let platform: GpuPlatform = browserPlatform;

/** Install the platform (the Node entry installs Dawn's). */
export function setGpuPlatform(p: GpuPlatform): void {
  platform = p;
}

export function gpuPlatform(): GpuPlatform {
  return platform;
}

/** "conv3x3=tiled,convTranspose3x3s2=direct" → `{ conv3x3: 'tiled', convTranspose3x3s2: 'direct' }`. */
export function parseVariantOverrides(text: string, source = 'variants'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [family, variant, extra] = pair.split('=');
    if (!family || !variant || extra !== undefined) {
      throw new RangeError(`${source}: expected family=variant pairs separated by commas, got '${pair}'`);
    }
    out[family.trim()] = variant.trim();
  }
  return out;
}
