/**
 * `ternausnet pretrain-encoder`: the stand-in for torchvision's ImageNet VGG11 file, made here because no real
 * one can be downloaded on these machines. VGG11 (its eight 3×3 convolutions and a 1×1 classifier head) is
 * trained from torchvision's own initialisation as a classifier of the embedded shape/texture images
 * (data/shapes.ts — another domain than aerial buildings or cars), its held-out top-1 accuracy measured, and
 * its weights written with torchvision's names (`features.N.weight/bias`, `classifier.*`), so that `--vgg11 FILE`
 * loads it through the same code as a real file. The file's metadata says what it is.
 *
 * Training images are drawn fresh for every step (seeds `seed·10^9 + step·batch + i`), held-out images from a
 * disjoint seed range, so the data never repeats and the run is a pure function of its options. A run killed
 * part-way resumes from its last checkpoint (`FILE.partial/`), also with another `--steps` (training is the same
 * step for step whatever the total: no schedule depends on it).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWeights, readSafetensors, Vgg11Classifier, writeJsonAtomic, writeSafetensors } from '@ternausnet/model';
import { Adam, bceJaccardLoss, type Device, type Module, noGrad, tensor, tidy } from '@ternausnet/tensor';
import { normalizeImage } from './data/sampling.ts';
import { generateShapeImage, SHAPE_CLASSES } from './data/shapes.ts';
import { createProgress } from './progress.ts';
import { loadOptimizer, saveOptimizer } from './trainer.ts';

export interface PretrainEncoderOptions {
  out: string;
  /** Adam steps (default 500). */
  steps?: number;
  batchSize?: number;
  /** Side of the square training images, a multiple of 32 (default 64: a 2×2 map after the five pools). */
  imageSize?: number;
  lr?: number;
  seed?: number;
  /** Held-out images for the top-1 accuracy (default 500). */
  valImages?: number;
  /** Steps between checkpoints of a run that can be resumed (default 100). */
  checkpointEvery?: number;
  /** Store the weights as F16 (half the bytes: the committed file) instead of F32. */
  half?: boolean;
  progress?: boolean;
  device?: Device;
}

export interface PretrainEncoderResult {
  path: string;
  top1: number;
  /** Training loss (mean one-vs-rest BCE) averaged over the last 50 steps. */
  finalLoss: number;
  seconds: number;
}

/** What the file is, in words: the label of the `imagenet` scheme wherever the file is used. */
export const STAND_IN_DESCRIPTION = 'VGG11 encoder pre-trained here on synthetic shapes and textures, not ImageNet';

const SEED_STRIDE = 1_000_000_000;
const VAL_OFFSET = 900_000_000;

/** A batch of `n` shape images from consecutive seeds: normalised NCHW and the one-hot targets [n, C, m, m]. */
function shapeBatch(firstSeed: number, n: number, size: number) {
  const plane = size * size;
  const images = new Float32Array(n * 3 * plane);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = generateShapeImage(firstSeed + i, size);
    images.set(normalizeImage(s.image, size, size), i * 3 * plane);
    labels.push(s.label);
  }
  const m = size / 32;
  const classes = SHAPE_CLASSES.length;
  const targets = new Float32Array(n * classes * m * m);
  labels.forEach((label, i) => {
    targets.fill(1, (i * classes + label) * m * m, (i * classes + label + 1) * m * m);
  });
  return { images, labels, targets, m };
}

/** Top-1 accuracy on the held-out images: the image's logits are the mean over the last map's positions. */
export async function shapeTop1(
  model: Vgg11Classifier,
  o: { seed: number; images: number; imageSize: number },
): Promise<number> {
  let correct = 0;
  const classes = SHAPE_CLASSES.length;
  for (let start = 0; start < o.images; start += 50) {
    const n = Math.min(50, o.images - start);
    const b = shapeBatch(o.seed * SEED_STRIDE + VAL_OFFSET + start, n, o.imageSize);
    const logits = noGrad(() => tidy(() => model.forward(tensor(b.images, [n, 3, o.imageSize, o.imageSize])).detach()));
    const z = await logits.toArray();
    logits.dispose();
    const mm = b.m * b.m;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) {
        let score = 0;
        for (let p = 0; p < mm; p++) score += z[(i * classes + c) * mm + p]!;
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      if (best === b.labels[i]) correct++;
    }
  }
  return correct / o.images;
}

/** The module's parameters read back, under their names. */
async function parameterData(model: Module): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of model.namedParameters()) out.set(name, { shape: t.shape, data: await t.toArray() });
  return out;
}

/** Mean training loss over the last 50 steps (what the bar and the result report). */
function recentLoss(losses: readonly number[]): number {
  const recent = losses.slice(-50);
  return recent.reduce((s, x) => s + x, 0) / Math.max(1, recent.length);
}

interface PartialState {
  config: Record<string, number>;
  step: number;
  losses: number[];
}

export async function pretrainEncoder(o: PretrainEncoderOptions): Promise<PretrainEncoderResult> {
  const steps = o.steps ?? 500;
  const batch = o.batchSize ?? 32;
  const size = o.imageSize ?? 64;
  const seed = o.seed ?? 0;
  const every = o.checkpointEvery ?? 100;
  if (size % 32 !== 0 || size < 32) throw new RangeError(`imageSize must be a multiple of 32, got ${size}`);
  for (const [k, v] of Object.entries({ steps, batch, every })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`pretrain-encoder: ${k} must be an integer ≥ 1, got ${v}`);
  }
  const config = { steps, batch, size, seed, lr: o.lr ?? 1e-4 };
  const partial = `${o.out}.partial`;
  const statePath = join(partial, 'state.json');
  const t0 = performance.now();
  const model = new Vgg11Classifier({
    classes: SHAPE_CLASSES.length,
    seed,
    ...(o.device ? { device: o.device } : {}),
  });
  const opt = new Adam(model.parameters(), { lr: config.lr });
  let state: PartialState = { config, step: 0, losses: [] };
  try {
    if (existsSync(statePath)) {
      const saved = JSON.parse(readFileSync(statePath, 'utf8')) as PartialState;
      // The step count may differ (a run extended or cut short): the first steps are the same either way.
      const { steps: _a, ...was } = saved.config;
      const { steps: _b, ...now } = config;
      if (JSON.stringify(was) === JSON.stringify(now) && saved.step <= steps) {
        await loadWeights(model, join(partial, 'model.safetensors'));
        await loadOptimizer(opt, model, join(partial, 'optimizer.safetensors'));
        state = saved;
        process.stderr.write(`[pretrain-encoder] resuming ${partial} after step ${state.step}\n`);
      } else {
        process.stderr.write(
          `[pretrain-encoder] ${partial} holds another configuration (or more steps): starting afresh\n`,
        );
      }
    }
    const bar = createProgress({
      label: '[pretrain-encoder]',
      total: steps,
      fields: ['loss'],
      ...(o.progress === undefined ? {} : { enabled: o.progress }),
    });
    while (state.step < steps) {
      const b = shapeBatch(seed * SEED_STRIDE + state.step * batch, batch, size);
      const loss = tidy(() => {
        opt.zeroGrad();
        const logits = model.forward(tensor(b.images, [batch, 3, size, size]));
        // One-vs-rest logistic loss at every position (BCE with one-hot targets; no Jaccard term).
        const l = bceJaccardLoss(logits, tensor(b.targets, logits.shape), { jaccardWeight: 0 });
        l.backward();
        opt.step();
        return l.detach();
      });
      const value = await loss.item();
      loss.dispose();
      if (!Number.isFinite(value)) {
        throw new Error(`[pretrain-encoder] the loss became ${value} at step ${state.step + 1}; lower --lr`);
      }
      state.losses.push(value);
      state.step++;
      bar.update(state.step, { loss: recentLoss(state.losses).toFixed(4) });
      if (state.step % every === 0 && state.step < steps) {
        mkdirSync(partial, { recursive: true });
        await writeSafetensors(join(partial, 'model.safetensors'), await parameterData(model));
        await saveOptimizer(opt, model, join(partial, 'optimizer.safetensors'));
        writeJsonAtomic(statePath, state);
      }
    }
    bar.stop();
    const top1 = await shapeTop1(model, { seed, images: o.valImages ?? 500, imageSize: size });
    const finalLoss = recentLoss(state.losses);
    const tensors = new Map<string, { shape: readonly number[]; data: Float32Array; dtype: 'F32' | 'F16' }>();
    for (const [name, t] of await parameterData(model)) {
      // torchvision's head is a Linear: [classes, 512], not a 1×1 convolution's [classes, 512, 1, 1].
      const shape = name === 'classifier.weight' ? t.shape.slice(0, 2) : t.shape;
      tensors.set(name, { shape, data: t.data, dtype: o.half ? 'F16' : 'F32' });
    }
    await writeSafetensors(o.out, tensors, {
      description: STAND_IN_DESCRIPTION,
      classes: SHAPE_CLASSES.join(','),
      top1: top1.toFixed(4),
      steps: String(steps),
      batch_size: String(batch),
      image_size: String(size),
      lr: String(config.lr),
      seed: String(seed),
      command: `ternausnet pretrain-encoder --steps ${steps} --batch-size ${batch} --image-size ${size} --lr ${config.lr} --seed ${seed}${o.half ? ' --half' : ''}`,
    });
    rmSync(partial, { recursive: true, force: true });
    return { path: o.out, top1, finalLoss, seconds: (performance.now() - t0) / 1000 };
  } finally {
    opt.dispose();
    model.dispose();
  }
}

/** The stand-in file shipped with the package (made by `ternausnet pretrain-encoder` with its defaults and --half). */
export const STAND_IN_VGG11 = fileURLToPath(new URL('../assets/vgg11-shapes.safetensors', import.meta.url));

/** How a VGG11 file describes itself: the stand-in's metadata, or "VGG11 ImageNet weights (PATH)". */
export async function describeVgg11(path: string): Promise<{ title: string; note: string; standIn: boolean }> {
  const { metadata } = await readSafetensors(path);
  if (metadata.description === STAND_IN_DESCRIPTION) {
    const classes = (metadata.classes ?? '').split(',').filter(Boolean).length;
    return {
      title: 'VGG11 encoder pre-trained here (stand-in, not ImageNet)',
      note:
        `${STAND_IN_DESCRIPTION}: ${classes} classes, held-out top-1 ${(100 * Number(metadata.top1)).toFixed(1)} %, ` +
        `${metadata.steps} steps of ${metadata.batch_size} (${relative(process.cwd(), path) || path})`,
      standIn: true,
    };
  }
  return { title: 'VGG11 ImageNet encoder', note: `VGG11 ImageNet weights from ${path}`, standIn: false };
}
