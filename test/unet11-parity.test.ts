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
 *
 * Twice: with the conv kernels that round as a plain sum of products, at those tolerances; and with the
 * adapter's defaults, which on CPUs run Winograd F(4×4, 3×3) on planes ≥ 32² (its row's errorGrowth: up to 16×
 * a plain sum's rounding), logits, loss and gradient norms at tolerances scaled by it. Its gradient samples are
 * held to 0.1 of the largest: with F(4×4) in the forward alone, deep layers' samples move by up to 3.5 % of it
 * (NOTES, "F(4×4, 3×3)"), while the logits stay within 5e-3 of their tolerance and the same F(4×4) in the dgrad
 * alone leaves the samples at plain-sum accuracy (~1e-6) — so it is not the activations' rounding, which reaches
 * the gradients only through ReLU and max-pool decisions near a tie, a discrete change; a wrong kernel is off by
 * O(1). The Adam step is checked in the first run only: its first step is lr·sign(g) wherever |g| ≫ ε, so a
 * near-zero gradient that changes sign moves a parameter by 2·lr, which no tolerance short of that distinguishes
 * from a wrong step.
 */
import { describeVariants } from '@ternausnet/kernels-wgsl';
import { UNet11 } from '@ternausnet/model';
import { Adam, bceJaccardLoss, tensor, tidy, writeData } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { defaultBound, detUniform } from './fixtures/detweights.ts';
import { fixtureUrl, readSafetensors } from './fixtures/safetensors.ts';
import { expectClose, useTestDevice, variantErrorGrowth } from './support/gpu.ts';

describe('UNet11 parity with PyTorch (float64 golden fixture)', () => {
  const device = useTestDevice();

  /** The default rows that round more than a plain sum, as overrides to the plain subgroup kernel; their growth. */
  const roundingDefaults = () => {
    const rows = describeVariants(device())
      .filter((s) => s.isDefault)
      .map((s) => ({ ...s, growth: variantErrorGrowth(s.family, s.variant) }))
      .filter((s) => s.growth > 1);
    return {
      overrides: Object.fromEntries(rows.map((s) => [`${s.family}.${s.pass}`, 'subgroup'])),
      growth: Math.max(1, ...rows.map((s) => s.growth)),
    };
  };

  it('with plain-sum conv kernels: forward logits, loss, every parameter gradient and one Adam step match', async () => {
    device().variantOverrides = roundingDefaults().overrides;
    try {
      await parity({ growth: 1, samples: 1e-3, checkAdam: true });
    } finally {
      device().variantOverrides = {};
    }
  });

  it("with the adapter's default kernels: logits, loss and gradients within tolerances scaled by their rounding", async () => {
    const { growth } = roundingDefaults();
    await parity({ growth, samples: growth > 1 ? 0.1 : 1e-3, checkAdam: false });
  });

  /**
   * The model's results against the fixture: `growth` scales the tolerances of logits, loss and gradient norms,
   * `samples` is that of the gradient samples (a fraction of the largest).
   */
  async function parity({ growth, samples, checkAdam }: { growth: number; samples: number; checkAdam: boolean }) {
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
    expectClose(await logits.toArray(), fx.f32('logits'), { atol: growth * 1e-5, rtol: growth * 1e-4 }, 'logits');
    expect(Math.abs((await loss.item()) - fx.scalar('loss'))).toBeLessThan(growth * 5e-6);

    const gradCheck = async (name: string, grad: Float32Array) => {
      const idx = fx.i32(`sample_idx/${name}`);
      const want = fx.f32(`grad/${name}`);
      const scale = Math.max(...Array.from(want, Math.abs), 1e-30);
      expectClose(
        Array.from(idx, (i) => grad[i]!),
        want,
        { atol: samples * scale, rtol: 0 },
        `grad samples of ${name}`,
      );
      const norm = Math.sqrt(grad.reduce((s, v) => s + v * v, 0));
      const wantNorm = fx.scalar(`grad_norm/${name}`);
      expect(Math.abs(norm - wantNorm)).toBeLessThanOrEqual(growth * 1e-3 * wantNorm + 1e-30);
    };
    await gradCheck('input', await x.grad!.toArray());
    for (const [name, p] of params) await gradCheck(name, await p.grad!.toArray());

    if (checkAdam) {
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
      after.dispose();
    }
    for (const t of [logits, loss, x, y]) t.dispose();
    opt.dispose();
    model.dispose();
  }
});
