/**
 * GPU timing: `time()` puts the recorded work into one compute pass with timestamp queries; `profile()` gives
 * every dispatch a pass of its own with timestamps, for per-kernel shares.
 */
import type { BufferRange } from '@ternausnet/kernels-wgsl';
import type { CommandRecorder } from './recorder.ts';

/** Dispatches per timestamp query set in `profile()` (WebGPU allows 4096 queries per set, two per dispatch). */
const PROFILE_SET_DISPATCHES = 2048;

/** One dispatch's GPU time, from `Device.profile()`. */
export interface DispatchTime {
  /** The kernel's label: its name and shapes. */
  label: string;
  ms: number;
}

/** What timing needs of a Device. */
export interface TimingHost {
  readonly device: GPUDevice;
  readonly recorder: CommandRecorder;
  readonly hasTimestamps: boolean;
  readonly adapterName: string;
  sync(): Promise<void>;
  waitFor<T>(promise: Promise<T>): Promise<T>;
  checkErrors(): void;
  read(range: BufferRange): Promise<ArrayBuffer>;
}

/** See `Device.time`. */
export async function timeWork(
  host: TimingHost,
  encode: () => void,
): Promise<{ gpuMs: number | null; wallMs: number }> {
  const { device, recorder } = host;
  await host.sync();
  const querySet = host.hasTimestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const resolve = querySet
    ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    : null;
  const readback = querySet
    ? device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    : null;
  recorder.passTimestamps = querySet ? { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } : null;
  try {
    recorder.endPass();
    encode();
    const encoder = recorder.endPass();
    if (querySet && resolve && readback) {
      encoder.resolveQuerySet(querySet, 0, 2, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, readback, 0, 16);
    }
  } finally {
    recorder.passTimestamps = null;
  }
  const t0 = performance.now();
  recorder.flush();
  await host.waitFor(device.queue.onSubmittedWorkDone());
  const wallMs = performance.now() - t0;
  host.checkErrors();
  let gpuMs: number | null = null;
  if (readback) {
    await host.waitFor(readback.mapAsync(GPUMapMode.READ));
    const t = new BigUint64Array(readback.getMappedRange());
    gpuMs = Number(t[1]! - t[0]!) / 1e6;
    readback.unmap();
  }
  for (const b of [resolve, readback]) b?.destroy();
  querySet?.destroy();
  return { gpuMs, wallMs };
}

/** See `Device.profile`. */
export async function profileWork(host: TimingHost, run: () => void | Promise<void>): Promise<DispatchTime[]> {
  const { device, recorder } = host;
  if (!host.hasTimestamps) throw new Error(`profile(): adapter ${host.adapterName} has no 'timestamp-query' feature`);
  if (recorder.perDispatchTimestamps || recorder.passTimestamps) throw new Error('profile(): already timing');
  await host.sync();
  const sets: GPUQuerySet[] = [];
  const labels: string[] = [];
  recorder.perDispatchTimestamps = (label) => {
    const index = labels.length % PROFILE_SET_DISPATCHES;
    if (index === 0) sets.push(device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SET_DISPATCHES }));
    labels.push(label);
    return {
      querySet: sets[sets.length - 1]!,
      beginningOfPassWriteIndex: 2 * index,
      endOfPassWriteIndex: 2 * index + 1,
    };
  };
  try {
    await run();
    await host.sync();
  } finally {
    recorder.perDispatchTimestamps = null;
  }
  const bytes = sets.length * PROFILE_SET_DISPATCHES * 16;
  if (bytes === 0) return [];
  const resolve = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const encoder = recorder.endPass();
  sets.forEach((set, k) => {
    const count = Math.min(labels.length - k * PROFILE_SET_DISPATCHES, PROFILE_SET_DISPATCHES);
    encoder.resolveQuerySet(set, 0, 2 * count, resolve, k * PROFILE_SET_DISPATCHES * 16);
  });
  try {
    const t = new BigUint64Array(await host.read({ buffer: resolve, offset: 0, size: bytes }));
    return labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1]! - t[2 * i]!) / 1e6 }));
  } finally {
    resolve.destroy();
    for (const set of sets) set.destroy();
  }
}
