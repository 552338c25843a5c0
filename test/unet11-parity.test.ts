/**
 * Whole-model parity with PyTorch: UNet11 with deterministic weights (the same generator on both sides), a
 * [2, 3, 64, 64] batch, the loss L = BCE − log J, its gradients and one Adam step, against float64 PyTorch
 * results rounded to float32 (test/fixtures/unet11_parity.safetensors, made by scripts/fixtures/make_fixtures.py).
 *
 * Tolerances (float32 against float64): a logit accumulates ~10^5 products through 19 layers, so |Δ| ≤ 1e-5 +
 * 1e-4·|z| (PyTorch's own float32 run is within 1.5e-7); gradient norms within 1e-3 relative (PyTorch float32:
 * 1.5e-4; a ReLU whose input rounds across 0 can flip); gradient samples within 1e-3 of the tensor's largest
 * sampled magnitude; parameters after Adam within 2e-6 (a step moves them by ≤ 1e-3, and near-zero gradients make
 * m/√v sensitive to the gradient's last bits).
 */
import { UNet11 } from '@ternausnet/model';
import { Adam, bceJaccardLoss, tensor, tidy, writeData } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { defaultBound, detUniform } from './fixtures/detweights.ts';
import { fixtureUrl, readSafetensors } from './fixtures/safetensors.ts';
import { expectClose, useTestDevice } from './support/gpu.ts';

describe('UNet11 parity with PyTorch (float64 golden fixture)', () => {
  useTestDevice();

  it('forward logits, loss, every parameter gradient and one Adam step match', async () => {
    const fx = readSafetensors(fixtureUrl('unet11_parity.safetensors'));
    const model = new UNet11();
    const params = model.namedParameters();
    expect([...params.keys()]).toEqual(JSON.parse(fx.metadata.parameters!));
    // Weights and biases alike use the layer's weight fan_in.
    for (const [name, p] of params) {
      const weight = params.get(name.replace(/bias$/, 'weight'))!;
      writeData(p, detUniform(name, p.size, defaultBound(weight.shape)));
    }

    const xData = detUniform('input', 2 * 3 * 64 * 64, 2);
    expect(xData).toEqual(fx.f32('input'));
    const yData = Float32Array.from(detUniform('target', 2 * 64 * 64, 1), (v) => (v > 0.3 ? 1 : 0));
    expect(yData).toEqual(fx.f32('target'));
    const x = tensor(xData, [2, 3, 64, 64], { requiresGrad: true });
    const y = tensor(yData, [2, 1, 64, 64]);
    const opt = new Adam(model.parameters(), { lr: 1e-3 });

    const { logits, loss } = tidy(() => {
      opt.zeroGrad();
      const z = model.forward(x);
      const l = bceJaccardLoss(z, y);
      l.backward();
      return { logits: z.detach(), loss: l.detach() };
    });
    expectClose(await logits.toArray(), fx.f32('logits'), { atol: 1e-5, rtol: 1e-4 }, 'logits');
    expect(await loss.item()).toBeCloseTo(fx.scalar('loss'), 5);

    const gradCheck = async (name: string, grad: Float32Array) => {
      const idx = fx.i32(`sample_idx/${name}`);
      const want = fx.f32(`grad/${name}`);
      const scale = Math.max(...Array.from(want, Math.abs), 1e-30);
      expectClose(
        Array.from(idx, (i) => grad[i]!),
        want,
        { atol: 1e-3 * scale, rtol: 0 },
        `grad samples of ${name}`,
      );
      const norm = Math.sqrt(grad.reduce((s, v) => s + v * v, 0));
      const wantNorm = fx.scalar(`grad_norm/${name}`);
      expect(Math.abs(norm - wantNorm)).toBeLessThanOrEqual(1e-3 * wantNorm + 1e-30);
    };
    await gradCheck('input', await x.grad!.toArray());
    for (const [name, p] of params) await gradCheck(name, await p.grad!.toArray());

    opt.step();
    for (const [name, p] of params) {
      const v = await p.toArray();
      const idx = fx.i32(`sample_idx/${name}`);
      expectClose(
        Array.from(idx, (i) => v[i]!),
        fx.f32(`adam1/${name}`),
        { atol: 2e-6, rtol: 0 },
        `${name} after one Adam step`,
      );
    }
    const after = tidy(() => bceJaccardLoss(model.forward(x), y).detach());
    expect(await after.item()).toBeCloseTo(fx.scalar('adam1/loss'), 5);

    for (const t of [logits, loss, after, x, y]) t.dispose();
    opt.dispose();
    model.dispose();
  });
});
