/**
 * The `ternausnet` command line: predict, train, reproduce, demo. Run `ternausnet --help` for the usage.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Architecture, describeArchitecture, INIT_SCHEMES, type InitScheme } from '@ternausnet/model';
import { initDevice } from '@ternausnet/tensor';
import {
  carvanaPairs,
  FileData,
  folderPairs,
  groupSplit,
  type ImageMaskPair,
  imageSize,
  inriaPairs,
  inriaSplit,
  readCrop,
} from './data/datasets.ts';
import { SHAPE_CLASSES } from './data/shapes.ts';
import { runPredictCommand } from './predict-cli.ts';
import { describeVgg11, pretrainEncoder, STAND_IN_VGG11 } from './pretrain-encoder.ts';
import { verdict, writeReport } from './report.ts';
import { reproduce } from './reproduce.ts';
import { type Scene, sceneData, syntheticScenes } from './scenes.ts';
import { NonFiniteLossError, type TrainingData, train } from './trainer.ts';
import { applyCachedTuning, formatTuning, type TuneSetting, tuneSetting, tuneWithProgress } from './tune-cli.ts';

const USAGE = `ternausnet — TernausNet (UNet11, UNet16) on WebGPU

usage:
  ternausnet predict --weights W.safetensors --input IMG --out MASK.png
                     [--threshold 0.3] [--tile 1024] [--tta] [--probabilities P.safetensors]
  ternausnet predict --weights W.safetensors --input DIR|'DIR/*.tif' --out OUT_DIR [--threshold 0.3] [--tile 1024] [--tta]
                     (every image -> OUT_DIR/NAME.png; finished masks are skipped, so a rerun resumes;
                      exit status 1 if some image could not be read or predicted)
  ternausnet train   --out RUN_DIR [--model unet11|unet16] [--deconv] [--num-filters 32]
                     [--init lecun|imagenet|pretrained] [--vgg11 PATH | --vgg16 PATH] [--pretrained CKPT]
                     [--epochs N] [--batch-size N] [--crop N] [--val-crop N] [--lr 1e-3] [--warmup STEPS]
                     [--crops-per-image N] [--seed N] [--resume]
                     [--inria DIR [--val-per-city 6] | --carvana DIR | --folder DIR]
  ternausnet reproduce --out DIR [--model unet11|unet16] [--deconv] [--num-filters 32]
                     [--inria DIR [--val-per-city 6]] [--vgg11 PATH | --vgg16 PATH]
                     [--pretrained CKPT | --carvana DIR] [--epochs N] [--pretrain-epochs N] [--warmup STEPS]
                     [--quick] [--resume] ...   (without --vgg11: the stand-in encoder made here)
  ternausnet demo    [--out DIR]   (= reproduce --quick on the embedded synthetic data)
  ternausnet tune    [--model unet11|unet16] [--deconv] [--num-filters 32] [--size 768[,1440...]] [--batch-size 1]
                     [--tune-budget 600] [--retune] [--tune-cache FILE]
                     (time every kernel variant on this machine for the model's layers at those sizes; cached)
  ternausnet pretrain-encoder --out FILE [--steps 500] [--batch-size 32] [--image-size 64] [--lr 1e-4]
                     [--seed 0] [--val-images 500] [--half]   (the stand-in for VGG11 ImageNet weights: see README)

Data: --inria (AerialImageDataset/train/{images,gt}: the paper's split, first 6 tiles per city for validation),
--carvana (train/*.jpg + train_masks/*_mask.gif, split by car), --folder (images/ + masks/); without any of
them, the embedded synthetic aerial scenes (--scenes, --val-scenes, --scene-size). Real data defaults to the
paper's 768×768 training crops and 1440×1440 validation crops.

Models: UNet11 (VGG11 encoder, the paper's; num_filters 32 only) or UNet16 (VGG16 encoder; --deconv for
transposed-convolution upsampling, bilinear by default; any --num-filters). predict reads the architecture from
the checkpoint's keys and shapes (PyTorch state dicts in safetensors load as they are) and prints it.

Kernel tuning: predict, train, reproduce and demo use the choices \`ternausnet tune\` cached for this machine
(adapter, driver, CPU, kernel sources) with --tune cached (the default); --tune auto also tunes the training
crop's kernels before the first step within --tune-budget seconds (default 120; a later run continues);
--tune off ignores the cache. --tune-cache FILE (default ~/.cache/ternausnet/kernel-tuning.json).

Inputs must have sides that are multiples of 32 for training crops; predict pads any size.
Environment: WEBGPU_BACKEND / WEBGPU_ADAPTER choose the adapter.`;

function int(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

function num(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got '${v}'`);
  return n;
}

const OPTIONS = {
  weights: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string' },
  threshold: { type: 'string' },
  tile: { type: 'string' },
  probabilities: { type: 'string' },
  init: { type: 'string' },
  vgg11: { type: 'string' },
  vgg16: { type: 'string' },
  model: { type: 'string' },
  deconv: { type: 'boolean', default: false },
  'num-filters': { type: 'string' },
  tta: { type: 'boolean', default: false },
  pretrained: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  crop: { type: 'string' },
  'val-crop': { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  scenes: { type: 'string' },
  'val-scenes': { type: 'string' },
  'scene-size': { type: 'string' },
  'pretrain-epochs': { type: 'string' },
  'crops-per-image': { type: 'string' },
  warmup: { type: 'string' },
  steps: { type: 'string' },
  'image-size': { type: 'string' },
  'val-images': { type: 'string' },
  half: { type: 'boolean', default: false },
  inria: { type: 'string' },
  'val-per-city': { type: 'string' },
  carvana: { type: 'string' },
  folder: { type: 'string' },
  quick: { type: 'boolean', default: false },
  tune: { type: 'string' },
  'tune-budget': { type: 'string' },
  'tune-cache': { type: 'string' },
  size: { type: 'string' },
  retune: { type: 'boolean', default: false },
  resume: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** --tune, --tune-budget (seconds), --tune-cache. */
function tuning(v: Values, defaultBudgetSeconds = 120): TuneSetting {
  return tuneSetting(v.tune, num('tune-budget', v['tune-budget'], defaultBudgetSeconds), v['tune-cache']);
}

/** The device, with this machine's cached kernel choices unless --tune off. */
async function openDevice(v: Values): Promise<void> {
  await initDevice();
  applyCachedTuning(tuning(v));
}

/** --tune auto: the training step's kernels at the training crop, within --tune-budget, before training starts. */
async function autoTune(v: Values, arch: Architecture, crop: number, batch: number): Promise<void> {
  const setting = tuning(v);
  if (setting.mode !== 'auto') return;
  const r = await tuneWithProgress(arch, [crop], batch, setting);
  console.log(formatTuning(r).split('\n').slice(0, 2).join('\n'));
}

async function runTune(v: Values): Promise<void> {
  const arch = architecture(v);
  const sizes = (v.size ?? '768').split(',').map((s) => int('size', s.trim(), 0, 32));
  const setting = tuning(v, 600);
  await initDevice();
  const r = await tuneWithProgress(arch, sizes, int('batch-size', v['batch-size'], 1), setting, v.retune ?? false);
  console.log(formatTuning(r));
}

async function runPredict(v: Values): Promise<void> {
  if (!v.weights || !v.input || !v.out) throw new Error('predict needs --weights, --input and --out (see --help)');
  if (v.model || v['num-filters'] || v.deconv) {
    throw new RangeError('predict reads the architecture from the checkpoint: drop --model, --deconv, --num-filters');
  }
  await openDevice(v);
  process.exitCode = await runPredictCommand({
    weights: v.weights,
    input: v.input,
    out: v.out,
    threshold: num('threshold', v.threshold, 0.3),
    tile: int('tile', v.tile, 1024, 32),
    tta: v.tta ?? false,
    ...(v.probabilities ? { probabilities: v.probabilities } : {}),
  });
}

/** --model, --deconv, --num-filters of train and reproduce (default: the paper's UNet11). */
function architecture(v: Values): Architecture {
  const model = v.model ?? 'unet11';
  if (model !== 'unet11' && model !== 'unet16')
    throw new RangeError(`--model must be unet11 or unet16, got '${model}'`);
  const numFilters = int('num-filters', v['num-filters'], 32);
  if (model === 'unet11') {
    // UNet11's decoder is transposed convolutions only: --deconv is what it does anyway.
    if (numFilters !== 32) {
      throw new RangeError(
        `--num-filters ${numFilters}: UNet11 works with 32 only (ternaus' centre block expects VGG11's 512 channels ` +
          `as num_filters·16); use --model unet16 for other widths`,
      );
    }
    return { model, numFilters, deconv: true };
  }
  return { model, numFilters, deconv: v.deconv ?? false };
}

/**
 * The demo's and the full run's settings on the synthetic data (packages/train/NOTES.md has the study behind the
 * demo's): scenes, crop and batch sizes, crops drawn per scene per epoch, epochs, warm-up, car pre-training.
 */
export const SYNTHETIC_DEFAULTS = {
  quick: {
    crop: 64,
    valCrop: 160,
    scenes: 40,
    valScenes: 8,
    sceneSize: 256,
    batch: 2,
    cropsPerImage: 2,
    epochs: 5,
    warmup: 20,
    pretrainEpochs: 1,
  },
  full: {
    crop: 64,
    valCrop: 256,
    scenes: 100,
    valScenes: 16,
    sceneSize: 320,
    batch: 4,
    cropsPerImage: 2,
    epochs: 10,
    warmup: 50,
    pretrainEpochs: 2,
  },
} as const;

/** The synthetic aerial data set, sized by the options (defaults: SYNTHETIC_DEFAULTS). */
function syntheticData(v: Values, quick: boolean) {
  const d = quick ? SYNTHETIC_DEFAULTS.quick : SYNTHETIC_DEFAULTS.full;
  const crop = int('crop', v.crop, d.crop, 32);
  const valCrop = int('val-crop', v['val-crop'], d.valCrop, 32);
  const sceneSize = int('scene-size', v['scene-size'], Math.max(d.sceneSize, valCrop, crop), 32);
  const seed = int('seed', v.seed, 0, 0);
  const scenes = syntheticScenes({
    kind: 'aerial',
    trainScenes: int('scenes', v.scenes, d.scenes),
    valScenes: int('val-scenes', v['val-scenes'], d.valScenes),
    sceneSize,
    seed: seed + 1,
  });
  const batchSize = int('batch-size', v['batch-size'], d.batch);
  const cropsPerImage = int('crops-per-image', v['crops-per-image'], d.cropsPerImage);
  const data = sceneData(scenes.train, scenes.validation, {
    cropSize: crop,
    valCropSize: valCrop,
    batchSize,
    seed,
    cropsPerImage,
    positiveCrops: true,
  });
  const warmup = int('warmup', v.warmup, d.warmup, 0);
  const context =
    `Data: embedded synthetic aerial scenes (${scenes.train.length} training, ${scenes.validation.length} validation, ` +
    `${sceneSize}×${sceneSize} px at 0.3 m/px), ${cropsPerImage} random ${crop}×${crop} training crops per scene ` +
    `per epoch with flips, crops without buildings redrawn (${data.trainBatchCount} Adam steps of batch ${batchSize} per epoch), ${valCrop}×${valCrop} ` +
    `validation centre crops, Adam lr ${v.lr ?? '1e-3'}${warmup ? ` with a ${warmup}-step linear warm-up` : ''}, ` +
    `seed ${seed}. These are not the Inria numbers: the paper's column is for reference.`;
  return { data, scenes, crop, valCrop, seed, batchSize, cropsPerImage, warmup, context };
}

/** File-based data (Inria, Carvana or a folder) with the paper's crop sizes by default. */
async function fileData(v: Values, pairs: { train: ImageMaskPair[]; val: ImageMaskPair[] }, what: string) {
  const crop = int('crop', v.crop, 768, 32);
  const valCrop = int('val-crop', v['val-crop'], 1440, 32);
  const batchSize = int('batch-size', v['batch-size'], 4);
  const seed = int('seed', v.seed, 0, 0);
  const data = await FileData.open(pairs.train, pairs.val, { cropSize: crop, valCropSize: valCrop, batchSize, seed });
  const context =
    `Data: ${what} (${pairs.train.length} training, ${pairs.val.length} validation images), ${crop}×${crop} random ` +
    `training crops with flips, ${valCrop}×${valCrop} validation centre crops, batch ${batchSize}, Adam lr ` +
    `${v.lr ?? '1e-3'}, seed ${seed}.`;
  return { data, crop, valCrop, seed, batchSize, context };
}

function realPairs(v: Values): { pairs: { train: ImageMaskPair[]; val: ImageMaskPair[] }; what: string } | null {
  if (v.inria) {
    const valPerCity = int('val-per-city', v['val-per-city'], 6);
    return {
      pairs: inriaSplit(inriaPairs(v.inria), valPerCity),
      what: `Inria Aerial Image Labeling (${v.inria}), first ${valPerCity} tiles per city for validation`,
    };
  }
  if (v.carvana) return { pairs: groupSplit(carvanaPairs(v.carvana)), what: `Carvana (${v.carvana}), split by car` };
  if (v.folder) return { pairs: groupSplit(folderPairs(v.folder)), what: `folder ${v.folder}` };
  return null;
}

async function runTrain(v: Values): Promise<void> {
  if (!v.out) throw new Error('train needs --out RUN_DIR');
  const init = (v.init ?? 'lecun') as InitScheme;
  if (!INIT_SCHEMES.includes(init))
    throw new RangeError(`--init must be one of ${INIT_SCHEMES.join(', ')}, got '${init}'`);
  const arch = architecture(v);
  console.log(`model: ${describeArchitecture(arch)}`);
  await openDevice(v);
  const real = realPairs(v);
  const { data, seed, warmup, crop, batchSize } = real
    ? { ...(await fileData(v, real.pairs, real.what)), warmup: int('warmup', v.warmup, 0, 0) }
    : syntheticData(v, v.quick ?? false);
  await autoTune(v, arch, crop, batchSize);
  const r = await train(data, {
    runDir: v.out,
    init,
    seed,
    epochs: int('epochs', v.epochs, 10),
    lr: num('lr', v.lr, 1e-3),
    warmupSteps: warmup,
    resume: v.resume ?? false,
    architecture: arch,
    ...(v.vgg11 ? { vgg11: v.vgg11 } : {}),
    ...(v.vgg16 ? { vgg16: v.vgg16 } : {}),
    ...(v.pretrained ? { pretrained: v.pretrained } : {}),
  });
  await data.close?.();
  console.log(
    `final val IoU ${r.final.valIoU.toFixed(4)}, best ${r.best.valIoU.toFixed(4)} (epoch ${r.best.epoch}); weights ${r.finalWeights}`,
  );
}

async function runReproduce(v: Values, quickDefault: boolean): Promise<void> {
  const quick = (v.quick ?? false) || quickDefault;
  const out = resolve(v.out ?? (quick ? 'results/demo' : 'results/reproduce'));
  const arch = architecture(v);
  const unet16 = arch.model === 'unet16';
  console.log(`model: ${describeArchitecture(arch)}`);
  await openDevice(v);
  const inria = v.inria
    ? {
        pairs: inriaSplit(inriaPairs(v.inria), int('val-per-city', v['val-per-city'], 6)),
        what: `Inria Aerial Image Labeling (${v.inria})`,
      }
    : null;
  const syn = inria ? null : syntheticData(v, quick);
  const seg = inria ? await fileData(v, inria.pairs, inria.what) : syn!;
  await autoTune(v, arch, seg.crop, seg.batchSize);
  const overlayScene = inria ? await sceneFromPair(inria.pairs.val[0]!, seg.valCrop) : syn!.scenes.validation[0]!;
  const d = quick ? SYNTHETIC_DEFAULTS.quick : SYNTHETIC_DEFAULTS.full;
  const epochs = int('epochs', v.epochs, d.epochs);
  const pretrainEpochs = int('pretrain-epochs', v['pretrain-epochs'], d.pretrainEpochs);
  const warmupSteps = syn ? syn.warmup : int('warmup', v.warmup, 0, 0);
  // UNet16's encoder needs VGG16 weights (--vgg16): without them its `imagenet` scheme is skipped.
  // The paper's model needs no mention; any other one does, or the table reads as UNet11's.
  const modelContext = unet16 ? `Model: ${describeArchitecture(arch)}. ${seg.context}` : seg.context;
  const vgg11 = unet16 ? undefined : await vgg11File(v);
  const encoder = vgg11
    ? await describeVgg11(vgg11)
    : { note: v.vgg16 ? `VGG16 weights from ${v.vgg16}` : undefined, title: undefined, standIn: false };
  const t0 = performance.now();
  const { files, results } = await reproduce({
    out,
    data: seg.data,
    overlayScene,
    overlayCrop: seg.valCrop,
    context: modelContext,
    epochs,
    seed: seg.seed,
    lr: num('lr', v.lr, 1e-3),
    warmupSteps,
    resume: v.resume ?? false,
    architecture: arch,
    ...(vgg11 ? { vgg11 } : {}),
    ...(v.vgg16 ? { vgg16: v.vgg16 } : {}),
    ...(encoder.note ? { vgg11Note: encoder.note } : {}),
    ...(encoder.title ? { vgg11Title: encoder.title } : {}),
    ...(v.pretrained ? { pretrained: v.pretrained } : {}),
    onScheme: async (partial) => {
      await writeReport(out, partial, modelContext);
    },
    pretrain: async (dir) => {
      mkdirSync(dir, { recursive: true });
      let carData: TrainingData;
      let what: string;
      let title: string | undefined;
      if (v.carvana) {
        const pairs = groupSplit(carvanaPairs(v.carvana));
        // Carvana images are 1918×1280: the validation centre crop must fit their height.
        carData = (await fileData({ ...v, 'val-crop': String(Math.min(seg.valCrop, 1280)) }, pairs, 'Carvana')).data;
        what = `Carvana (${v.carvana})`;
      } else {
        // The Carvana stand-in: car silhouettes on studio backgrounds.
        const size = syn ? syn.scenes.train[0]!.width : seg.valCrop + 128;
        const cars = syntheticScenes({
          kind: 'cars',
          trainScenes: syn ? syn.scenes.train.length : 120,
          valScenes: 4,
          sceneSize: size,
          seed: seg.seed + 2,
        });
        carData = sceneData(cars.train, cars.validation, {
          cropSize: seg.crop,
          valCropSize: seg.valCrop,
          batchSize: seg.batchSize,
          seed: seg.seed,
          cropsPerImage: syn ? syn.cropsPerImage : 1,
          positiveCrops: true,
        });
        what = 'synthetic car silhouettes (the Carvana stand-in)';
        title = 'Pre-trained on synthetic cars (Carvana stand-in)';
      }
      // As the authors' Carvana network (TernausNet's winning entry): the encoder starts from VGG11 weights.
      const vggFile = unet16 ? v.vgg16 : vgg11;
      const r = await train(carData, {
        runDir: dir,
        init: vggFile ? 'imagenet' : 'lecun',
        architecture: arch,
        ...(unet16 ? (vggFile ? { vgg16: vggFile } : {}) : vggFile ? { vgg11: vggFile } : {}),
        seed: seg.seed,
        epochs: pretrainEpochs,
        warmupSteps,
        name: 'pretrain',
        resume: true,
      });
      await carData.close?.();
      return {
        checkpoint: r.finalWeights,
        note:
          `pre-trained ${r.final.step} steps on ${what} from ${vggFile ? `the ${encoder.standIn ? 'stand-in ' : ''}${unet16 ? 'VGG16' : 'VGG11'} encoder` : 'a LeCun-initialised network (no VGG16 file)'}, ` +
          `val IoU there ${r.final.valIoU.toFixed(3)}`,
        ...(title ? { title } : {}),
      };
    },
  });
  await seg.data.close?.();
  console.log(
    `\n${results.map((r) => `${r.scheme}: ${r.skipped ? `skipped (${r.skipped})` : `final val IoU ${r.history!.at(-1)!.valIoU.toFixed(3)}, predicted positive ${(100 * r.history!.at(-1)!.valPredictedFraction).toFixed(1)} % (truth ${(100 * r.history!.at(-1)!.valTrueFraction).toFixed(1)} %)`}`).join('\n')}`,
  );
  console.log(`\n${verdict(results)}`);
  console.log(
    `\nwrote ${files.map((f) => join('.', f.replace(`${process.cwd()}/`, ''))).join(', ')} in ${((performance.now() - t0) / 60000).toFixed(1)} min`,
  );
}

async function runPretrainEncoder(v: Values): Promise<void> {
  if (!v.out) throw new Error('pretrain-encoder needs --out FILE (a .safetensors path)');
  await initDevice();
  const r = await pretrainEncoder({
    out: resolve(v.out),
    steps: int('steps', v.steps, 500),
    batchSize: int('batch-size', v['batch-size'], 32),
    imageSize: int('image-size', v['image-size'], 64, 32),
    lr: num('lr', v.lr, 1e-4),
    seed: int('seed', v.seed, 0, 0),
    valImages: int('val-images', v['val-images'], 500),
    half: v.half ?? false,
  });
  console.log(
    `${r.path}: VGG11 pre-trained on ${SHAPE_CLASSES.length} synthetic shape/texture classes, held-out top-1 ` +
      `${(100 * r.top1).toFixed(1)} % (chance ${(100 / SHAPE_CLASSES.length).toFixed(0)} %), final loss ` +
      `${r.finalLoss.toFixed(4)}, ${(r.seconds / 60).toFixed(1)} min. Use it with --vgg11 ${v.out}`,
  );
}

/** The VGG11 file of the `imagenet` scheme: the user's, or the stand-in shipped with the package. */
async function vgg11File(v: Values): Promise<string> {
  if (v.vgg11) return v.vgg11;
  if (!existsSync(STAND_IN_VGG11)) {
    process.stderr.write(`[reproduce] ${STAND_IN_VGG11} is missing: making it (ternausnet pretrain-encoder --half)\n`);
    await pretrainEncoder({ out: STAND_IN_VGG11, half: true });
  }
  return STAND_IN_VGG11;
}

/** The centre crop of a validation pair as an in-memory scene (for the overlays). */
async function sceneFromPair(pair: ImageMaskPair, crop: number): Promise<Scene> {
  const { width, height } = await imageSize(pair.image);
  const c = Math.min(crop, width, height);
  const region = { left: Math.floor((width - c) / 2), top: Math.floor((height - c) / 2), width: c, height: c };
  const { rgb, mask } = await readCrop(pair, region);
  return { name: pair.name, image: rgb, mask, width: c, height: c };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: OPTIONS, allowPositionals: true });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    process.exitCode = command || values.help ? 0 : 2;
    return;
  }
  switch (command) {
    case 'predict':
      return runPredict(values);
    case 'train':
      return runTrain(values);
    case 'reproduce':
      return runReproduce(values, false);
    case 'demo':
      return runReproduce(values, true);
    case 'pretrain-encoder':
      return runPretrainEncoder(values);
    case 'tune':
      return runTune(values);
    default:
      throw new Error(`unknown command '${command}'\n\n${USAGE}`);
  }
}

main().catch((e: unknown) => {
  if (e instanceof NonFiniteLossError) {
    console.error(e.message);
    process.exit(3);
  }
  console.error(e instanceof Error ? `error: ${e.message}` : e);
  process.exit(1);
});
