/** `bench model`: UNet11 or UNet16 forward (inference) and one Adam training step (loss BCE − log J), wall clock. */
import { type Architecture, buildModel, DEFAULT_ARCHITECTURE, type TernausNetModel, UNet11 } from '@ternausnet/model';
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
import { summarize, type Timing, timeWall } from './timing.ts';

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

/**
 * Forward FLOPs of UNet16 at a square input (2·MACs of every convolution; a 4×4 stride-2 transposed convolution
 * costs 4 MACs per output pixel and channel pair; the bilinear upsampling's few FLOPs are left out).
 */
export function unet16ForwardFlops(size: number, batch: number, f: number, deconv: boolean): number {
  const s = size;
  const conv = (cin: number, cout: number, side: number, k = 9) => 2 * cin * cout * k * side * side;
  const encoder =
    conv(3, 64, s) +
    conv(64, 64, s) +
    conv(64, 128, s / 2) +
    conv(128, 128, s / 2) +
    conv(128, 256, s / 4) +
    2 * conv(256, 256, s / 4) +
    conv(256, 512, s / 8) +
    2 * conv(512, 512, s / 8) +
    3 * conv(512, 512, s / 16);
  // DecoderBlockV2(cin, mid, cout) producing `side`: bilinear: ConvRelu, ConvRelu at side; deconv: ConvRelu at
  // side/2, then the transposed convolution to side.
  const block = (cin: number, mid: number, cout: number, side: number) =>
    deconv ? conv(cin, mid, side / 2) + conv(mid, cout, side, 4) : conv(cin, mid, side) + conv(mid, cout, side);
  const decoder =
    block(512, 16 * f, 8 * f, s / 16) +
    block(512 + 8 * f, 16 * f, 8 * f, s / 8) +
    block(512 + 8 * f, 16 * f, 8 * f, s / 4) +
    block(256 + 8 * f, 8 * f, 2 * f, s / 2) +
    block(128 + 2 * f, 4 * f, f, s) +
    conv(64 + f, f, s) +
    conv(f, 1, s, 1);
  return batch * (encoder + decoder);
}

/** Forward FLOPs of either model. */
export function forwardFlops(arch: Architecture, size: number, batch: number): number {
  return arch.model === 'unet16'
    ? unet16ForwardFlops(size, batch, arch.numFilters, arch.deconv)
    : unet11ForwardFlops(size, batch);
}

/** One Adam training step (loss BCE − log J), waiting for the loss value. */
async function trainStepOnce(model: TernausNetModel, opt: Adam, x: Tensor, y: Tensor): Promise<void> {
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

/** The model's forward (no grad) and Adam train step on fixed data, one run per call: for `timeWall`, `alternate`. */
function modelWork(device: Device, size: number, batch: number, arch: Architecture) {
  const model = buildModel(arch, { seed: 0, device });
  const x = randn([batch, 3, size, size], { seed: 1, device });
  const y = rand([batch, 1, size, size], { seed: 2, device });
  const opt = new Adam(model.parameters());
  return {
    forward: async () => {
      const z = noGrad(() => tidy(() => model.forward(x)));
      await device.sync();
      z.dispose();
    },
    trainStep: () => trainStepOnce(model, opt, x, y),
    dispose: () => {
      opt.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

export async function benchModel(
  device: Device,
  size: number,
  batch: number,
  runs: number,
  warmup: number,
  arch: Architecture = DEFAULT_ARCHITECTURE,
): Promise<ModelBench> {
  const work = modelWork(device, size, batch, arch);
  const forward = await timeWall(work.forward, runs, warmup);
  const trainStep = await timeWall(work.trainStep, runs, warmup);
  work.dispose();
  const f = forwardFlops(arch, size, batch);
  return { forward, trainStep, forwardGflops: f / forward.median / 1e6, trainGflops: (3 * f) / trainStep.median / 1e6 };
}

/** Two sides timed in alternation: each side's timing and the median of the paired ratios. */
export interface AlternatedTiming {
  base: Timing;
  against: Timing;
  /** Median over runs of (against ÷ base) of the two runs of one pair: below 1, "against" is faster. */
  ratio: number;
}

/**
 * `base` and `against` (each returning its time in ms) alternated run by run in ABBA order, after `warmup` runs of
 * each: on a host whose speed wanders by ±20 % within minutes (bench/NOTES.md), only such paired runs resolve a
 * few per cent, and the ABBA order lets a drift weigh on both sides alike.
 */
export async function alternate(
  base: () => Promise<number>,
  against: () => Promise<number>,
  runs: number,
  warmup: number,
): Promise<AlternatedTiming> {
  for (let i = 0; i < warmup; i++) {
    await base();
    await against();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      a.push(await base());
      b.push(await against());
    } else {
      b.push(await against());
      a.push(await base());
    }
  }
  const ratios = b.map((v, i) => v / a[i]!);
  return {
    base: summarize(a, 'wall-clock'),
    against: summarize(b, 'wall-clock'),
    ratio: summarize(ratios, 'wall-clock').median,
  };
}

/** Wall-clock ms of one call of `work`. */
async function msOf(work: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

/**
 * The model bench under the device's variants ("base") and under `overrides` ("against"), alternated run by run
 * in one process (`alternate`).
 */
export async function benchModelAgainst(
  device: Device,
  overrides: Record<string, string>,
  size: number,
  batch: number,
  runs: number,
  warmup: number,
  arch: Architecture = DEFAULT_ARCHITECTURE,
): Promise<{ forward: AlternatedTiming; trainStep: AlternatedTiming }> {
  const base = { ...device.variantOverrides };
  const against = { ...base, ...overrides };
  const work = modelWork(device, size, batch, arch);
  const under = (variants: Record<string, string>, run: () => Promise<void>) => () => {
    device.variantOverrides = variants;
    return msOf(run);
  };
  const alternated = (run: () => Promise<void>) => alternate(under(base, run), under(against, run), runs, warmup);
  try {
    return { forward: await alternated(work.forward), trainStep: await alternated(work.trainStep) };
  } finally {
    device.variantOverrides = base;
    work.dispose();
  }
}

/** Another library's UNet11 (forward without gradients, one Adam step), one timed run per call. */
export interface ModelPeer {
  /** E.g. "PyTorch 1.13.0a0 CPU (2 threads)". */
  readonly library: string;
  /** One forward or one training step; its time in ms (the peer's own clock: work to results ready). */
  run(work: 'forward' | 'step'): Promise<number>;
  close(): void;
}

/**
 * Ours ("base") against a peer's UNet11 ("against"), alternated run by run (`alternate`): the ratio is the peer's
 * time over ours per pair (above 1, we are faster).
 */
export async function benchModelAgainstPeer(
  device: Device,
  peer: ModelPeer,
  size: number,
  batch: number,
  runs: number,
  warmup: number,
): Promise<{ forward: AlternatedTiming; trainStep: AlternatedTiming }> {
  const work = modelWork(device, size, batch, DEFAULT_ARCHITECTURE);
  try {
    const forward = await alternate(
      () => msOf(work.forward),
      () => peer.run('forward'),
      runs,
      warmup,
    );
    const trainStep = await alternate(
      () => msOf(work.trainStep),
      () => peer.run('step'),
      runs,
      warmup,
    );
    return { forward, trainStep };
  } finally {
    work.dispose();
  }
}
