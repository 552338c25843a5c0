/**
 * Kernel autotuning from the command line: `ternausnet tune` (ahead of time), and `--tune cached|auto|off` of
 * train / reproduce / demo / predict (use the cache; tune on first use within a budget; ignore the cache).
 */
import { type Architecture, describeArchitecture, type TuneModelResult, tuneModelKernels } from '@ternausnet/model';
import { getDevice, type TuneProgress } from '@ternausnet/tensor';
import { defaultTuningCachePath, loadKernelTuning } from '@ternausnet/tensor/node';
import { createProgress, type Progress } from './progress.ts';

export const TUNE_MODES = ['cached', 'auto', 'off'] as const;
export type TuneMode = (typeof TUNE_MODES)[number];

/** What --tune and --tune-budget ask for. `auto` tunes at the first training batch's shape. */
export interface TuneSetting {
  mode: TuneMode;
  budgetMs: number;
  cachePath: string;
}

export function tuneSetting(mode: string | undefined, budgetSeconds: number, cache: string | undefined): TuneSetting {
  const m = mode ?? 'cached';
  if (!(TUNE_MODES as readonly string[]).includes(m)) {
    throw new RangeError(`--tune must be one of ${TUNE_MODES.join(', ')}, got '${m}'`);
  }
  if (!(budgetSeconds >= 0)) throw new RangeError(`--tune-budget must be ≥ 0 seconds, got ${budgetSeconds}`);
  return { mode: m as TuneMode, budgetMs: budgetSeconds * 1000, cachePath: cache ?? defaultTuningCachePath() };
}

/** Put the cached choices of this machine into the device (unless --tune off), saying so when there are any. */
export function applyCachedTuning(setting: TuneSetting): void {
  if (setting.mode === 'off') return;
  const loaded = loadKernelTuning(getDevice(), setting.cachePath);
  if (loaded.problem) process.stderr.write(`kernel tuning cache not used: ${loaded.problem}\n`);
  else if (loaded.applied > 0) {
    process.stderr.write(`kernel tuning: ${loaded.applied} tuned choices from ${loaded.path}\n`);
  }
}

function progressReporter(label: string): { onProgress: (e: TuneProgress) => void; stop: () => void } {
  let bar: Progress | null = null;
  return {
    onProgress: (e) => {
      bar ??= createProgress({ label, total: e.total, fields: ['problem'] });
      bar.update(e.done, { problem: `${e.key} ${e.variant}` });
    },
    stop: () => bar?.stop(),
  };
}

/** Tune `arch` at `sizes` (batch `batch`) within the setting's budget, with a progress bar. */
export async function tuneWithProgress(
  arch: Architecture,
  sizes: readonly number[],
  batch: number,
  setting: TuneSetting,
  retune = false,
): Promise<TuneModelResult> {
  const progress = progressReporter(`tuning ${describeArchitecture(arch)} at ${sizes.join(', ')}`);
  try {
    return await tuneModelKernels(arch, {
      sizes,
      batch,
      budgetMs: setting.budgetMs,
      cachePath: setting.cachePath,
      retune,
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop();
  }
}

/** The table `ternausnet tune` prints: every problem's choice and each candidate's median time. */
export function formatTuning(r: TuneModelResult): string {
  const fmt = (ms: number | null | undefined) => (typeof ms === 'number' && Number.isFinite(ms) ? ms.toFixed(2) : '—');
  const rows = r.choices.map((t) => {
    const times = Object.entries(t.ms)
      .map(([v, ms]) => `${v} ${fmt(ms)}`)
      .join(', ');
    const gain = (t.ms[t.defaultVariant] ?? Number.NaN) / (t.ms[t.variant] ?? Number.NaN);
    const mark = t.variant === t.defaultVariant ? '' : ` ← ${t.variant} (${gain.toFixed(2)}× the default)`;
    return `  ${t.key.padEnd(44)} ${t.defaultVariant.padEnd(9)} ms: ${times}${mark}`;
  });
  const changed = r.choices.filter((t) => t.variant !== t.defaultVariant).length;
  return [
    `${r.problems} kernel problems: ${r.tuned.length} tuned now (${(r.elapsedMs / 1000).toFixed(0)} s, ${r.timing}), ` +
      `${r.fromCache} from the cache, ${r.untuned.length} left for a later run (budget).`,
    `${changed} choices differ from the adapter's default. Cache: ${r.cachePath}`,
    `  ${'problem'.padEnd(44)} ${'default'.padEnd(9)} median time per candidate`,
    ...rows,
  ].join('\n');
}
