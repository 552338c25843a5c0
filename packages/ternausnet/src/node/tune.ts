/**
 * Autotuning for a TernausNet workload: the kernel problems of one training step of the architecture at the
 * given input sizes (the forward's problems are among them, so prediction at those sizes benefits too), timed
 * per candidate variant on this adapter, and cached on disk (tensor's tuning cache). Problems already in the
 * cache for this machine setup are not measured again, so a budget-limited run continues where the last stopped.
 */
import {
  collectKernelProblems,
  type Device,
  getDevice,
  rand,
  type TunedProblem,
  type TuneProgress,
  type TuneResult,
  tidy,
  tuneKernels,
} from '@ternausnet/tensor';
import { defaultTuningCachePath, loadKernelTuning, saveKernelTuning } from '@ternausnet/tensor/node';
import { type Architecture, buildModel } from '../init.ts';
import { lossBinary } from '../loss.ts';

export interface TuneModelOptions {
  /** Square input sides to tune at (multiples of 32): the training crop, the prediction tile. */
  sizes: readonly number[];
  /** Batch size of the training step (problem keys include it). Default 1. */
  batch?: number;
  /** See `TuneOptions.budgetMs`. Default 120 s. */
  budgetMs?: number;
  /** Timed runs per candidate. Default 3. */
  runs?: number;
  /** The cache file. Default `defaultTuningCachePath()`. */
  cachePath?: string;
  /** Measure again problems the cache already has. */
  retune?: boolean;
  device?: Device;
  onProgress?: (event: TuneProgress) => void;
}

export interface TuneModelResult extends TuneResult {
  cachePath: string;
  /** Problems of the workload (all sizes). */
  problems: number;
  /** Of them, already in the cache (applied, not measured). */
  fromCache: number;
  /** The choice for every problem of the workload that has one now (cached before or tuned now). */
  choices: TunedProblem[];
}

/**
 * Tune the kernel variants of `arch`'s training step at `sizes`, save the choices, and leave them in
 * `device.kernelChoices`. Runs on a model of its own (LeCun init), so no model's weights or gradients change.
 */
export async function tuneModelKernels(arch: Architecture, options: TuneModelOptions): Promise<TuneModelResult> {
  const device = options.device ?? getDevice();
  const batch = options.batch ?? 1;
  for (const s of options.sizes) {
    if (!Number.isInteger(s) || s < 32 || s % 32 !== 0) {
      throw new RangeError(`tuning sizes must be multiples of 32 (the five 2×2 max-pools), got ${s}`);
    }
  }
  if (options.sizes.length === 0) throw new RangeError('tuning needs at least one input size');
  const cachePath = options.cachePath ?? defaultTuningCachePath();
  const loaded = loadKernelTuning(device, cachePath);
  if (loaded.problem) throw new Error(loaded.problem);
  const model = buildModel(arch, { seed: 0, device });
  try {
    const problems = await collectKernelProblems(device, async () => {
      for (const s of options.sizes) {
        const loss = tidy(() => {
          const x = rand([batch, 3, s, s], { seed: 1, low: -1, high: 1 });
          const y = rand([batch, 1, s, s], { seed: 2 });
          const l = lossBinary(model.forward(x), y, 1);
          l.backward();
          return l.detach();
        });
        await loss.item();
        loss.dispose();
      }
    });
    const todo = options.retune ? problems : problems.filter((p) => !loaded.tuned.has(p.key));
    const result = await tuneKernels(device, todo, {
      ...(options.budgetMs !== undefined ? { budgetMs: options.budgetMs } : {}),
      ...(options.runs !== undefined ? { runs: options.runs } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (result.tuned.length > 0) saveKernelTuning(device, result.tuned, cachePath);
    const now = new Map([...loaded.tuned, ...result.tuned.map((t) => [t.key, t] as const)]);
    return {
      ...result,
      cachePath,
      problems: problems.length,
      fromCache: problems.length - todo.length,
      choices: problems.flatMap((p) => {
        const t = now.get(p.key);
        return t ? [t] : [];
      }),
    };
  } finally {
    model.dispose();
  }
}
