/**
 * Training as in the paper: Adam (lr 1e-3), loss L = BCE − log J, validation IoU at threshold 0.3 after every
 * epoch. A run lives in one directory: checkpoints after every epoch (model + optimizer state + run state,
 * each file written atomically, the state file last), CSV/JSON logs, and `resume` that continues the same run
 * with the same losses as an uninterrupted one (data order and crops are functions of (seed, epoch)).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Architecture,
  createModel,
  DEFAULT_ARCHITECTURE,
  type InitScheme,
  loadWeights,
  readSafetensors,
  saveWeights,
  type TernausNetModel,
  writeFileAtomic,
  writeJsonAtomic,
  writeSafetensors,
} from '@ternausnet/model';
import {
  Adam,
  bceJaccardLoss,
  type Device,
  type Module,
  noGrad,
  sigmoidThreshold,
  tensor,
  tidy,
} from '@ternausnet/tensor';
import { globalIoU, type IoUCounts, iouCounts, meanIoU } from './metrics.ts';
import { createProgress } from './progress.ts';

/** A batch of normalised images and 0/1 masks, NCHW. */
export interface Batch {
  readonly images: Float32Array;
  readonly masks: Float32Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
}

/** Where batches come from: deterministic for a given epoch. */
export interface TrainingData {
  /** The training batches of epoch `epoch` (1-based), the same sequence every time it is asked for. */
  trainBatches(epoch: number): AsyncIterable<Batch>;
  readonly trainBatchCount: number;
  /** The validation set, in fixed order. */
  validationBatches(): AsyncIterable<Batch>;
  readonly validationImages: number;
  /** Release worker threads and files (optional). */
  close?(): Promise<void>;
}

export interface TrainOptions {
  runDir: string;
  init: InitScheme;
  seed: number;
  epochs: number;
  lr?: number;
  /**
   * Linear learning-rate warm-up over the first `warmupSteps` Adam steps (lr·t/warmupSteps at step t; default 0:
   * the paper's constant lr): Adam's first updates are lr-sized for every weight, whatever the gradient's scale.
   */
  warmupSteps?: number;
  vgg11?: string;
  /** `imagenet` for UNet16: its VGG16 ImageNet weight file. */
  vgg16?: string;
  pretrained?: string;
  /** Which model to train (default UNet11, num_filters 32). A resumed run must use the same. */
  architecture?: Architecture;
  /** Probability threshold of the validation masks (the paper: 0.3). */
  threshold?: number;
  /** Continue the run in `runDir` from its last checkpoint. */
  resume?: boolean;
  /** Shown in progress bars and logs. */
  name?: string;
  progress?: boolean;
  device?: Device;
  /** Called after each epoch's validation. */
  onEpoch?: (record: EpochRecord) => void;
}

export interface EpochRecord {
  epoch: number;
  /** Adam steps taken by the end of this epoch. */
  step: number;
  trainLoss: number;
  valLoss: number;
  /** Mean of per-image IoU at the threshold. */
  valIoU: number;
  /** Intersection over union of the whole validation set. */
  valIoUGlobal: number;
  /** Fraction of validation pixels predicted positive at the threshold, and the true fraction. */
  valPredictedFraction: number;
  valTrueFraction: number;
  /**
   * Training batches without a single building pixel. Their −log J is −log(ε/(U+ε)) ≈ 34.5 + log U whatever the
   * prediction (ε = 1e-15, as the authors' LossBinary), so each lifts the epoch's mean loss (packages/train/NOTES.md).
   */
  emptyBatches: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainResult {
  history: EpochRecord[];
  final: EpochRecord;
  best: EpochRecord;
  /** Weights of the final and the best (by validation IoU) epoch. */
  finalWeights: string;
  bestWeights: string;
}

/** The loss became NaN or infinite: training stopped, the last good checkpoint is intact. */
export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

interface RunState {
  version: 1;
  name: string;
  config: Record<string, string | number | null>;
  epoch: number;
  adamStep: number;
  history: EpochRecord[];
  files: { model: string; optimizer: string };
  best: { epoch: number; valIoU: number; file: string } | null;
}

const STATE = 'state.json';

function runConfig(o: TrainOptions): Record<string, string | number | null> {
  return {
    init: o.init,
    seed: o.seed,
    lr: o.lr ?? 1e-3,
    warmupSteps: o.warmupSteps ?? 0,
    threshold: o.threshold ?? 0.3,
    vgg11: o.vgg11 ?? null,
    pretrained: o.pretrained ?? null,
  };
}

/** Adam's moments under the parameters' names (`NAME.exp_avg`, `NAME.exp_avg_sq`) and its step count. */
export async function saveOptimizer(opt: Adam, model: Module, path: string): Promise<void> {
  const names = [...model.namedParameters().keys()];
  const views = opt.state();
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    tensors.set(`${names[i]}.exp_avg`, { shape: v.exp_avg.shape, data: await v.exp_avg.toArray() });
    tensors.set(`${names[i]}.exp_avg_sq`, { shape: v.exp_avg_sq.shape, data: await v.exp_avg_sq.toArray() });
    v.exp_avg.dispose();
    v.exp_avg_sq.dispose();
  }
  await writeSafetensors(path, tensors, { optimizer: 'Adam', step: String(opt.stepCount) });
}

export async function loadOptimizer(opt: Adam, model: Module, path: string): Promise<void> {
  const file = await readSafetensors(path);
  const names = [...model.namedParameters().keys()];
  const moments = names.map((n) => {
    const m = file.tensors.get(`${n}.exp_avg`);
    const v = file.tensors.get(`${n}.exp_avg_sq`);
    if (!m || !v) throw new Error(`${path}: no optimizer state for parameter ${n}`);
    return { exp_avg: m.toFloat32(), exp_avg_sq: v.toFloat32() };
  });
  opt.loadState(Number(file.metadata.step ?? Number.NaN), moments);
}

function formatCsv(rows: readonly EpochRecord[]): string {
  const cols = [
    'epoch',
    'step',
    'trainLoss',
    'valLoss',
    'valIoU',
    'valIoUGlobal',
    'valPredictedFraction',
    'valTrueFraction',
    'emptyBatches',
    'seconds',
    'imagesPerSecond',
  ] as const;
  return `${cols.join(',')}\n${rows.map((r) => cols.map((c) => r[c]).join(',')).join('\n')}\n`;
}

/** Validation loss and IoU counts over the validation set. */
export async function evaluate(
  model: TernausNetModel,
  data: TrainingData,
  threshold: number,
): Promise<{ loss: number; counts: IoUCounts[]; pixels: number }> {
  const counts: IoUCounts[] = [];
  let lossSum = 0;
  let images = 0;
  let pixels = 0;
  for await (const b of data.validationBatches()) {
    const { loss, mask } = noGrad(() =>
      tidy(() => {
        const x = tensor(b.images, [b.n, 3, b.height, b.width]);
        const y = tensor(b.masks, [b.n, 1, b.height, b.width]);
        const logits = model.forward(x);
        return { loss: bceJaccardLoss(logits, y).detach(), mask: sigmoidThreshold(logits, threshold) };
      }),
    );
    const [l, m] = await Promise.all([loss.item(), mask.toArray()]);
    loss.dispose();
    mask.dispose();
    lossSum += l * b.n;
    images += b.n;
    pixels += b.n * b.height * b.width;
    counts.push(...iouCounts(m, b.masks, b.n, b.height * b.width));
  }
  return { loss: lossSum / Math.max(1, images), counts, pixels: Math.max(1, pixels) };
}

export async function train(data: TrainingData, options: TrainOptions): Promise<TrainResult> {
  const name = options.name ?? options.init;
  const threshold = options.threshold ?? 0.3;
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw new RangeError(`epochs must be a positive integer, got ${options.epochs}`);
  }
  mkdirSync(options.runDir, { recursive: true });
  const statePath = join(options.runDir, STATE);
  let state: RunState | null = null;
  if (existsSync(statePath)) {
    if (!options.resume) {
      throw new Error(
        `${options.runDir} already holds a run (${STATE}); pass --resume to continue it, or choose another output directory`,
      );
    }
    state = JSON.parse(readFileSync(statePath, 'utf8')) as RunState;
    const want = runConfig(options);
    const diffs = Object.keys(want).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(state!.config[k]));
    if (diffs.length) {
      throw new Error(
        `cannot resume ${options.runDir}: ${diffs.map((k) => `${k} was ${state!.config[k]}, now ${want[k]}`).join('; ')}`,
      );
    }
  }
  const model = await createModel({
    architecture: options.architecture ?? DEFAULT_ARCHITECTURE,
    scheme: state ? 'lecun' : options.init,
    seed: options.seed,
    ...(options.vgg11 ? { vgg11: options.vgg11 } : {}),
    ...(options.vgg16 ? { vgg16: options.vgg16 } : {}),
    ...(options.pretrained ? { checkpoint: options.pretrained } : {}),
    ...(options.device ? { device: options.device } : {}),
  });
  const lr = options.lr ?? 1e-3;
  const warmup = options.warmupSteps ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`warmupSteps must be an integer ≥ 0, got ${options.warmupSteps}`);
  }
  const opt = new Adam(model.parameters(), { lr });
  const history: EpochRecord[] = state?.history ?? [];
  let best = state?.best ?? null;
  if (state) {
    await loadWeights(model, join(options.runDir, state.files.model));
    await loadOptimizer(opt, model, join(options.runDir, state.files.optimizer));
    process.stderr.write(`[${name}] resuming ${options.runDir} after epoch ${state.epoch}\n`);
  }
  const firstEpoch = (state?.epoch ?? 0) + 1;
  const bestFile = 'model-best.safetensors';
  try {
    for (let epoch = firstEpoch; epoch <= options.epochs; epoch++) {
      const t0 = performance.now();
      const bar = createProgress({
        label: `[${name}] epoch ${epoch}/${options.epochs}`,
        total: data.trainBatchCount,
        fields: ['loss', 'img/s'],
        ...(options.progress === undefined ? {} : { enabled: options.progress }),
      });
      let lossSum = 0;
      let images = 0;
      let step = 0;
      let emptyBatches = 0;
      for await (const b of data.trainBatches(epoch)) {
        if (!b.masks.some((v) => v > 0.5)) emptyBatches++;
        const loss = tidy(() => {
          const x = tensor(b.images, [b.n, 3, b.height, b.width]);
          const y = tensor(b.masks, [b.n, 1, b.height, b.width]);
          opt.zeroGrad();
          // The schedule is a function of the Adam step, so a resumed run continues it exactly.
          opt.lr = warmup > 0 ? lr * Math.min(1, (opt.stepCount + 1) / warmup) : lr;
          const l = bceJaccardLoss(model.forward(x), y);
          l.backward();
          opt.step();
          return l.detach();
        });
        const value = await loss.item();
        loss.dispose();
        step++;
        if (!Number.isFinite(value)) {
          bar.stop();
          throw new NonFiniteLossError(
            `[${name}] the loss became ${value} at epoch ${epoch}, step ${step}; training stopped. The last good ` +
              `checkpoint (epoch ${epoch - 1}) is kept in ${options.runDir}. Try a lower learning rate (--lr).`,
          );
        }
        lossSum += value * b.n;
        images += b.n;
        const seconds = (performance.now() - t0) / 1000;
        bar.update(step, { loss: (lossSum / images).toFixed(4), 'img/s': (images / seconds).toFixed(2) });
      }
      bar.stop();
      const trainSeconds = (performance.now() - t0) / 1000;
      const val = await evaluate(model, data, threshold);
      const pixels = val.pixels;
      const record: EpochRecord = {
        epoch,
        step: opt.stepCount,
        trainLoss: lossSum / Math.max(1, images),
        valLoss: val.loss,
        valIoU: meanIoU(val.counts),
        valIoUGlobal: globalIoU(val.counts),
        valPredictedFraction: val.counts.reduce((t, c) => t + c.predicted, 0) / pixels,
        valTrueFraction: val.counts.reduce((t, c) => t + c.truth, 0) / pixels,
        emptyBatches,
        seconds: (performance.now() - t0) / 1000,
        imagesPerSecond: images / trainSeconds,
      };
      history.push(record);
      process.stderr.write(
        `[${name}] epoch ${epoch}: train loss ${record.trainLoss.toFixed(4)}${emptyBatches ? ` (${emptyBatches} batches without buildings)` : ''}, val loss ${record.valLoss.toFixed(4)}, ` +
          `val IoU ${record.valIoU.toFixed(4)} (global ${record.valIoUGlobal.toFixed(4)}), predicted positive ` +
          `${(100 * record.valPredictedFraction).toFixed(1)} % (truth ${(100 * record.valTrueFraction).toFixed(1)} %), ` +
          `${record.seconds.toFixed(1)} s\n`,
      );
      // Checkpoint: new files first, then the state that points at them, then the old files go.
      const modelFile = `model-epoch${String(epoch).padStart(4, '0')}.safetensors`;
      const optFile = `optimizer-epoch${String(epoch).padStart(4, '0')}.safetensors`;
      await saveWeights(model, join(options.runDir, modelFile), {
        metadata: { epoch: String(epoch), init: options.init },
      });
      await saveOptimizer(opt, model, join(options.runDir, optFile));
      if (!best || record.valIoU > best.valIoU) {
        await saveWeights(model, join(options.runDir, bestFile), { metadata: { epoch: String(epoch) } });
        best = { epoch, valIoU: record.valIoU, file: bestFile };
      }
      const previous = state?.files;
      state = {
        version: 1,
        name,
        config: runConfig(options),
        epoch,
        adamStep: opt.stepCount,
        history,
        files: { model: modelFile, optimizer: optFile },
        best,
      };
      writeJsonAtomic(statePath, state);
      writeFileAtomic(join(options.runDir, 'epochs.csv'), formatCsv(history));
      if (previous) {
        for (const f of [previous.model, previous.optimizer]) {
          if (f !== modelFile && f !== optFile) rmSync(join(options.runDir, f), { force: true });
        }
      }
      options.onEpoch?.(record);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  if (!state || history.length === 0) throw new Error('internal: no epoch was trained');
  const final = history[history.length - 1]!;
  const bestRecord = history.find((r) => r.epoch === best?.epoch) ?? final;
  return {
    history,
    final,
    best: bestRecord,
    finalWeights: join(options.runDir, state.files.model),
    bestWeights: join(options.runDir, bestFile),
  };
}
