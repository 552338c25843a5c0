/**
 * Autotuning of kernel variants, per problem (cuDNN's benchmark mode, TVM's tuning log): find the passes a
 * workload makes (`collectKernelProblems`), time every variant that can run each one on this adapter
 * (`tuneKernels`), and put the winners into `device.kernelChoices`, where kernels-wgsl's `selectVariant` reads
 * them. Nothing here changes results: every variant computes the same thing (the ops tests check each one
 * against float64), only the speed differs. Browser-safe; the on-disk cache is `node/tuning-cache.ts`.
 *
 * The candidates run on buffers of their own (same sizes and offsets as the workload's, random contents), so
 * tuning never writes into a model's tensors.
 */
import type { BufferRange, KernelProblem } from '@ternausnet/kernels-wgsl';
import type { Device } from './device.ts';
import { Rng } from './random.ts';

export interface TuneOptions {
  /**
   * Start no new measurement after this many ms (compiling a candidate's pipelines counts: 2–14 s for a big
   * one on lavapipe). Problems left are reported as untuned and keep their default. Default 120 000.
   */
  budgetMs?: number;
  /** Timed runs per candidate after one warm-up run; the median counts. Default 3. */
  runs?: number;
  /**
   * A candidate replaces the adapter's default only when its median is lower by this fraction (a guard against
   * noise: machines like ours read ±15 % run to run). Default 0.05.
   */
  minGain?: number;
  /** Called after each candidate is measured. */
  onProgress?: (event: TuneProgress) => void;
}

export interface TuneProgress {
  /** Measurements done and planned (one per candidate per problem). */
  done: number;
  total: number;
  key: string;
  variant: string;
  ms: number;
}

/** What tuning decided for one problem. */
export interface TunedProblem {
  key: string;
  /** The variant the adapter's policy picks without tuning. */
  defaultVariant: string;
  /** The variant chosen. */
  variant: string;
  /** Median ms of every candidate measured (Infinity where it failed: see `errors`). */
  ms: Record<string, number>;
  /** Candidates that threw (e.g. a shape over their limits), with the message. */
  errors?: Record<string, string>;
}

export interface TuneResult {
  tuned: TunedProblem[];
  /** Keys the budget did not reach: they keep their default, and a later call can finish them. */
  untuned: string[];
  elapsedMs: number;
  /** GPU timestamps where the adapter has them, else wall clock from submit to completion. */
  timing: 'gpu-timestamp' | 'wall-clock';
}

/**
 * The variant-table problems `run` makes (each key once, in first-use order). `run` is executed for real:
 * give it a representative step of the workload (e.g. one training step at the size you will train at).
 */
export async function collectKernelProblems(device: Device, run: () => void | Promise<void>): Promise<KernelProblem[]> {
  if (device.onKernelProblem) throw new Error('collectKernelProblems: this device is already collecting');
  const found = new Map<string, KernelProblem>();
  device.onKernelProblem = (p) => {
    if (!found.has(p.key)) found.set(p.key, p);
  };
  try {
    await run();
    await device.sync();
  } finally {
    device.onKernelProblem = null;
  }
  return [...found.values()];
}

function isBufferRange(v: unknown): v is BufferRange {
  return typeof v === 'object' && v !== null && 'buffer' in v && 'offset' in v && 'size' in v;
}

/** `args` with every BufferRange moved to another buffer by `move` (same structure otherwise). */
function remapRanges(args: unknown, move: (r: BufferRange) => BufferRange): unknown {
  if (isBufferRange(args)) return move(args);
  if (Array.isArray(args)) return args.map((a) => remapRanges(a, move));
  if (typeof args === 'object' && args !== null) {
    return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, remapRanges(v, move)]));
  }
  return args;
}

/** Bytes of random floats in [-1, 1) repeated into every tuning buffer (the values do not change the speed). */
const RANDOM_BLOCK_BYTES = 4 * 2 ** 20;

let randomBlockCache: Float32Array | null = null;
/** RANDOM_BLOCK_BYTES of random floats, made once. */
function randomBlock(): Float32Array {
  if (!randomBlockCache) {
    randomBlockCache = new Float32Array(RANDOM_BLOCK_BYTES / 4);
    const rng = new Rng(0x7e57);
    for (let i = 0; i < randomBlockCache.length; i++) randomBlockCache[i] = rng.uniform(-1, 1);
  }
  return randomBlockCache;
}

/**
 * The problem's arguments on fresh buffers: one per buffer the workload used, of the same size (offsets and
 * aliasing kept, so alignment-dependent paths are the same), filled with random floats.
 */
function replayBuffers(device: Device, problem: KernelProblem): { args: unknown; release: () => void } {
  const moved = new Map<GPUBuffer, GPUBuffer>();
  const block = randomBlock();
  const args = remapRanges(problem.args, (r) => {
    let buffer = moved.get(r.buffer);
    if (!buffer) {
      buffer = device.acquire(r.buffer.size, `tuning ${problem.key}`);
      for (let off = 0; off < buffer.size; off += RANDOM_BLOCK_BYTES) {
        device.write(buffer, off, block.subarray(0, Math.min(RANDOM_BLOCK_BYTES, buffer.size - off) / 4));
      }
      moved.set(r.buffer, buffer);
    }
    return { buffer, offset: r.offset, size: r.size };
  });
  const release = () => {
    for (const b of moved.values()) device.release(b);
  };
  return { args, release };
}

/** A candidate whose first timed run is this many times the best so far gets no more runs. */
const ABANDON_FACTOR = 1.5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One run of `variant` on `args`: GPU ms where the adapter has timestamps, else wall ms. */
async function timeVariant(device: Device, p: KernelProblem, args: unknown, variant: string): Promise<number> {
  const t = await device.time(() => p.run(device, args, variant));
  return t.gpuMs ?? t.wallMs;
}

/** Fewest alternated pairs that confirm a challenger. */
const CONFIRM_PAIRS = 5;

/**
 * Median over at least `CONFIRM_PAIRS` pairs of time(challenger) / time(default), the two run back to back on
 * the same buffers, in ABBA order.
 */
async function alternatedRatio(device: Device, p: KernelProblem, challenger: string, rounds: number): Promise<number> {
  const replay = replayBuffers(device, p);
  try {
    const time = (variant: string) => timeVariant(device, p, replay.args, variant);
    const ratios: number[] = [];
    // ABBA, so that an order effect (the second run of a pair finds the caches the first left) weighs on both;
    // and 5 pairs, not 3: with 3, challenger always first, a noisy hour confirmed a 1.70× "speed-up" between two
    // rows that run the same kernel there (bench/NOTES.md).
    for (let i = 0; i < Math.max(CONFIRM_PAIRS, rounds); i++) {
      if (i % 2 === 0) ratios.push((await time(challenger)) / (await time(p.defaultVariant)));
      else {
        const base = await time(p.defaultVariant);
        ratios.push((await time(challenger)) / base);
      }
    }
    return median(ratios);
  } finally {
    replay.release();
  }
}

/**
 * Time every candidate of every problem (one warm-up run, then `runs` timed runs each), choose the fastest
 * (the default unless another beats it by `minGain`) and set `device.kernelChoices`. The default variants are
 * measured first for all problems; then the problems are tuned slowest first, so a small budget goes where
 * the time is. A challenger that seems to beat the default is confirmed by alternated runs of the two.
 */
export async function tuneKernels(
  device: Device,
  problems: readonly KernelProblem[],
  options: TuneOptions = {},
): Promise<TuneResult> {
  const budgetMs = options.budgetMs ?? 120_000;
  const runs = options.runs ?? 3;
  const minGain = options.minGain ?? 0.05;
  if (!(budgetMs >= 0)) throw new RangeError(`tuning budget must be ≥ 0 ms, got ${budgetMs}`);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`tuning runs must be an integer ≥ 1, got ${runs}`);
  if (!(minGain >= 0 && minGain < 1)) throw new RangeError(`minGain must be in [0, 1), got ${minGain}`);
  const hasTimestamps = device.features.has('timestamp-query');
  const start = performance.now();
  const overBudget = () => performance.now() - start > budgetMs;
  const total = problems.reduce((n, p) => n + p.candidates.length, 0);
  let done = 0;

  const state = new Map<string, { ms: Record<string, number>; errors: Record<string, string> }>();
  const measure = async (p: KernelProblem, variant: string): Promise<void> => {
    const s = state.get(p.key) ?? { ms: {}, errors: {} };
    state.set(p.key, s);
    const replay = replayBuffers(device, p);
    try {
      const once = () => timeVariant(device, p, replay.args, variant);
      await once(); // compiles the variant's pipelines
      const times: number[] = [];
      // A candidate far behind the best so far is not timed further: losers can be 10× slower (the direct
      // kernels on big layers), and the budget is better spent on the next problem.
      const best = Math.min(...Object.values(s.ms));
      for (let i = 0; i < runs; i++) {
        times.push(await once());
        if (times[0]! > ABANDON_FACTOR * best) break;
      }
      s.ms[variant] = median(times);
    } catch (e) {
      s.ms[variant] = Number.POSITIVE_INFINITY;
      s.errors[variant] = e instanceof Error ? e.message : String(e);
    } finally {
      replay.release();
    }
    done++;
    options.onProgress?.({ done, total, key: p.key, variant, ms: s.ms[variant]! });
  };

  const reached: KernelProblem[] = [];
  for (const p of problems) {
    if (overBudget()) break;
    await measure(p, p.defaultVariant);
    reached.push(p);
  }
  const slowestFirst = [...reached].sort(
    (a, b) => (state.get(b.key)!.ms[b.defaultVariant] ?? 0) - (state.get(a.key)!.ms[a.defaultVariant] ?? 0),
  );
  const tuned: TunedProblem[] = [];
  const finished = new Set<string>();
  for (const p of slowestFirst) {
    let complete = true;
    for (const v of p.candidates) {
      if (v === p.defaultVariant) continue;
      if (overBudget()) {
        complete = false;
        break;
      }
      await measure(p, v);
    }
    if (!complete) break;
    const { ms, errors } = state.get(p.key)!;
    const best = p.candidates.reduce((a, b) => ((ms[b] ?? Infinity) < (ms[a] ?? Infinity) ? b : a));
    let beatsDefault = (ms[best] ?? Infinity) < (ms[p.defaultVariant] ?? Infinity) * (1 - minGain);
    if (beatsDefault && Number.isFinite(ms[p.defaultVariant]!) && !overBudget()) {
      // The two were timed seconds apart on a machine whose speed drifts: confirm with alternated runs.
      beatsDefault = (await alternatedRatio(device, p, best, runs)) < 1 - minGain;
    }
    const variant = beatsDefault ? best : p.defaultVariant;
    device.kernelChoices.set(p.key, variant);
    tuned.push({
      key: p.key,
      defaultVariant: p.defaultVariant,
      variant,
      ms,
      ...(Object.keys(errors).length ? { errors } : {}),
    });
    finished.add(p.key);
  }
  return {
    tuned,
    untuned: problems.filter((p) => !finished.has(p.key)).map((p) => p.key),
    elapsedMs: performance.now() - start,
    timing: hasTimestamps ? 'gpu-timestamp' : 'wall-clock',
  };
}
