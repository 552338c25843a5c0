/** Repeated GPU timings: warm-up runs (pipeline compilation, pool fill), then medians of N runs. */
import type { Device } from '@ternausnet/tensor';

export interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number;
  /** 'gpu-timestamp' (timestamp queries around one compute pass) or 'wall-clock' (submit → onSubmittedWorkDone). */
  method: 'gpu-timestamp' | 'wall-clock';
  /** Median wall clock (submit → work done): what peer ratios compare, since a peer has no timestamps of ours. */
  wallMedian: number;
}

function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samples: readonly number[], method: Timing['method'], wall = samples): Timing {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    runs: samples.length,
    method,
    wallMedian: median(wall),
  };
}

/** Time the dispatches `encode` records, `runs` times after `warmup` untimed runs. */
export async function timeKernel(device: Device, encode: () => void, runs: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await device.time(encode);
  const samples: number[] = [];
  const wall: number[] = [];
  let method: Timing['method'] = 'gpu-timestamp';
  for (let i = 0; i < runs; i++) {
    const t = await device.time(encode);
    if (t.gpuMs === null) method = 'wall-clock';
    samples.push(t.gpuMs ?? t.wallMs);
    wall.push(t.wallMs);
  }
  return summarize(samples, method, wall);
}

/** Wall-clock time of an async piece of work that ends with the GPU idle, `runs` times after `warmup`. */
export async function timeWall(work: () => Promise<void>, runs: number, warmup: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await work();
    samples.push(performance.now() - t0);
  }
  return summarize(samples, 'wall-clock');
}
