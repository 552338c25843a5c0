/**
 * The benchmark suite: `npm run bench -- <kernels|model|profile|ceiling|tune> [--size 128] [--batch 1] [--runs 5]
 * [--warmup 2] [--filter NAME] [--json] [--peer tfjs|pytorch] [--against VARIANTS] [--plot FILE.svg] [--tuned]`.
 * Tables go to stdout; with --json the last line is one JSON object with everything measured.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { type Architecture, describeArchitecture, tuneModelKernels } from '@ternausnet/model';
import { type Device, initDevice, parseVariantOverrides } from '@ternausnet/tensor';
import { defaultTuningCachePath, loadKernelTuning, writeFileAtomic } from '@ternausnet/tensor/node';
import { measureCeiling } from './ceiling.ts';
import { benchKernels, type KernelRow } from './kernels.ts';
import {
  type AlternatedTiming,
  benchModel,
  benchModelAgainst,
  benchModelAgainstPeer,
  profileTrainStep,
} from './model.ts';
import { startPytorchPeer } from './peer-pytorch.ts';
import { checkPlotPath, rooflineSvg } from './roofline.ts';

const USAGE = `usage: npm run bench -- <command> [options]
commands:
  kernels   every kernel at every UNet11 (or --model unet16 …) layer shape (forward, dgrad, wgrad, pool, loss, Adam)
  model     UNet11 (or --model unet16 [--deconv] [--num-filters 32]) forward and one Adam training step
  profile   GPU time of every dispatch of one training step, by kernel family (needs timestamp queries)
  ceiling   the adapter's measured FMA throughput and copy bandwidth
  tune      time every kernel variant at the model's layer shapes (--size, --batch) on this adapter and cache the
            choices (the same as \`ternausnet tune\`); --tune-budget S (default 600), --retune, --tune-cache FILE
options:
  --size N      input side, a multiple of 32 (default 128)
  --batch N     batch size (default 1)
  --runs N      timed runs per measurement; medians are reported (default 5)
  --warmup N    untimed runs first (default 2)
  --filter S    kernels: only layers or kernels whose name contains S
  --peer tfjs   also TensorFlow.js's WebGPU backend on the same adapter: our/peer ratios (model: alternated
                run by run with ours, both medians and the median paired ratio; kernels: each layer after ours)
  --peer pytorch  model: PyTorch's CPU UNet11 (bench/pytorch_unet11.py; Debian's python3-torch, or
                TERNAUSNET_PYTHON) alternated run by run with ours, as --peer tfjs
  --against V   model: alternate, run by run, the default variants with the variants V (as TERNAUSNET_VARIANTS,
                e.g. conv3x3.forward=subgroup) and print both medians and the median paired ratio
  --tuned       kernels, model, profile: use this machine's cached tuning (default: the adapter's default variants)
  --json        print a JSON object as the last line
  --plot F.svg  kernels: also draw a roofline (each kernel's FLOP/byte against GFLOP/s under the measured
                ceilings) into F.svg; hover a point for its layer, kernel, shape and time
environment: WEBGPU_BACKEND, WEBGPU_ADAPTER choose the adapter; LP_NUM_THREADS sets lavapipe's threads.`;

function fmt(v: number, digits = 2): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      size: { type: 'string', default: '128' },
      batch: { type: 'string', default: '1' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      filter: { type: 'string' },
      peer: { type: 'string' },
      against: { type: 'string' },
      json: { type: 'boolean', default: false },
      model: { type: 'string', default: 'unet11' },
      deconv: { type: 'boolean', default: false },
      'num-filters': { type: 'string', default: '32' },
      plot: { type: 'string' },
      tuned: { type: 'boolean', default: false },
      'tune-budget': { type: 'string', default: '600' },
      'tune-cache': { type: 'string' },
      retune: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command || !['kernels', 'model', 'ceiling', 'profile', 'tune'].includes(command)) {
    console.log(USAGE);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
  const size = int('size', values.size, 32);
  /** --model, --deconv, --num-filters (UNet11's decoder is always transposed convolutions). */
  const architecture = (): Architecture => {
    const model = values.model;
    if (model !== 'unet11' && model !== 'unet16')
      throw new RangeError(`--model must be unet11 or unet16, got ${model}`);
    return {
      model,
      numFilters: int('num-filters', values['num-filters'], 1),
      deconv: model === 'unet11' || values.deconv,
    };
  };
  const batch = int('batch', values.batch, 1);
  const runs = int('runs', values.runs, 1);
  const warmup = int('warmup', values.warmup, 0);
  if (size % 32 !== 0) throw new RangeError(`--size must be a multiple of 32, got ${size}`);
  if (values.peer !== undefined && values.peer !== 'tfjs' && values.peer !== 'pytorch') {
    throw new RangeError(`--peer: 'tfjs' or 'pytorch', got '${values.peer}'`);
  }
  if (values.peer === 'pytorch' && (command !== 'model' || values.model !== 'unet11')) {
    throw new RangeError('--peer pytorch: for model (UNet11) only');
  }
  if (values.against !== undefined && (command !== 'model' || values.peer !== undefined)) {
    throw new RangeError('--against: only for model, and without --peer (it compares our variants, not a peer)');
  }
  if (values.peer !== undefined && command === 'profile') {
    throw new RangeError('--peer: profile has no peer (TF.js exposes no per-dispatch timings); use model or kernels');
  }
  if (values.plot !== undefined && command !== 'kernels') {
    throw new RangeError(`--plot: only the kernels command draws a roofline, not ${command}`);
  }
  // Checked before the benchmark, which can run for minutes.
  const plotPath = values.plot === undefined ? undefined : checkPlotPath(values.plot);
  const device: Device = await initDevice();
  const info = {
    adapter: device.adapterName,
    lpNumThreads: process.env.LP_NUM_THREADS ?? null,
    size,
    batch,
    runs,
    warmup,
  };
  console.log(`adapter: ${device.adapterName}${info.lpNumThreads ? ` (LP_NUM_THREADS=${info.lpNumThreads})` : ''}`);
  const result: Record<string, unknown> = { ...info };
  const cachePath = values['tune-cache'] ?? defaultTuningCachePath();
  if (values.tuned) {
    const loaded = loadKernelTuning(device, cachePath);
    if (loaded.problem) throw new Error(loaded.problem);
    console.log(`tuned: ${loaded.applied} cached kernel choices from ${cachePath}`);
    result.tunedChoices = loaded.applied;
  }
  if (command === 'tune') {
    const budget = Number(values['tune-budget']);
    if (!(budget >= 0)) throw new RangeError(`--tune-budget must be ≥ 0 seconds, got '${values['tune-budget']}'`);
    const r = await tuneModelKernels(architecture(), {
      sizes: [size],
      batch,
      budgetMs: budget * 1000,
      cachePath,
      retune: values.retune,
      device,
      onProgress: (e) => console.log(`${e.done}/${e.total} ${e.key} ${e.variant}: ${fmt(e.ms, 3)} ms`),
    });
    const changed = r.choices.filter((t) => t.variant !== t.defaultVariant);
    console.log(
      `${r.problems} problems: ${r.tuned.length} tuned now in ${fmt(r.elapsedMs / 1000, 0)} s (${r.timing}), ` +
        `${r.fromCache} from the cache, ${r.untuned.length} left (budget); cache ${cachePath}`,
    );
    console.log(
      table(
        ['problem', 'default', 'chosen', 'default ms', 'chosen ms', 'speed-up'],
        changed.map((t) => [
          t.key,
          t.defaultVariant,
          t.variant,
          fmt(t.ms[t.defaultVariant] ?? Number.NaN, 3),
          fmt(t.ms[t.variant] ?? Number.NaN, 3),
          fmt((t.ms[t.defaultVariant] ?? Number.NaN) / (t.ms[t.variant] ?? Number.NaN)),
        ]),
      ),
    );
    result.tuning = r;
  }
  if (command === 'ceiling' || command === 'kernels') {
    const c = await measureCeiling(device, runs, warmup);
    console.log(
      `ceiling: ${fmt(c.gflops, 1)} GFLOP/s (register FMA loop), ${fmt(c.gbps, 1)} GB/s (copy) [${c.fma.method}]`,
    );
    result.ceiling = { gflops: c.gflops, gbps: c.gbps, method: c.fma.method };
    if (command === 'kernels') {
      const model = architecture();
      if (values.peer && model.model !== 'unet11') {
        throw new RangeError("--peer: the TF.js peer covers UNet11's layers only; drop --peer or --model unet16");
      }
      const rows: KernelRow[] = await benchKernels(device, {
        size,
        batch,
        runs,
        warmup,
        model,
        ...(values.filter ? { filter: values.filter } : {}),
      });
      console.log(
        table(
          ['layer', 'kernel', 'shape', 'median ms', 'min', 'max', 'GFLOP/s', 'GB/s', '% FLOP ceil', '% BW ceil'],
          rows.map((r) => [
            r.layer,
            r.kernel,
            r.shape,
            fmt(r.timing.median, 3),
            fmt(r.timing.min, 3),
            fmt(r.timing.max, 3),
            fmt(r.gflops),
            fmt(r.gbps),
            fmt((100 * r.gflops) / c.gflops, 1),
            fmt((100 * r.gbps) / c.gbps, 1),
          ]),
        ),
      );
      const conv = rows.filter((r) => r.kernel.startsWith('conv3x3'));
      const flops = conv.reduce((s, r) => s + r.flops, 0);
      const ms = conv.reduce((s, r) => s + r.timing.median, 0);
      console.log(
        `conv3x3 overall: ${fmt(flops / ms / 1e6)} GFLOP/s = ${fmt((100 * flops) / ms / 1e6 / c.gflops, 1)} % of ceiling; timing: ${rows[0]?.timing.method}`,
      );
      result.kernels = rows;
      result.conv3x3Gflops = flops / ms / 1e6;
      if (plotPath !== undefined) {
        const cpu = cpus();
        const name =
          model.model === 'unet11'
            ? 'UNet11'
            : `UNet16 (num_filters ${model.numFilters}, ${model.deconv ? 'transposed-conv' : 'bilinear'} decoder)`;
        const plot = rooflineSvg({
          rows,
          ceiling: { gflops: c.gflops, gbps: c.gbps, method: c.fma.method },
          adapter: device.adapterName,
          host: `${cpu[0]?.model.trim() || 'unknown CPU'} (${cpu.length} CPUs)${info.lpNumThreads ? `, LP_NUM_THREADS=${info.lpNumThreads}` : ''}`,
          date: new Date(),
          subject: `${name} ${batch}×3×${size}×${size}, medians of ${runs}${values.filter ? `, --filter ${values.filter}` : ''}`,
        });
        writeFileAtomic(plotPath, plot.svg);
        const skipped = plot.skipped.length ? `; ${plot.skipped.length} rows skipped (zero or non-finite values)` : '';
        console.log(`roofline: ${plot.points.length} points written to ${plotPath}${skipped}`);
        result.plot = { file: plotPath, points: plot.points.length, skipped: plot.skipped.length };
      }
    }
  }
  if (command === 'model') {
    const model = values.model;
    if (model !== 'unet11' && model !== 'unet16')
      throw new RangeError(`--model must be unet11 or unet16, got ${model}`);
    const arch: Architecture = {
      model,
      numFilters: int('num-filters', values['num-filters'], 1),
      deconv: model === 'unet11' || values.deconv,
    };
    result.model = describeArchitecture(arch);
    if (values.against !== undefined) {
      const overrides = parseVariantOverrides(values.against, '--against');
      const m = await benchModelAgainst(device, overrides, size, batch, runs, warmup, arch);
      const line = (what: string, t: AlternatedTiming) =>
        `  ${what}: ${fmt(t.base.median, 1)} ms default, ${fmt(t.against.median, 1)} ms with ${values.against}: ` +
        `paired ratio ${fmt(t.ratio, 3)}`;
      console.log(
        `${describeArchitecture(arch)} ${batch}x3x${size}x${size}, ${runs} alternated pairs [wall clock, medians]:\n` +
          `${line('forward', m.forward)}\n${line('Adam train step', m.trainStep)}`,
      );
      result.against = { variants: overrides, forward: m.forward, train_step: m.trainStep };
    } else if (values.peer !== undefined) {
      const peer =
        values.peer === 'pytorch'
          ? await startPytorchPeer(size, batch)
          : await (await import('./peer-tfjs.ts')).startTfjsModelPeer(device, size, batch);
      const m = await benchModelAgainstPeer(device, peer, size, batch, runs, warmup).finally(() => peer.close());
      const line = (what: string, t: AlternatedTiming) =>
        `  ${what}: ours ${fmt(t.base.median, 1)} ms, peer ${fmt(t.against.median, 1)} ms: paired ours/peer ` +
        `${fmt(1 / t.ratio, 3)}`;
      console.log(
        `${describeArchitecture(arch)} ${batch}x3x${size}x${size} against ${peer.library}, ${runs} alternated ` +
          `pairs [wall clock, medians]:\n${line('forward', m.forward)}\n${line('Adam train step', m.trainStep)}`,
      );
      result.forward_ms = m.forward.base.median;
      result.train_step_ms = m.trainStep.base.median;
      result.peer = {
        library: peer.library,
        forward_ms: m.forward.against.median,
        train_step_ms: m.trainStep.against.median,
        forward_ratio: 1 / m.forward.ratio,
        train_step_ratio: 1 / m.trainStep.ratio,
      };
    } else {
      const m = await benchModel(device, size, batch, runs, warmup, arch);
      console.log(
        `${describeArchitecture(arch)} ${batch}x3x${size}x${size}: forward ${fmt(m.forward.median, 1)} ms (${fmt(m.forwardGflops)} GFLOP/s), ` +
          `Adam train step ${fmt(m.trainStep.median, 1)} ms (${fmt(m.trainGflops)} GFLOP/s) [wall clock, median of ${runs}]`,
      );
      result.forward_ms = m.forward.median;
      result.train_step_ms = m.trainStep.median;
      result.forward = m.forward;
      result.train_step = m.trainStep;
    }
  }
  if (command === 'profile') {
    const p = await profileTrainStep(device, size, batch, warmup);
    console.log(
      `UNet11 ${batch}x3x${size}x${size} Adam train step: ${p.dispatches.length} dispatches summing to ` +
        `${fmt(p.totalMs, 1)} ms [gpu-timestamp, one pass per dispatch]; the same step unprofiled: ` +
        `${fmt(p.wallMs, 1)} ms wall. A pass per dispatch adds synchronisation to each, so read the shares.`,
    );
    const pct = (ms: number) => fmt((100 * ms) / p.totalMs, 1);
    console.log(
      table(
        ['kernel', 'dispatches', 'ms', '%'],
        p.rows.map((r) => [r.kernel, String(r.dispatches), fmt(r.ms, 1), pct(r.ms)]),
      ),
    );
    const slowest = [...p.dispatches].sort((a, b) => b.ms - a.ms).slice(0, 15);
    console.log(
      `\nslowest dispatches:\n${table(
        ['label', 'ms', '%'],
        slowest.map((d) => [d.label, fmt(d.ms, 2), pct(d.ms)]),
      )}`,
    );
    result.profile = { totalMs: p.totalMs, wallMs: p.wallMs, rows: p.rows, dispatches: p.dispatches };
  }
  if (values.peer === 'tfjs' && command !== 'model') {
    const { runTfjsPeer } = await import('./peer-tfjs.ts');
    const peer = await runTfjsPeer(device, { size, batch, runs, warmup, ours: result });
    result.peer = peer;
    console.log(`\npeer: ${peer.library}, same adapter, same run; wall clock for both sides, medians`);
    if (peer.rows.length > 0) {
      const ours = (result.kernels as KernelRow[] | undefined) ?? [];
      console.log(
        table(
          ['layer', 'kernel', 'ours ms', 'peer ms', 'ours/peer'],
          peer.rows.map((r) => [
            r.layer,
            r.kernel,
            fmt(ours.find((k) => k.layer === r.layer && k.kernel === r.kernel)?.timing.wallMedian ?? Number.NaN, 3),
            fmt(r.peer.median, 3),
            fmt(r.ratio ?? Number.NaN, 3),
          ]),
        ),
      );
      const matched = peer.rows.filter((r) => r.ratio !== null);
      const oursMs = matched.reduce((s, r) => s + r.ratio! * r.peer.median, 0);
      const peerMs = matched.reduce((s, r) => s + r.peer.median, 0);
      console.log(
        `all matched kernels: ours ${fmt(oursMs, 1)} ms, peer ${fmt(peerMs, 1)} ms, ours/peer ${fmt(oursMs / peerMs, 3)}`,
      );
    }
  }
  await device.destroy();
  if (values.json) console.log(JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
