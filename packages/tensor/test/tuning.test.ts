/**
 * Autotuning: discovery of a workload's problems, the tuner's choices and where they are used, and the on-disk
 * cache (fingerprint, invalidation, broken files). No test depends on what the tuner measures to be fast: the
 * assertions are about structure (every candidate timed, the choice is one of them and is what runs).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collectKernelProblems,
  conv3x3,
  rand,
  type Tensor,
  tensor,
  tidy,
  tuneKernels,
  writeData,
} from '@ternausnet/tensor';
import { loadKernelTuning, saveKernelTuning, tuningFingerprint } from '@ternausnet/tensor/node';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDevice } from '../../../test/support/gpu.ts';

describe('kernel autotuning', () => {
  const device = useTestDevice();
  const dir = mkdtempSync(join(tmpdir(), 'tuning-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A conv3x3 forward and backward at an odd, non-square shape: the three passes are variant-table problems.
  const x = () => rand([1, 5, 9, 7], { seed: 11, low: -1, high: 1, requiresGrad: true });
  const w = () => rand([6, 5, 3, 3], { seed: 12, low: -1, high: 1, requiresGrad: true });
  const step = async (xs: Tensor, ws: Tensor) => {
    const loss = tidy(() => {
      const l = conv3x3(xs, ws, null).sum();
      l.backward();
      return l.detach();
    });
    await loss.item();
    loss.dispose();
  };

  it('finds each pass of the workload once, with the variants that can run it here', async () => {
    const xs = x();
    const ws = w();
    const problems = await collectKernelProblems(device(), async () => {
      await step(xs, ws);
      await step(xs, ws);
    });
    expect(problems.map((p) => p.key).sort()).toEqual([
      'conv3x3.dgrad [1,6,9,7] -> 5',
      'conv3x3.forward [1,5,9,7] -> 6',
      'conv3x3.wgrad [1,5,9,7] -> 6',
    ]);
    for (const p of problems) {
      expect(p.candidates).toContain(p.defaultVariant);
      expect(p.candidates).toContain('direct');
    }
    expect(device().onKernelProblem).toBeNull();
    for (const t of [xs, ws, xs.grad, ws.grad]) t?.dispose();
  });

  it('times every candidate, chooses one of them, uses it, and never writes into the workload', async () => {
    const xs = x();
    const ws = w();
    const problems = await collectKernelProblems(device(), () => step(xs, ws));
    // The weight changes after discovery, so what is kept for it (its packed copy) is stale when the tuner runs:
    // whatever the replays do, the next forward must still see the new weight.
    writeData(
      ws,
      Float32Array.from({ length: ws.size }, (_, i) => Math.cos(i)),
    );
    const output = async (weight: Tensor) => {
      const y = tidy(() => conv3x3(xs, weight, null).detach());
      const a = await y.toArray();
      y.dispose();
      return a;
    };
    const before = [await xs.toArray(), await ws.toArray()];
    const progress: string[] = [];
    const r = await tuneKernels(device(), problems, {
      runs: 2,
      onProgress: (e) => progress.push(`${e.key} ${e.variant}`),
    });
    expect(r.untuned).toEqual([]);
    expect(r.tuned.map((t) => t.key).sort()).toEqual(problems.map((p) => p.key).sort());
    for (const t of r.tuned) {
      const p = problems.find((q) => q.key === t.key)!;
      expect(Object.keys(t.ms).sort()).toEqual([...p.candidates].sort());
      for (const ms of Object.values(t.ms)) expect(ms).toBeGreaterThan(0);
      expect(p.candidates).toContain(t.variant);
      expect(device().kernelChoices.get(t.key)).toBe(t.variant);
    }
    expect(progress.length).toBe(problems.reduce((n, p) => n + p.candidates.length, 0));
    expect([await xs.toArray(), await ws.toArray()]).toEqual(before);
    // Nor into what is kept for it (the weight packed for the subgroup kernels): the same output as a fresh copy.
    const copy = tensor(before[1]!, ws.shape);
    expect(await output(ws)).toEqual(await output(copy));
    copy.dispose();

    // The choice is what runs: force a choice per problem and read the variant from the dispatch labels.
    for (const p of problems) device().kernelChoices.set(p.key, 'direct');
    const labels = (await device().profile(() => step(xs, ws))).map((d) => d.label);
    for (const op of ['conv3x3Forward', 'conv3x3Dgrad', 'conv3x3Wgrad']) {
      expect(labels.some((l) => l.startsWith(`${op}:direct`))).toBe(true);
    }
    device().kernelChoices.clear();
    for (const t of [xs, ws, xs.grad, ws.grad]) t?.dispose();
  });

  it('a spent budget leaves problems untuned, to be finished by a later call', async () => {
    const xs = x();
    const ws = w();
    const problems = await collectKernelProblems(device(), () => step(xs, ws));
    const r = await tuneKernels(device(), problems, { budgetMs: 0 });
    expect(r.tuned).toEqual([]);
    expect(r.untuned.sort()).toEqual(problems.map((p) => p.key).sort());
    expect(device().kernelChoices.size).toBe(0);
    await expect(tuneKernels(device(), problems, { runs: 0 })).rejects.toThrow(/runs must be an integer ≥ 1, got 0/);
    for (const t of [xs, ws, xs.grad, ws.grad]) t?.dispose();
  });

  it('caches choices per machine setup; other kernel sources invalidate; a broken file is reported, then replaced', () => {
    const path = join(dir, 'sub', 'kernel-tuning.json');
    const tuned = [
      { key: 'conv3x3.wgrad [1,512,4,4] -> 512', defaultVariant: 'subgroup', variant: 'direct', ms: { direct: 1 } },
    ];
    expect(loadKernelTuning(device(), path)).toMatchObject({ applied: 0, problem: null });
    saveKernelTuning(device(), tuned, path);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['kernel-tuning.json']); // no temp file left behind
    device().kernelChoices.clear();
    const loaded = loadKernelTuning(device(), path);
    expect(loaded.applied).toBe(1);
    expect(device().kernelChoices.get(tuned[0]!.key)).toBe('direct');
    device().kernelChoices.clear();

    // The same adapter and CPU with other kernel sources: the entry no longer matches, and the next save drops it.
    const file = JSON.parse(readFileSync(path, 'utf8'));
    expect(file.entries[0].fingerprint).toEqual(tuningFingerprint(device()));
    file.entries[0].fingerprint.kernels = 'older-kernels';
    file.entries.push({ ...file.entries[0], fingerprint: { ...file.entries[0].fingerprint, cpu: 'another CPU' } });
    writeFileSync(path, JSON.stringify(file));
    expect(loadKernelTuning(device(), path).applied).toBe(0);
    saveKernelTuning(device(), tuned, path);
    const kept = JSON.parse(readFileSync(path, 'utf8')).entries.map(
      (e: { fingerprint: { cpu: string } }) => e.fingerprint.cpu,
    );
    expect(kept.sort()).toEqual(['another CPU', tuningFingerprint(device()).cpu].sort());
    device().kernelChoices.clear();

    writeFileSync(path, '{"format": "ternausnet-kernel-tuning", "vers');
    const broken = loadKernelTuning(device(), path);
    expect(broken.applied).toBe(0);
    expect(broken.problem).toMatch(/kernel-tuning\.json is not valid JSON .*delete it to retune/);
    writeFileSync(path, '{"format": "something else"}');
    expect(loadKernelTuning(device(), path).problem).toMatch(/not a version-1 kernel tuning cache/);
    saveKernelTuning(device(), tuned, path);
    expect(existsSync(path)).toBe(true);
    expect(loadKernelTuning(device(), path).applied).toBe(1);
    device().kernelChoices.clear();
  });
});
