/** `bench model`: UNet11 forward (inference) and one Adam training step (loss BCE − log J), wall clock. */
import { UNet11 } from '@ternausnet/model';
import {
  Adam,
  bceJaccardLoss,
  type Device,
  type DispatchTime,
  noGrad,
  rand,
  randn,
  type Tensor,
  tidy,
} from '@ternausnet/tensor';
import { type Timing, timeWall } from './timing.ts';

export interface ModelBench {
  forward: Timing;
  trainStep: Timing;
  forwardGflops: number;
  trainGflops: number;
}

/** Forward FLOPs of UNet11 at a square input (2·MACs of every convolution). */
export function unet11ForwardFlops(size: number, batch: number): number {
  const s = size;
  const conv = (cin: number, cout: number, side: number, k = 9) => 2 * cin * cout * k * side * side;
  return (
    batch *
    (conv(3, 64, s) +
      conv(64, 128, s / 2) +
      conv(128, 256, s / 4) +
      conv(256, 256, s / 4) +
      conv(256, 512, s / 8) +
      conv(512, 512, s / 8) +
      2 * conv(512, 512, s / 16) +
      conv(512, 512, s / 32) +
      conv(512, 256, s / 32) +
      conv(768, 512, s / 16) +
      conv(512, 256, s / 16) +
      conv(768, 512, s / 8) +
      conv(512, 128, s / 8) +
      conv(384, 256, s / 4) +
      conv(256, 64, s / 4) +
      conv(192, 128, s / 2) +
      conv(128, 32, s / 2) +
      conv(96, 32, s) +
      conv(32, 1, s, 1))
  );
}

/** One Adam training step (loss BCE − log J), waiting for the loss value. */
async function trainStepOnce(model: UNet11, opt: Adam, x: Tensor, y: Tensor): Promise<void> {
  const loss = tidy(() => {
    opt.zeroGrad();
    const l = bceJaccardLoss(model.forward(x), y);
    l.backward();
    opt.step();
    return l.detach();
  });
  await loss.item();
  loss.dispose();
}

/** A kernel family's share of a profiled training step. */
export interface ProfileRow {
  /** The dispatch label with shapes and split counts taken out: `conv3x3Wgrad -> 512`, `adam`, ... */
  kernel: string;
  dispatches: number;
  ms: number;
}

/** What the kernel label names, without shapes and split counts: the key the profile groups by. */
export function kernelFamily(label: string): string {
  return label
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\([^)]*\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * GPU time of every dispatch of one UNet11 training step (after `warmup` steps), grouped by kernel family,
 * largest first, and the slowest single dispatches.
 */
export async function profileTrainStep(
  device: Device,
  size: number,
  batch: number,
  warmup: number,
): Promise<{ rows: ProfileRow[]; dispatches: DispatchTime[]; totalMs: number; wallMs: number }> {
  const model = new UNet11({ seed: 0, device });
  const x = randn([batch, 3, size, size], { seed: 1, device });
  const y = rand([batch, 1, size, size], { seed: 2, device });
  const opt = new Adam(model.parameters());
  try {
    for (let i = 0; i < Math.max(1, warmup); i++) await trainStepOnce(model, opt, x, y);
    const t0 = performance.now();
    await trainStepOnce(model, opt, x, y);
    const wallMs = performance.now() - t0;
    const dispatches = await device.profile(() => trainStepOnce(model, opt, x, y));
    const byFamily = new Map<string, ProfileRow>();
    for (const d of dispatches) {
      const kernel = kernelFamily(d.label);
      const row = byFamily.get(kernel) ?? { kernel, dispatches: 0, ms: 0 };
      row.dispatches++;
      row.ms += d.ms;
      byFamily.set(kernel, row);
    }
    const rows = [...byFamily.values()].sort((a, b) => b.ms - a.ms);
    return { rows, dispatches, totalMs: dispatches.reduce((s, d) => s + d.ms, 0), wallMs };
  } finally {
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
}

export async function benchModel(
  device: Device,
  size: number,
  batch: number,
  runs: number,
  warmup: number,
): Promise<ModelBench> {
  const model = new UNet11({ seed: 0, device });
  const x = randn([batch, 3, size, size], { seed: 1, device });
  const y = rand([batch, 1, size, size], { seed: 2, device });
  const forward = await timeWall(
    async () => {
      const z = noGrad(() => tidy(() => model.forward(x)));
      await device.sync();
      z.dispose();
    },
    runs,
    warmup,
  );
  const opt = new Adam(model.parameters());
  const trainStep = await timeWall(() => trainStepOnce(model, opt, x, y), runs, warmup);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  const f = unet11ForwardFlops(size, batch);
  return { forward, trainStep, forwardGflops: f / forward.median / 1e6, trainGflops: (3 * f) / trainStep.median / 1e6 };
}
