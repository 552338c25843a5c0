/**
 * The seam between the kernels and the device layer. Kernels know nothing of tensors or autograd: they see
 * buffer ranges, shapes and this small interface, which `@ternausnet/tensor`'s Device implements (and which a
 * benchmark can implement over a bare GPUDevice).
 */
import type { KernelProblem } from './variants.ts';

/** A byte range of a GPU buffer. Kernels bind it as a storage buffer. */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  /** Byte offset of element 0 of the range. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * Names a tensor's contents for caches of values derived from them (a weight packed into a kernel's layout):
 * `id` is the storage and offset, `version` changes whenever the contents are written.
 */
export interface ContentKey {
  readonly id: string;
  readonly version: number;
}

/** What selects a kernel variant: CPU adapters (lavapipe) want barrier-free register blocking, GPUs want tiling. */
export type AdapterClass = 'cpu' | 'gpu';

export interface SubgroupSizes {
  readonly min: number;
  readonly max: number;
}

export interface KernelLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly minStorageBufferOffsetAlignment: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
}

export interface DispatchRequest {
  /** Op name and shapes, e.g. `conv3x3Forward x[1,64,32,32] w[128,64,3,3]`: it labels GPU objects and errors. */
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  /** Storage buffers, bound at @group(0) @binding(0..n-1) in this order. */
  readonly bindings: readonly BufferRange[];
  /** Optional uniform block, bound at @group(0) @binding(n) (n = bindings.length). At most 256 bytes. */
  readonly uniforms?: ArrayBuffer;
  readonly workgroups: readonly [number, number?, number?];
}

export interface KernelContext {
  readonly device: GPUDevice;
  readonly limits: KernelLimits;
  readonly adapterClass: AdapterClass;
  /** Features of the device (kernels using e.g. 'subgroups' check for them). */
  readonly features: ReadonlySet<string>;
  /**
   * The adapter's subgroup sizes (`adapter.info.subgroupMinSize/MaxSize`), or null/absent when unknown. WGSL
   * cannot ask for a subgroup size, so a kernel written for L lanes runs only where min == max == L
   * (variants.ts): lavapipe has 8, SwiftShader 4, GPUs 32 or 64 or a range (Intel 8–32).
   */
  readonly subgroupSizes?: SubgroupSizes | null;
  /**
   * Force a kernel variant per family (e.g. `{ conv3x3: 'tiled' }`), overriding the adapter's default: the tests
   * check every variant on whatever adapter they run on, and the benchmark compares them.
   */
  readonly variantOverrides?: Readonly<Record<string, string>>;
  /**
   * Variants chosen by measurement (autotuning: `@ternausnet/tensor`'s tuneKernels), by problem key
   * (`KernelProblem.key`). Overrides win over them; a choice this adapter cannot run is ignored.
   */
  readonly kernelChoices?: ReadonlyMap<string, string>;
  /** Told of every pass that goes through the variant table: autotuning's discovery of a workload's problems. */
  readonly onKernelProblem?: ((problem: KernelProblem) => void) | null;
  /**
   * A buffer kept across calls under `key` (e.g. weights packed into a kernel's layout), with `stale` true when it
   * must be (re)filled: it is new, or was filled for another `version` of its source. Optional: without it the
   * kernels remake such buffers in scratch memory on every call.
   */
  persistent?(key: string, version: number, bytes: number, label: string): { range: BufferRange; stale: boolean };
  /** A compute pipeline for this WGSL source (entry point `main`), compiled once and cached by source. */
  pipeline(wgsl: string, label: string): GPUComputePipeline;
  /** Encode one dispatch. Dispatches run in call order; the device decides when to submit. */
  dispatch(request: DispatchRequest): void;
  /**
   * A temporary buffer for a kernel's intermediate results (split-K partial sums, ...). Release it as soon as
   * the dispatches that use it are encoded: the queue runs in order, so a later reuse cannot overtake them.
   */
  scratch(bytes: number, label: string): ScratchBuffer;
}

export interface ScratchBuffer {
  readonly range: BufferRange;
  release(): void;
}

/** Thrown when a tensor does not fit the device's limits and the kernel cannot split the work. */
export class KernelLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelLimitError';
  }
}
