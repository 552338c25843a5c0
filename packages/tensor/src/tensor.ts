/**
 * Tensors: a shape, a dtype and reference-counted GPU storage. Memory is freed deterministically: `dispose()`,
 * or `tidy(fn)`, which disposes every tensor created inside `fn` except what it returns or `keep()`s.
 */
import type { BufferRange, ContentKey } from '@ternausnet/kernels-wgsl';
import type { Device } from './device.ts';

/** Element type. Only float32 today; the field exists so that float16 can be added without an API change. */
export type DType = 'float32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4 };

/** Thrown when a disposed tensor is used. */
export class DisposedTensorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DisposedTensorError';
  }
}

/**
 * A reference-counted byte range on the GPU. Tensors that share data (reshape, detach, saved-for-backward
 * handles, parameters packed into one arena) share a Storage; the buffer returns to the pool at the last release.
 */
export class Storage {
  private static nextId = 1;
  private refs = 1;
  /** Names the buffer's contents in caches (views share their root's). */
  readonly id: string;
  private writes = 0;

  constructor(
    readonly device: Device,
    readonly buffer: GPUBuffer,
    readonly byteOffset: number,
    readonly byteLength: number,
    /** A view into a larger storage (e.g. a parameter arena) holds a reference to it instead of owning a buffer. */
    private readonly parent: Storage | null = null,
  ) {
    this.id = parent ? parent.id : `s${Storage.nextId++}`;
  }

  /**
   * How many times the contents were written in place (writeData, an optimizer step; PyTorch's `_version`):
   * caches of values derived from the contents, such as weights packed for a kernel, are valid for one version.
   * Views share their root's count, so an update of a whole parameter arena reaches every parameter in it.
   */
  get version(): number {
    return this.parent ? this.parent.version : this.writes;
  }

  /** Call after writing into the buffer other than through a fresh op output (see `version`). */
  markWritten(): void {
    if (this.parent) this.parent.markWritten();
    else this.writes++;
  }

  static allocate(device: Device, byteLength: number, label: string): Storage {
    return new Storage(device, device.acquire(Math.max(4, byteLength), label), 0, byteLength);
  }

  /** A view of `byteLength` bytes at `byteOffset` inside this storage; keeps this storage alive. */
  view(byteOffset: number, byteLength: number): Storage {
    if (byteOffset < 0 || byteOffset + byteLength > this.byteLength) throw new RangeError('storage view out of range');
    this.retain();
    return new Storage(this.device, this.buffer, this.byteOffset + byteOffset, byteLength, this);
  }

  get alive(): boolean {
    return this.refs > 0;
  }

  /** More than one tensor uses this storage (writing into it in place would change the others). */
  get shared(): boolean {
    return this.refs > 1;
  }

  retain(): void {
    if (this.refs <= 0) throw new DisposedTensorError('storage already freed');
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      if (this.parent) this.parent.release();
      else {
        this.device.forgetPersistent(this.id);
        this.device.release(this.buffer);
      }
    }
  }

  get range(): BufferRange {
    return { buffer: this.buffer, offset: this.byteOffset, size: this.byteLength };
  }
}

/** The autograd record of the op that produced a tensor (see autograd.ts). */
export interface GradNode {
  readonly name: string;
  retain(): void;
  release(): void;
}

// ---- scopes ----

const scopeStack: Set<Tensor>[] = [];

/** Values `tidy` can return: tensors, and arrays/objects holding tensors (they survive the scope). */
export type TensorContainer =
  | Tensor
  | undefined
  | null
  // biome-ignore lint/suspicious/noConfusingVoidType: tidy(() => { ... }) bodies that return nothing are typed void.
  | void
  | number
  | string
  | boolean
  | TensorContainer[]
  | {
      [key: string]: TensorContainer;
    };

function collectTensors(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  const values = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of values) collectTensors(v, out, seen);
}

/**
 * Run `fn` and dispose every tensor it created, except the tensors in its return value (which move to the
 * enclosing scope) and tensors marked with `keep()`. Synchronous only: an async function would let other
 * code run inside the scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopeStack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError('tidy(fn): fn returned a Promise; tidy is synchronous (await outside the scope)');
    }
  } catch (e) {
    scopeStack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopeStack.pop();
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  const parent = scopeStack[scopeStack.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Take a tensor out of scope tracking: no `tidy` will dispose it; the caller must. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopeStack) s.delete(t);
  return t;
}

export interface TensorOptions {
  requiresGrad?: boolean;
  name?: string;
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType = 'float32';
  readonly device: Device;
  /** Number of elements. */
  readonly size: number;
  /** Accumulated gradient, set by `backward()` for tensors that require grad. */
  grad: Tensor | null = null;
  /**
   * Where `backward()` puts this leaf's gradient when `.grad` is null: the first gradient overwrites whatever
   * it holds and it becomes `.grad` (no allocation, no zero fill). Set by optimizers that keep gradients in an
   * arena; owned by whoever set it (not disposed with this tensor).
   */
  reservedGrad: Tensor | null = null;
  /** The op that produced this tensor when it was recorded for autograd; null for leaves. */
  gradFn: GradNode | null = null;
  name: string | undefined;
  private _requiresGrad: boolean;
  private _storage: Storage | null;

  constructor(storage: Storage, shape: readonly number[], options: TensorOptions = {}) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0)
        throw new RangeError(`invalid shape [${shape}]: dimensions must be integers ≥ 0`);
    }
    this.shape = Object.freeze([...shape]);
    this.size = shape.reduce((p, d) => p * d, 1);
    if (this.size * BYTES_PER_ELEMENT[this.dtype] > storage.byteLength) {
      throw new RangeError(`shape [${shape}] needs more bytes than its storage (${storage.byteLength})`);
    }
    this._storage = storage;
    this.device = storage.device;
    this._requiresGrad = options.requiresGrad ?? false;
    this.name = options.name;
    scopeStack[scopeStack.length - 1]?.add(this);
  }

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(v: boolean) {
    if (this.gradFn && !v) throw new Error('requiresGrad cannot be turned off on a non-leaf tensor; use detach()');
    this._requiresGrad = v;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this._storage === null;
  }

  /** The storage, or a DisposedTensorError naming `op` when the tensor was disposed. */
  storageFor(op: string): Storage {
    if (!this._storage) {
      throw new DisposedTensorError(
        `${op}: tensor ${this.describe()} was disposed (by dispose() or at the end of a tidy scope) and used again; ` +
          `return it from the tidy callback or keep() it to use it later`,
      );
    }
    return this._storage;
  }

  /** The byte range of this tensor's elements on the GPU. */
  rangeFor(op: string): BufferRange {
    const s = this.storageFor(op);
    return { buffer: s.buffer, offset: s.byteOffset, size: this.size * BYTES_PER_ELEMENT[this.dtype] };
  }

  /** What kernels key caches of values derived from this tensor's elements on (its storage, offset and version). */
  contentKey(op: string): ContentKey {
    const s = this.storageFor(op);
    return { id: `${s.id}@${s.byteOffset}`, version: s.version };
  }

  /** `name[shape]` for messages. */
  describe(): string {
    return `${this.name ?? `t${this.id}`}[${this.shape.join(',')}]`;
  }

  /** Free the GPU memory now (shared storage is freed when its last user lets go). Idempotent. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    this.gradFn?.release();
    this.gradFn = null;
    this.grad?.dispose();
    this.grad = null;
    this.reservedGrad = null;
    for (const s of scopeStack) s.delete(this);
  }

  /** Replace the storage under this tensor (used to pack parameters into one arena). */
  replaceStorage(storage: Storage): void {
    if (storage.byteLength < this.size * BYTES_PER_ELEMENT[this.dtype]) throw new RangeError('replacement too small');
    this.storageFor('replaceStorage').release();
    this._storage = storage;
  }

  /** Copy the elements to the CPU. Submits pending GPU work and waits for it. */
  async toArray(): Promise<Float32Array> {
    const bytes = await this.device.read(this.rangeFor('toArray'));
    return new Float32Array(bytes);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item(): tensor ${this.describe()} has ${this.size} elements, not 1`);
    return (await this.toArray())[0]!;
  }

  /** A tensor sharing this one's data, outside the autograd graph. */
  detach(): Tensor {
    const s = this.storageFor('detach');
    s.retain();
    return new Tensor(s, this.shape);
  }

  /** Keep this tensor alive past enclosing `tidy` scopes. */
  keep(): this {
    return keep(this);
  }
}

/** A new uninitialised tensor on `device` (contents are whatever the pool had; kernels overwrite every element). */
export function emptyTensor(device: Device, shape: readonly number[], label: string): Tensor {
  const size = shape.reduce((p, d) => p * d, 1);
  return new Tensor(Storage.allocate(device, size * 4, `${label} [${shape}]`), shape);
}
