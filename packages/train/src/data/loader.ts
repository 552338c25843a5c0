/**
 * Batches for training and validation, decoded off the main thread with K batches prefetched, so the GPU waits
 * for the CPU as little as possible.
 *
 * The main thread only plans (which image, where to crop, which flips: a function of seed and epoch, see
 * sampling.ts) and hands whole batches to a pool of worker threads running crop-worker.mjs, which decode with
 * sharp, binarise, flip and normalise, and transfer the finished Float32Arrays back. Batches are yielded in plan
 * order whatever the order the workers finish in, so the data of an epoch is deterministic.
 *
 * The worker is plain JavaScript (sharp and typed arrays only) rather than TypeScript: it then starts the same
 * under tsx, vitest and a Node bin that registers tsx, without relying on loader hooks reaching worker threads.
 * In-memory sources (the synthetic scenes) are cropped on the main thread: a copy, cheaper than a transfer.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
// sharp's native libraries must be opened by the main thread before any worker opens them, or a worker that ends
// unloads them under the others (sharp's documented worker_threads caveat).
import 'sharp';
import type { Batch, TrainingData } from '../trainer.ts';
import {
  type CropPlan,
  checkCropFits,
  checkCropSize,
  DatasetError,
  DEFAULT_TRAIN_CROP,
  DEFAULT_VAL_CROP,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type ImageMaskPair,
  type ImageSize,
  type RgbMask,
  trainingPlan,
  validationPlan,
  writeSample,
} from './sampling.ts';

/** Images read from files: decoded in worker threads. Make one with `openFileSource` (datasets.ts). */
export interface FileSource {
  readonly kind: 'files';
  readonly pairs: readonly ImageMaskPair[];
  /** Size of each pair's image (= its mask's), read from the file headers. */
  readonly sizes: readonly ImageSize[];
}

/** Images held in (or generated into) memory: cropped on the main thread. */
export interface MemorySource {
  readonly kind: 'memory';
  /** For messages. */
  readonly names: readonly string[];
  readonly sizes: readonly ImageSize[];
  /** The whole image `index`, RGB u8 HWC with its 0/1 mask (may be generated on demand). */
  image(index: number): RgbMask;
}

/** Where a loader takes its images from. */
export type SampleSource = FileSource | MemorySource;

/** Names of a source's images for messages: file paths, or the memory source's names. */
export function sourceNames(source: SampleSource): readonly string[] {
  return source.kind === 'files' ? source.pairs.map((p) => p.image) : source.names;
}

/** Options of {@link DataLoader}. */
export interface LoaderOptions {
  /** Images per batch; the last batch of an epoch may be smaller. */
  batchSize: number;
  /** Side of the random training crops, a multiple of 32 (default 768, the paper's). */
  cropSize?: number;
  /** Side of the validation centre crops, a multiple of 32 (default 1440, the paper's). */
  valCropSize?: number;
  /** Seed of the training crops, flips and order (default 0); each epoch derives its own stream from it. */
  seed?: number;
  /** Random horizontal and vertical flips of training crops (default true). */
  flips?: boolean;
  /**
   * Random crops taken from each training image per epoch (default 1): big images (Inria's 5000² tiles, large
   * synthetic scenes) give many different crops, so an epoch can be sized in steps rather than images.
   */
  cropsPerImage?: number;
  /**
   * Redraw training crops that hold no positive (building) pixel, up to 10 times (default false). For small
   * crops only: at the paper's 768² Inria crops virtually every crop holds buildings, at 64² a third hold none,
   * and a batch without any makes −log J ≈ 40 (packages/train/NOTES.md). In-memory sources only (the masks of
   * files are decoded in the workers, after planning).
   */
  positiveCrops?: boolean;
  /** Batches decoded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /**
   * Worker threads decoding file sources (default: available cores − 1, at most 4, at least 1). 0 decodes in
   * process; sharp then still decodes on libuv threads, but flips and normalisation run on the main thread.
   */
  workers?: number;
}

/** A batch for crop-worker.mjs: the files and crops of its samples, and the normalisation. */
export interface BatchJob {
  size: number;
  mean: readonly number[];
  std: readonly number[];
  samples: { image: string; mask: string; left: number; top: number; flipH: boolean; flipV: boolean }[];
}

/** What crop-worker.mjs makes of a {@link BatchJob}: N·3·S·S normalised images and N·S·S 0/1 masks. */
export interface BatchBuffers {
  images: Float32Array;
  masks: Float32Array;
}

/** The functions crop-worker.mjs exports (it is JavaScript: this is its type). */
export interface CropWorkerModule {
  decodeCrop(
    image: string,
    mask: string,
    region: { left: number; top: number; width: number; height: number },
  ): Promise<{ rgb: Uint8Array; mask: Uint8Array }>;
  loadBatch(job: BatchJob): Promise<BatchBuffers>;
}

const WORKER_URL = new URL('./crop-worker.mjs', import.meta.url);
let workerModule: Promise<CropWorkerModule> | undefined;

/** crop-worker.mjs loaded in process, for the decoding paths that do not use worker threads. */
export function cropWorkerModule(): Promise<CropWorkerModule> {
  workerModule ??= import(WORKER_URL.href) as Promise<CropWorkerModule>;
  return workerModule;
}

interface Pending {
  resolve(b: BatchBuffers): void;
  reject(e: Error): void;
  /** The images of the batch, for the message when the worker dies under it. */
  files: string;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  alive: boolean;
}

type WorkerReply = { id: number; images: Float32Array; masks: Float32Array } | { id: number; error: string };

/**
 * Worker threads running crop-worker.mjs. A worker is unref'd while it has nothing to do, so a forgotten
 * `close()` never keeps the process alive, and ref'd while it works, so an awaited batch always arrives.
 */
class CropPool {
  private readonly workers: PoolWorker[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  run(job: BatchJob): Promise<BatchBuffers> {
    if (this.closed) return Promise.reject(new DatasetError('the data loader is closed'));
    const w = this.pick();
    const id = this.nextId++;
    const p = new Promise<BatchBuffers>((resolve, reject) => {
      w.pending.set(id, { resolve, reject, files: job.samples.map((x) => x.image).join(', ') });
      w.worker.ref();
      w.worker.postMessage({ id, job });
    });
    const settled = p.then(
      () => {},
      () => {},
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return p;
  }

  /** The live worker with the fewest pending batches, starting one while the pool is below its size. */
  private pick(): PoolWorker {
    for (let i = this.workers.length - 1; i >= 0; i--) if (!this.workers[i]!.alive) this.workers.splice(i, 1);
    const idle = this.workers.find((w) => w.pending.size === 0);
    if (idle) return idle;
    if (this.workers.length < this.size) return this.spawn();
    return this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private spawn(): PoolWorker {
    // No execArgv: the worker is plain JavaScript and needs none of the parent's loaders (tsx, vitest).
    const worker = new Worker(WORKER_URL, { workerData: { ternausnetCropWorker: true }, execArgv: [] });
    const w: PoolWorker = { worker, pending: new Map(), alive: true };
    const failAll = (why: string) => {
      w.alive = false;
      for (const p of w.pending.values()) p.reject(new DatasetError(`${why} while decoding ${p.files}`));
      w.pending.clear();
    };
    worker.on('message', (msg: WorkerReply) => {
      const p = w.pending.get(msg.id);
      if (!p) return;
      w.pending.delete(msg.id);
      if (w.pending.size === 0) worker.unref();
      if ('error' in msg) p.reject(new DatasetError(msg.error));
      else p.resolve({ images: msg.images, masks: msg.masks });
    });
    worker.on('error', (e) => failAll(`data loader worker failed (${e.message})`));
    worker.on('exit', (code) => failAll(`data loader worker exited (code ${code})`));
    worker.unref();
    this.workers.push(w);
    return w;
  }

  /** Lets the batches in flight finish, then ends every worker and waits until they are gone. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.inFlight);
    await Promise.all(
      this.workers.splice(0).map((w) => {
        if (!w.alive) return undefined;
        const exited = new Promise<void>((r) => w.worker.once('exit', () => r()));
        // Ref'd until it has exited, so that a caller awaiting close() is not cut short.
        w.worker.ref();
        w.worker.postMessage({ type: 'close' });
        return exited;
      }),
    );
  }
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * Training and validation batches from a source of images: `epoch(e)` gives the random crops of epoch `e`,
 * `validation()` the centre crops, both as NCHW float batches normalised with the ImageNet statistics. It is a
 * `TrainingData`, so `train()` takes it as is. Call `close()` when done (an idle loader does not keep the process
 * alive either way).
 *
 * @example
 * const { train, val } = inriaSplit(inriaPairs('/data/inria'));
 * const loader = new DataLoader(await openFileSource(train), await openFileSource(val), { batchSize: 4 });
 * for await (const batch of loader.epoch(1)) step(batch);
 * await loader.close();
 */
export class DataLoader implements TrainingData {
  /** Batches per training epoch. */
  readonly trainBatchCount: number;
  /** Images in the validation set. */
  readonly validationImages: number;
  readonly batchSize: number;
  readonly cropSize: number;
  readonly valCropSize: number;
  readonly seed: number;
  private readonly flips: boolean;
  readonly cropsPerImage: number;
  private readonly accept: ((index: number, left: number, top: number) => boolean) | undefined;
  private readonly prefetch: number;
  private readonly workers: number;
  private pool: CropPool | null = null;
  private closed = false;

  /**
   * Checks the options and that every crop fits its image (throwing a {@link DatasetError} naming the image);
   * starts no thread until the first batch is asked for.
   */
  constructor(
    readonly train: SampleSource,
    readonly val: SampleSource | null,
    options: LoaderOptions,
  ) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new DatasetError(`batch size must be a positive integer, got ${batchSize}`);
    }
    this.batchSize = batchSize;
    this.cropSize = options.cropSize ?? DEFAULT_TRAIN_CROP;
    this.valCropSize = options.valCropSize ?? DEFAULT_VAL_CROP;
    this.seed = options.seed ?? 0;
    this.flips = options.flips ?? true;
    this.cropsPerImage = options.cropsPerImage ?? 1;
    if (!Number.isInteger(this.cropsPerImage) || this.cropsPerImage < 1) {
      throw new DatasetError(`crops per image must be a positive integer, got ${options.cropsPerImage}`);
    }
    if (options.positiveCrops) {
      if (train.kind !== 'memory') {
        throw new DatasetError('positiveCrops needs in-memory training images (the synthetic scenes), not files');
      }
      const S = this.cropSize;
      this.accept = (index, left, top) => {
        const { mask, width } = train.image(index);
        for (let y = top; y < top + S; y++) {
          const row = y * width;
          for (let x = left; x < left + S; x++) if (mask[row + x]) return true;
        }
        return false;
      };
    }
    this.prefetch = Math.max(1, Math.floor(options.prefetch ?? 2));
    this.workers = Math.max(0, Math.floor(options.workers ?? defaultWorkers()));
    checkCropSize(this.cropSize, 'training crop size');
    checkCropSize(this.valCropSize, 'validation crop size');
    if (train.sizes.length === 0) throw new DatasetError('the training set is empty');
    checkCropFits(train.sizes, sourceNames(train), this.cropSize, 'training crop');
    if (val) checkCropFits(val.sizes, sourceNames(val), this.valCropSize, 'validation centre crop');
    this.trainBatchCount = Math.ceil((train.sizes.length * this.cropsPerImage) / batchSize);
    this.validationImages = val?.sizes.length ?? 0;
  }

  /** The crops of training epoch `epoch`, in batch order (what `epoch(epoch)` decodes). */
  plan(epoch: number): CropPlan[] {
    return trainingPlan(this.train.sizes, this.cropSize, this.seed, epoch, this.flips, this.cropsPerImage, this.accept);
  }

  /** The training batches of epoch `epoch`: the same batches every time for the same seed and epoch. */
  epoch(epoch: number): AsyncIterable<Batch> {
    return this.batches(this.train, this.plan(epoch));
  }

  /** The validation centre crops in source order. */
  validation(): AsyncIterable<Batch> {
    if (!this.val) return this.batches(this.train, []);
    return this.batches(this.val, validationPlan(this.val.sizes, this.valCropSize));
  }

  /** `TrainingData`: the same as {@link DataLoader.epoch}. */
  trainBatches(epoch: number): AsyncIterable<Batch> {
    return this.epoch(epoch);
  }

  /** `TrainingData`: the same as {@link DataLoader.validation}. */
  validationBatches(): AsyncIterable<Batch> {
    return this.validation();
  }

  /** Waits for the batches being decoded, then ends the worker threads. Later batches are an error. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  private load(source: SampleSource, plans: readonly CropPlan[]): Promise<Batch> {
    const n = plans.length;
    const S = plans[0]!.size;
    const done = ({ images, masks }: BatchBuffers): Batch => ({ images, masks, n, height: S, width: S });
    if (source.kind === 'memory') {
      // A microtask later, so a caller's error handling sees a rejected promise rather than a throw.
      return Promise.resolve().then(() => {
        const images = new Float32Array(n * 3 * S * S);
        const masks = new Float32Array(n * S * S);
        plans.forEach((p, k) => {
          writeSample(source.image(p.index), p, images, masks, k);
        });
        return done({ images, masks });
      });
    }
    const job: BatchJob = {
      size: S,
      mean: IMAGENET_MEAN,
      std: IMAGENET_STD,
      samples: plans.map((p) => {
        const pair = source.pairs[p.index]!;
        return { image: pair.image, mask: pair.mask, left: p.left, top: p.top, flipH: p.flipH, flipV: p.flipV };
      }),
    };
    if (this.workers === 0) {
      return cropWorkerModule().then(async (m) => {
        try {
          return done(await m.loadBatch(job));
        } catch (e) {
          throw new DatasetError((e as Error).message);
        }
      });
    }
    this.pool ??= new CropPool(this.workers);
    return this.pool.run(job).then(done);
  }

  private async *batches(source: SampleSource, plans: readonly CropPlan[]): AsyncGenerator<Batch> {
    if (this.closed) throw new DatasetError('the data loader is closed: open a new one to read more batches');
    const groups: CropPlan[][] = [];
    for (let i = 0; i < plans.length; i += this.batchSize) groups.push(plans.slice(i, i + this.batchSize));
    const queue: Promise<Batch>[] = [];
    let next = 0;
    const refill = () => {
      while (next < groups.length && queue.length < this.prefetch) {
        const p = this.load(source, groups[next++]!);
        // Marked handled now: a prefetched batch may fail before it is awaited, or never be awaited when the
        // consumer stops early; its error still reaches the consumer through the `await` below.
        p.catch(() => {});
        queue.push(p);
      }
    };
    refill();
    while (queue.length > 0) {
      const p = queue.shift()!;
      refill();
      yield await p;
    }
  }
}
