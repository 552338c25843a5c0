/**
 * A smoke run of the benchmark suite at a toy size (speed is measured by `npm run bench`, never asserted in
 * tests): each command runs end to end, names the adapter and the timing method, and prints its JSON last line.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

function bench(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; json: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/src/cli.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(last);
      } catch {
        // left empty: the assertions below report the output
      }
      resolve({ code, out, json });
    });
  });
}

/** The toy run every smoke test uses: size 32, one timed run, no warm-up. */
const TOY = ['--size', '32', '--runs', '1', '--warmup', '0'];

const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

describe('bench (smoke)', () => {
  it('model with the TF.js peer: forward and train step medians, and our/peer ratios', async () => {
    const r = await bench(['model', ...TOY, '--peer', 'tfjs', '--json']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/adapter: /);
    expect(r.json.adapter).toEqual(expect.any(String));
    expect([r.json.size, r.json.batch]).toEqual([32, 1]);
    expect(positive(r.json.forward_ms) && positive(r.json.train_step_ms), r.out).toBe(true);
    const peer = r.json.peer as Record<string, number>;
    // The peer's train step needs TF.js's gradient registrations (a side-effect module Node cannot load alone).
    for (const k of ['forward_ms', 'train_step_ms', 'forward_ratio', 'train_step_ratio']) {
      expect(positive(peer[k]), `${k} in ${r.out}`).toBe(true);
    }
  });

  it('model --model unet16 --deconv: names the architecture, forward and train step medians', async () => {
    const r = await bench(['model', '--model', 'unet16', '--deconv', '--num-filters', '8', ...TOY, '--json']);
    expect(r.code, r.out).toBe(0);
    expect(r.json.model).toBe('UNet16 (num_filters 8, transposed-convolution decoder (4×4, stride 2))');
    expect(positive(r.json.forward_ms) && positive(r.json.train_step_ms), r.out).toBe(true);
  });

  it('model --against: the default and the given variants alternated, each side timed, the paired ratio', async () => {
    const r = await bench(['model', ...TOY, '--runs', '2', '--against', 'conv3x3=direct', '--json']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/2 alternated pairs/);
    const against = r.json.against as Record<
      string,
      { base: { runs: number; median: number }; against: { runs: number; median: number }; ratio: number }
    > & { variants: Record<string, string> };
    expect(against.variants).toEqual({ conv3x3: 'direct' });
    for (const t of [against.forward!, against.train_step!]) {
      expect([t.base.runs, t.against.runs]).toEqual([2, 2]);
      expect(positive(t.base.median) && positive(t.against.median) && positive(t.ratio), r.out).toBe(true);
    }
    const bad = await bench(['model', ...TOY, '--against', 'conv3x3=fast']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/conv3x3 variant 'fast' unknown/);
  });

  it('model --peer pytorch: the peer process alternated with ours, both medians and the paired ratio', async () => {
    // A stand-in for bench/pytorch_unet11.py --serve (PyTorch is not installed on every machine): the same
    // protocol, a greeting line, then one {"ms": …} line per command, 10 ms a forward and 40 ms a step.
    const dir = mkdtempSync(join(tmpdir(), 'peer-'));
    const fake = join(dir, 'python');
    writeFileSync(
      fake,
      [
        '#!/bin/sh',
        'echo \'{"library": "FakeTorch 0.0 CPU", "threads": 2}\'',
        'while read cmd; do',
        '  if [ "$cmd" = forward ]; then echo \'{"ms": 10}\'; else echo \'{"ms": 40}\'; fi',
        'done',
      ].join('\n'),
    );
    chmodSync(fake, 0o755);
    const r = await bench(['model', ...TOY, '--runs', '3', '--peer', 'pytorch', '--json'], { TERNAUSNET_PYTHON: fake });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/against FakeTorch 0\.0 CPU \(2 threads\), 3 alternated pairs/);
    const peer = r.json.peer as Record<string, number | string>;
    expect(peer.library).toBe('FakeTorch 0.0 CPU (2 threads)');
    expect([peer.forward_ms, peer.train_step_ms]).toEqual([10, 40]);
    // Our medians over the peer's fixed times: the ratio is computed from the pairs, not made up.
    for (const [ours, theirs, ratio] of [
      [r.json.forward_ms, 10, peer.forward_ratio],
      [r.json.train_step_ms, 40, peer.train_step_ratio],
    ] as const) {
      expect(positive(ours), r.out).toBe(true);
      expect(ratio).toBeCloseTo((ours as number) / theirs, 6);
    }
    const missing = await bench(['model', ...TOY, '--peer', 'pytorch'], { TERNAUSNET_PYTHON: join(dir, 'none') });
    expect(missing.code).not.toBe(0);
    expect(missing.out).toMatch(/--peer pytorch: cannot start: .*needs torch: Debian's python3-torch/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('kernels --model unet16: rows for the transposed 4×4 convolution (deconv) and the upsampling (bilinear)', async () => {
    const common = ['kernels', '--model', 'unet16', '--num-filters', '8', ...TOY, '--filter', 'dec2'];
    const deconv = await bench([...common, '--deconv', '--json']);
    expect(deconv.code, deconv.out).toBe(0);
    const kernels = (r: typeof deconv) => (r.json.kernels as { kernel: string }[]).map((k) => k.kernel);
    expect(kernels(deconv)).toEqual(expect.arrayContaining(['convTranspose4x4s2Forward', 'convTranspose4x4s2Wgrad']));
    const bilinear = await bench([...common, '--json']);
    expect(bilinear.code, bilinear.out).toBe(0);
    expect(kernels(bilinear)).toEqual(
      expect.arrayContaining(['upsampleBilinear2xForward', 'upsampleBilinear2xBackward']),
    );
  });

  it('kernels with the TF.js peer: our rows, the ceiling, and our/peer ratios', async () => {
    const r = await bench(['kernels', ...TOY, '--filter', 'encoder.3', '--peer', 'tfjs', '--json']);
    expect(r.code, r.out).toBe(0);
    const rows = r.json.kernels as { kernel: string; timing: { median: number; method: string } }[];
    expect(rows.map((k) => k.kernel)).toEqual(['conv3x3Forward', 'conv3x3Dgrad', 'conv3x3Wgrad']);
    for (const k of rows) expect(positive(k.timing.median)).toBe(true);
    expect(['gpu-timestamp', 'wall-clock']).toContain(rows[0]!.timing.method);
    expect(positive((r.json.ceiling as { gflops: number }).gflops)).toBe(true);
    const peer = r.json.peer as { library: string; rows: { kernel: string; ratio: number }[] };
    expect(peer.library).toMatch(/TensorFlow\.js 4\.22/);
    expect(peer.rows.map((k) => k.kernel)).toEqual(['conv3x3Forward', 'conv3x3Dgrad', 'conv3x3Wgrad']);
    for (const k of peer.rows) expect(positive(k.ratio)).toBe(true);
  });

  it('profile: every dispatch of a training step timed and grouped by kernel family', async () => {
    const r = await bench(['profile', '--size', '32', '--warmup', '0', '--json']);
    expect(r.code, r.out).toBe(0);
    const p = r.json.profile as {
      totalMs: number;
      rows: { kernel: string; dispatches: number; ms: number }[];
      dispatches: { label: string; ms: number }[];
    };
    // A UNet11 step runs far more than 100 dispatches; each family row sums its dispatches.
    expect(p.dispatches.length).toBeGreaterThan(100);
    for (const d of p.dispatches) expect(d.ms >= 0 && Number.isFinite(d.ms), d.label).toBe(true);
    expect(p.rows.reduce((s, row) => s + row.dispatches, 0)).toBe(p.dispatches.length);
    const kernels = p.rows.map((row) => row.kernel);
    // The variant, and for a row that chooses per call (winograd-by-shape) the kernel that ran: `…/subgroup`.
    for (const k of [/^conv3x3Forward:[\w-]+(\/[\w-]+)? -> 64$/, /^conv3x3Wgrad:[\w-]+ -> 512$/, /^adam$/]) {
      expect(
        kernels.some((name) => k.test(name)),
        `${k} in ${kernels}`,
      ).toBe(true);
    }
    expect(p.rows.every((row) => !/[[(]/.test(row.kernel))).toBe(true);
    expect(p.rows.reduce((s, row) => s + row.ms, 0)).toBeCloseTo(p.totalMs, 6);
  });

  it('rejects a size that is not a multiple of 32, and a peer for profile, with messages naming them', async () => {
    const r = await bench(['model', '--size', '50']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/--size must be a multiple of 32, got 50/);
    const peer = await bench(['profile', '--peer', 'tfjs']);
    expect(peer.code).not.toBe(0);
    expect(peer.out).toMatch(/profile has no peer/);
  });
});
