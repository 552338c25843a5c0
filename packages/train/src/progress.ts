/**
 * Progress display for long work: a cli-progress bar (value/total, ETA, custom fields) when stderr is a
 * terminal, and otherwise one plain line every few seconds, so that CI logs and redirected output stay readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  /** Shown before the bar, e.g. "lecun epoch 3/20". */
  label: string;
  total: number;
  /** Field names shown after the bar, in order. */
  fields?: readonly string[];
  /** Force the bar on/off (default: on when stderr is a TTY). */
  enabled?: boolean;
}

export function createProgress(options: ProgressOptions): Progress {
  const fields = options.fields ?? [];
  const tty = options.enabled ?? Boolean(process.stderr.isTTY);
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${options.label} [{bar}] {value}/{total} ${fields.map((f) => `${f} {${f}}`).join(' ')} ETA {eta_formatted}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stderr,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(options.total, 0, Object.fromEntries(fields.map((f) => [f, '-'])));
    return {
      update: (value, f) => bar.update(value, f ?? {}),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  const start = Date.now();
  return {
    update: (value, f) => {
      const now = Date.now();
      if (now - last < 10_000 && value < options.total) return;
      last = now;
      const rate = value / Math.max(1e-3, (now - start) / 1000);
      const eta = rate > 0 ? Math.round((options.total - value) / rate) : Number.NaN;
      const extra = Object.entries(f ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(' ');
      process.stderr.write(`${options.label} ${value}/${options.total} ${extra} ETA ${eta}s\n`);
    },
    stop: () => {},
  };
}
