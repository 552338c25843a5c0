/**
 * `ternausnet reproduce`: the paper's experiment — the same data and split trained from the three
 * initialisations — and a results folder with the table, the Jaccard-vs-epoch plot and mask overlays.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Architecture, INIT_SCHEMES, type InitScheme, loadCheckpoint, predict } from '@ternausnet/model';
import { type OverlayPanel, overlayPng, SCHEME_TITLES, type SchemeResult, writeReport } from './report.ts';
import type { Scene } from './scenes.ts';
import { type TrainingData, train } from './trainer.ts';

export interface ReproduceOptions {
  out: string;
  /** The segmentation data (Inria or synthetic aerial scenes). */
  data: TrainingData;
  /** A validation scene shown in the overlays (its centre crop). */
  overlayScene: Scene;
  overlayCrop: number;
  /** Describes the data and settings in the table's header. */
  context: string;
  epochs: number;
  seed: number;
  lr?: number;
  /** Warm-up steps of every run (see TrainOptions.warmupSteps). */
  warmupSteps?: number;
  vgg11?: string;
  /** The model trained (default UNet11); for UNet16 the `imagenet` scheme reads `vgg16`. */
  architecture?: Architecture;
  vgg16?: string;
  /** What the VGG11 file is (e.g. the stand-in made here), shown as the `imagenet` scheme's note and title. */
  vgg11Note?: string;
  vgg11Title?: string;
  /** Whole-network checkpoint for `pretrained`; otherwise `pretrain` is called to make one. */
  pretrained?: string;
  /** Pre-trains the whole network (on Carvana or the synthetic cars); returns the checkpoint, a note and a title. */
  pretrain?: (dir: string) => Promise<{ checkpoint: string; note: string; title?: string }>;
  /** Called with the partial results after each scheme (e.g. to write the report as the run goes). */
  onScheme?: (results: readonly SchemeResult[]) => Promise<void>;
  /** Which schemes to run (default all three). */
  schemes?: readonly InitScheme[];
  resume?: boolean;
  progress?: boolean;
}

export interface ReproduceResult {
  results: SchemeResult[];
  files: string[];
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  mkdirSync(o.out, { recursive: true });
  const results: SchemeResult[] = [];
  const weights = new Map<string, string>();
  for (const scheme of o.schemes ?? INIT_SCHEMES) {
    const runDir = join(o.out, 'runs', scheme);
    let note: string | undefined = scheme === 'imagenet' ? o.vgg11Note : undefined;
    const unet16 = o.architecture?.model === 'unet16';
    let title: string | undefined =
      scheme === 'imagenet' ? (unet16 ? (o.vgg11Title ?? 'VGG16 ImageNet encoder') : o.vgg11Title) : undefined;
    let checkpoint: string | undefined;
    if (scheme === 'imagenet' && !(unet16 ? o.vgg16 : o.vgg11)) {
      const why = unet16
        ? 'no VGG16 ImageNet weight file; pass --vgg16 PATH (torchvision vgg16 or timm vgg16.tv_in1k names)'
        : 'no VGG11 ImageNet weight file; pass --vgg11 PATH (README, "VGG11 ImageNet weights", shows how to make one from torchvision or timm)';
      process.stderr.write(`[reproduce] skipping 'imagenet': ${why}\n`);
      results.push({ scheme, skipped: why, ...(title ? { title } : {}) });
      continue;
    }
    if (scheme === 'pretrained') {
      if (o.pretrained) {
        checkpoint = o.pretrained;
        note = `from ${o.pretrained}`;
      } else if (o.pretrain) {
        const p = await o.pretrain(join(o.out, 'runs', 'pretrain'));
        checkpoint = p.checkpoint;
        note = p.note;
        title = p.title;
      } else {
        const why = 'no checkpoint: pass --pretrained CKPT or --carvana DIR';
        results.push({ scheme, skipped: why });
        continue;
      }
    }
    const r = await train(o.data, {
      runDir,
      init: scheme,
      seed: o.seed,
      epochs: o.epochs,
      name: scheme,
      resume: (o.resume ?? false) || existsSync(join(runDir, 'state.json')),
      ...(o.lr !== undefined ? { lr: o.lr } : {}),
      ...(o.warmupSteps !== undefined ? { warmupSteps: o.warmupSteps } : {}),
      ...(o.vgg11 ? { vgg11: o.vgg11 } : {}),
      ...(o.vgg16 ? { vgg16: o.vgg16 } : {}),
      ...(o.architecture ? { architecture: o.architecture } : {}),
      ...(checkpoint ? { pretrained: checkpoint } : {}),
      ...(o.progress !== undefined ? { progress: o.progress } : {}),
    });
    weights.set(scheme, r.finalWeights);
    results.push({ scheme, history: r.history, ...(note ? { note } : {}), ...(title ? { title } : {}) });
    await o.onScheme?.(results);
  }
  // Overlays: the validation scene's centre crop, its ground truth and each trained scheme's prediction.
  const s = o.overlayScene;
  const c = Math.min(o.overlayCrop, s.width, s.height);
  const x0 = Math.floor((s.width - c) / 2);
  const y0 = Math.floor((s.height - c) / 2);
  const crop = new Uint8Array(c * c * 3);
  const truth = new Uint8Array(c * c);
  for (let y = 0; y < c; y++) {
    const row = (y0 + y) * s.width + x0;
    crop.set(s.image.subarray(row * 3, (row + c) * 3), y * c * 3);
    truth.set(s.mask.subarray(row, row + c), y * c);
  }
  const image = { data: crop, width: c, height: c };
  const panels: OverlayPanel[] = [];
  for (const [scheme, path] of weights) {
    const { model } = await loadCheckpoint(path);
    const p = await predict(model, image, { tile: Math.ceil(c / 32) * 32 });
    model.dispose();
    const title = results.find((r) => r.scheme === scheme)?.title ?? SCHEME_TITLES[scheme] ?? scheme;
    panels.push({ title, scheme, mask: p.mask });
  }
  const overlay = await overlayPng(image, truth, panels);
  const files = await writeReport(o.out, results, o.context, overlay);
  return { results, files };
}
