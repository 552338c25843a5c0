/**
 * Node only: Dawn (the `webgpu` package) as the GPU platform, the environment variables as default device
 * options, and Dawn's event-loop polling made polite.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterClass } from '@ternausnet/kernels-wgsl';
import { create, globals } from 'webgpu';
import { type DeviceOptions, type GpuPlatform, parseVariantOverrides } from '../platform.ts';

// GPUBufferUsage, GPUMapMode, ...: browsers have them as globals, Dawn exports them.
Object.assign(globalThis, globals);

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

/**
 * The device options the environment sets — the one place the library reads environment variables:
 * WEBGPU_BACKEND, WEBGPU_ADAPTER (Dawn's adapter choice), TERNAUSNET_KERNELS (cpu|gpu),
 * TERNAUSNET_VARIANTS (family=variant,...). Empty values count as unset.
 */
export function deviceOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): DeviceOptions {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  const out: DeviceOptions = {};
  const backend = get('WEBGPU_BACKEND');
  const adapter = get('WEBGPU_ADAPTER');
  const kernels = get('TERNAUSNET_KERNELS');
  const variants = get('TERNAUSNET_VARIANTS');
  if (backend) out.backend = backend;
  if (adapter) out.adapter = adapter;
  if (kernels !== undefined) {
    if (kernels !== 'cpu' && kernels !== 'gpu') {
      throw new RangeError(`TERNAUSNET_KERNELS must be 'cpu' or 'gpu', got '${kernels}'`);
    }
    out.kernels = kernels as AdapterClass;
  }
  if (variants) out.variants = parseVariantOverrides(variants, 'TERNAUSNET_VARIANTS');
  return out;
}

/** Dawn as the GPU platform: `create()` with the backend/adapter flags, the env as defaults, polite waits. */
export const dawnPlatform: GpuPlatform = {
  defaults: () => deviceOptionsFromEnv(),
  open(options) {
    // Mesa prints "XDG_RUNTIME_DIR is invalid" without one; a private temp dir silences it.
    if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'xdg-'));
    const flags: string[] = [];
    if (options.backend) flags.push(`backend=${options.backend}`);
    if (options.adapter) flags.push(`adapter=${options.adapter}`);
    const request: GPURequestAdapterOptions = {};
    if (options.powerPreference) request.powerPreference = options.powerPreference;
    if (options.backend === 'opengles') request.featureLevel = 'compatibility';
    return { gpu: create(flags), backend: options.backend ?? 'default backend', request };
  },
  waitFor: awaitDawn,
};
