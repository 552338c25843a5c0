/** Device, memory and autograd behaviour: pooling, leaks, scopes, errors that name the op and shapes. */
import {
  add,
  concat,
  conv3x3,
  convTranspose3x3s2,
  DisposedTensorError,
  keep,
  maxPool2x2,
  mean,
  mul,
  noGrad,
  rand,
  reshape,
  sum,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, useTestDevice } from '../../../test/support/gpu.ts';

describe('tensor core', () => {
  const device = useTestDevice();

  it('names the adapter and reads its limits', () => {
    expect(device().adapterName.length).toBeGreaterThan(3);
    expect(device().limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
  });

  it('round-trips data and reuses pooled buffers', async () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
    const a = tensor(data, [10, 100]);
    expect(await a.toArray()).toEqual(data);
    a.dispose();
    const created = device().stats().createdBuffers;
    for (let i = 0; i < 20; i++) tensor(data, [10, 100]).dispose();
    expect(device().stats().createdBuffers).toBe(created);
  });

  it('does not grow over 200 forward + backward + update iterations', async () => {
    const w = rand([4, 8], { seed: 1, requiresGrad: true });
    const b = zeros([8], { requiresGrad: true }).keep();
    const x = rand([16, 4, 8], { seed: 2 });
    const step = () =>
      tidy(() => {
        const y = add(mul(x, w), b).relu().sigmoid();
        const loss = mean(y);
        loss.backward();
        noGrad(() => {
          for (const p of [w, b]) {
            const updated = add(p, mul(p.grad!, -0.1));
            p.grad!.dispose();
            p.grad = null;
            // In-place parameter update through the storage: replace p's storage by the updated tensor's.
            const s = updated.storageFor('update');
            s.retain();
            p.replaceStorage(s);
          }
        });
        return loss.detach();
      });
    const first = step();
    const l0 = await first.item();
    first.dispose();
    const before = device().stats();
    let last = 0;
    for (let i = 0; i < 200; i++) {
      const l = step();
      if (i === 199) last = await l.item();
      l.dispose();
    }
    await device().sync();
    const after = device().stats();
    expect(after.liveBuffers).toBe(before.liveBuffers);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.createdBuffers).toBe(before.createdBuffers);
    expect(last).toBeLessThan(l0);
    for (const t of [w, b, x]) t.dispose();
  });

  it('tidy disposes intermediates and keeps returned tensors', async () => {
    const live = device().stats().liveBuffers;
    const kept = tidy(() => {
      const a = rand([3, 3], { seed: 3 });
      const b = a.mul(2).add(1);
      return { b, list: [b.relu()] };
    });
    expect(device().stats().liveBuffers).toBe(live + 2);
    expect((await kept.b.toArray()).length).toBe(9);
    kept.b.dispose();
    kept.list[0]!.dispose();
    expect(device().stats().liveBuffers).toBe(live);
  });

  it('errors: shape mismatch names the op and both shapes', () => {
    const a = zeros([2, 3]);
    const b = zeros([4]);
    expect(() => add(a, b)).toThrow(/add: shapes \[2,3\] and \[4\] do not broadcast/);
    expect(() => concat([a, zeros([2, 3, 1])], 1)).toThrow(/concat.*\[2,3\].*\[2,3,1\]/);
    expect(() => reshape(a, [4, 2])).toThrow(/cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/);
    a.dispose();
    b.dispose();
  });

  it('errors: a disposed tensor used again', () => {
    const a = zeros([2, 2], { name: 'weights' });
    a.dispose();
    expect(() => a.mul(2)).toThrow(DisposedTensorError);
    expect(() => a.mul(2)).toThrow(/mulScalar: tensor weights\[2,2\] was disposed/);
    const t = tidy(() => zeros([3]));
    let inner: Tensor | null = null;
    tidy(() => {
      inner = zeros([3]);
    });
    expect(() => inner!.add(t)).toThrow(DisposedTensorError);
    t.dispose();
  });

  it('errors: backward on a non-scalar without a gradient', () => {
    const a = rand([2, 3], { seed: 4, requiresGrad: true });
    const y = a.mul(3);
    expect(() => y.backward()).toThrow(/has 6 elements; backward\(\) without a gradient argument/);
    const z = zeros([3]);
    expect(() => z.backward()).toThrow(/does not require grad/);
    for (const t of [a, y, z]) t.dispose();
  });

  it('errors: a second backward through a freed graph', () => {
    const a = rand([3], { seed: 5, requiresGrad: true });
    const l = sum(a.mul(a));
    l.backward();
    expect(() => l.backward()).toThrow(/a second time/);
    a.dispose();
    l.dispose();
  });

  it('errors: a tensor over the device binding limit in an op that cannot split it', () => {
    const limit = device().limits.maxStorageBufferBindingSize;
    const n = Math.ceil(limit / 4 / 1024) + 1;
    // A broadcast operand must fit one binding: [n, 1024] broadcast against [2, n, 1024].
    const big = zeros([n, 1024]);
    const other = zeros([2, 1, 1]);
    expect(() => add(other, big)).toThrow(/exceed this device's maxStorageBufferBindingSize of 128 MiB/);
    big.dispose();
    other.dispose();
  });

  it('gradients accumulate across backward calls and through shared inputs', async () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    sum(mul(a, a)).backward();
    expect(Array.from(await a.grad!.toArray())).toEqual([2, 4, 6]);
    sum(add(a, a)).backward();
    expect(Array.from(await a.grad!.toArray())).toEqual([4, 6, 8]);
    a.dispose();
  });

  it('conv weight and bias gradients overwrite a reserved .grad, then accumulate in place into it', async () => {
    // The kernels write into the leaf's gradient storage directly (no temporary, no add pass): the first
    // gradient overwrites the reserved storage, the next adds to it, in the very tensor that became .grad,
    // under every kernel variant.
    const x1 = rand([2, 3, 5, 8], { seed: 3, low: -1, high: 1 });
    const x2 = rand([2, 6, 5, 8], { seed: 4, low: -1, high: 1 });
    const w = rand([5, 9, 3, 3], { seed: 5, low: -1, high: 1, requiresGrad: true });
    const b = rand([5], { seed: 6, low: -1, high: 1, requiresGrad: true });
    const wt = rand([5, 4, 3, 3], { seed: 7, low: -1, high: 1, requiresGrad: true });
    const bt = rand([4], { seed: 8, low: -1, high: 1, requiresGrad: true });
    const leaves = [w, b, wt, bt];
    const loss = () =>
      tidy(() => {
        const h = conv3x3([x1, x2], w, b, { relu: true });
        sum(convTranspose3x3s2(h, wt, bt, { relu: true })).backward();
      });
    for (const [conv, convT] of [
      ['direct', 'direct'],
      ['tiled', 'tiled'],
      ['subgroup', 'subgroup'],
    ] as const) {
      device().variantOverrides = { conv3x3: conv, convTranspose3x3s2: convT };
      for (const p of leaves) {
        p.grad?.dispose();
        p.grad = null;
      }
      loss();
      const first = await Promise.all(leaves.map((p) => p.grad!.toArray()));
      // Reserved gradient storage full of stale values: the first gradient must overwrite it, not add to it.
      const handles = leaves.map((p) => {
        p.grad?.dispose();
        p.grad = null;
        p.reservedGrad = keep(rand(p.shape, { seed: 9, low: 5, high: 6 }));
        return p.reservedGrad;
      });
      loss();
      for (const [i, p] of leaves.entries()) {
        expect(p.grad).toBe(handles[i]);
        expect(Array.from(await p.grad!.toArray()), `${conv}/${convT} ${p.describe()}`).toEqual(Array.from(first[i]!));
        p.reservedGrad = null;
      }
      loss();
      for (const [i, p] of leaves.entries()) {
        expect(p.grad).toBe(handles[i]);
        // The same computation twice: 2·g up to float32 rounding of the sums (a few ulps of max |g|).
        const twice = first[i]!.map((v) => 2 * v);
        const scale = Math.max(...twice.map(Math.abs));
        expectClose(
          await p.grad!.toArray(),
          twice,
          { atol: 1e-6 * scale, rtol: 0 },
          `${conv}/${convT} ${p.describe()}`,
        );
      }
    }
    device().variantOverrides = {};
    for (const t of [x1, x2, ...leaves]) t.dispose();
  });

  it('a reservedGrad of the wrong shape is an error naming both tensors', () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true, name: 'a' });
    const r = zeros([4]);
    a.reservedGrad = r;
    expect(() => tidy(() => sum(mul(a, a)).backward())).toThrow(/reservedGrad t\d+\[4\] of a\[3\] has another shape/);
    a.dispose();
    r.dispose();
  });

  it('conv3x3 skips the input gradient of a segment outside the graph, under every kernel variant', async () => {
    const x1 = rand([1, 3, 6, 5], { seed: 11, low: -1, high: 1 });
    const x2 = rand([1, 4, 6, 5], { seed: 12, low: -1, high: 1 });
    const w = rand([6, 7, 3, 3], { seed: 13, low: -1, high: 1, requiresGrad: true });
    for (const variant of ['direct', 'tiled', 'subgroup'] as const) {
      device().variantOverrides = { conv3x3: variant };
      const run = (needX2: boolean) => {
        x2.requiresGrad = needX2;
        x2.grad?.dispose();
        x2.grad = null;
        w.grad?.dispose();
        w.grad = null;
        const before = device().stats().dispatches;
        tidy(() => sum(conv3x3([x1, x2], w, null, { relu: false })).backward());
        return device().stats().dispatches - before;
      };
      // Reference: every segment's gradient computed (x1 in the graph too).
      x1.requiresGrad = true;
      run(true);
      const gx2Full = await x2.grad!.toArray();
      x1.grad?.dispose();
      x1.grad = null;
      x1.requiresGrad = false;
      const both = run(true);
      const gw = await w.grad!.toArray();
      const gx2 = await x2.grad!.toArray();
      // Skipping x1's segment must not shift x2's slice of the weights.
      expect(Array.from(gx2), variant).toEqual(Array.from(gx2Full));
      const none = run(false);
      // x1 never needs a gradient; x2's dgrad is the only work that goes when x2 leaves the graph.
      expect(none, variant).toBeLessThan(both);
      expect(x1.grad).toBeNull();
      expect(x2.grad).toBeNull();
      expect(Array.from(await w.grad!.toArray()), variant).toEqual(Array.from(gw));
      run(true);
      expect(Array.from(await x2.grad!.toArray()), variant).toEqual(Array.from(gx2));
    }
    device().variantOverrides = {};
    for (const t of [x1, x2, w]) t.dispose();
  });

  it('maxPool2x2: ties go to the first maximum and NaN wins, in both kernel layouts (W % 4 == 0 and not)', async () => {
    // Window 0: a tie (the gradient goes to the first of the equal values); window 1: a NaN (it propagates).
    for (const W of [4, 6]) {
      const row0 = [2, 2, 1, 0, 0, 0].slice(0, W);
      const row1 = [2, 1, Number.NaN, 5, 0, 0].slice(0, W);
      const x = tensor([...row0, ...row1], [1, 1, 2, W], { requiresGrad: true });
      const y = maxPool2x2(x);
      const out = await y.toArray();
      expect(out[0], `W=${W}`).toBe(2);
      expect(Number.isNaN(out[1]!), `W=${W}`).toBe(true);
      y.backward(
        tensor(
          Array.from({ length: W / 2 }, (_, i) => 10 + i),
          [1, 1, 1, W / 2],
        ),
      );
      const g = Array.from(await x.grad!.toArray());
      expect(g.slice(0, 4), `W=${W}`).toEqual([10, 0, 0, 0]);
      expect([g[2 + W], g[3 + W], g[2], g[3]], `W=${W}`).toEqual([11, 0, 0, 0]);
      x.dispose();
      y.dispose();
    }
  });

  it('disposing an intermediate keeps the graph below a loss intact', async () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    const h = a.mul(3);
    const l = sum(h.mul(h));
    h.dispose();
    l.backward();
    expect(Array.from(await a.grad!.toArray())).toEqual([18, 36, 54]);
    a.dispose();
    l.dispose();
  });
});
