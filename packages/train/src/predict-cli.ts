/**
 * `ternausnet predict`: one image (`--input IMG --out MASK.png`) or a whole data set (`--input DIR|GLOB --out DIR`).
 *
 * Folder mode is built for the Inria test set (180 tiles of 5000×5000): images run one at a time through the tiled
 * `predict` (GPU memory bounded by the tile; host memory by one image and its probability map, nothing kept
 * across images), masks are written atomically as `OUT/<name>.png`, and an output that exists is a finished
 * one: a rerun after a kill skips it. An unreadable image is reported and skipped; the exit status is 1 when any
 * image failed.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import {
  type Architecture,
  describeArchitecture,
  loadCheckpoint,
  predict,
  type TernausNetModel,
  writeSafetensors,
} from '@ternausnet/model';
import { IMAGE_EXTENSIONS, imageSize } from './data/datasets.ts';
import { readRgb, writeMaskPng } from './image-io.ts';
import { createProgress, type Progress } from './progress.ts';

export interface PredictCommandOptions {
  weights: string;
  input: string;
  out: string;
  threshold: number;
  tile: number;
  tta: boolean;
  /** Single-image mode only: also write the probabilities as a safetensors [1, H, W] tensor. */
  probabilities?: string;
}

export interface FolderSummary {
  readonly total: number;
  readonly done: number;
  readonly skipped: number;
  readonly failed: readonly { path: string; error: string }[];
  readonly megapixels: number;
  readonly seconds: number;
}

const hasWildcard = (s: string) => /[*?[]/.test(s);

/** Folder mode when the input is a directory or a glob pattern. */
export function isFolderInput(input: string): boolean {
  return hasWildcard(basename(input)) || (existsSync(input) && statSync(input).isDirectory());
}

/**
 * The image files of a directory, or those matching a pattern whose wildcards (`*`, `?`, `[abc]`) are in the file
 * name (Node 20 has no glob), sorted by name.
 */
export function listImages(input: string): string[] {
  let dir = input;
  let match: (name: string) => boolean = (name) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
  if (hasWildcard(basename(input))) {
    dir = dirname(input);
    if (hasWildcard(dir)) {
      throw new RangeError(`--input ${input}: wildcards are supported in the file name only (e.g. 'tiles/*.tif')`);
    }
    const re = new RegExp(
      `^${basename(input)
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    match = (name) => re.test(name);
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new RangeError(`--input ${input}: directory ${dir} does not exist`);
  }
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && match(name))
    .sort()
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

/** The mask file for an input image: `OUT/<name without extension>.png`. */
export function maskPath(outDir: string, image: string): string {
  return join(outDir, `${basename(image, extname(image))}.png`);
}

async function loadModel(weights: string): Promise<{ model: TernausNetModel; architecture: Architecture }> {
  const loaded = await loadCheckpoint(weights);
  console.log(`${weights}: ${describeArchitecture(loaded.architecture)}`);
  return loaded;
}

export async function runPredictCommand(o: PredictCommandOptions): Promise<number> {
  if (isFolderInput(o.input)) {
    if (o.probabilities) throw new RangeError('--probabilities takes one image; in folder mode only masks are written');
    const summary = await predictFolder(o);
    return summary.failed.length > 0 ? 1 : 0;
  }
  const { model } = await loadModel(o.weights);
  try {
    const image = await readRgb(o.input);
    let bar: Progress | null = null;
    const p = await predict(model, image, {
      threshold: o.threshold,
      tile: o.tile,
      tta: o.tta,
      onProgress: (done, total) => {
        bar ??= createProgress({ label: `predict ${image.width}×${image.height}`, total });
        bar.update(done);
      },
    });
    (bar as Progress | null)?.stop();
    await writeMaskPng(o.out, p.mask, p.width, p.height);
    if (o.probabilities) {
      await writeSafetensors(
        o.probabilities,
        { probabilities: { shape: [1, p.height, p.width], data: p.probabilities } },
        { source: o.input, threshold: String(o.threshold), tta: String(o.tta) },
      );
    }
    const positive = p.mask.reduce((s, x) => s + x, 0) / p.mask.length;
    console.log(
      `${o.out}: ${p.width}×${p.height} mask, ${(100 * positive).toFixed(2)} % building pixels (threshold ${o.threshold})`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

/** Temp files that a killed `writeFileAtomic` left behind for `name` (`.NAME.PID.TIME.tmp`). */
function staleTemps(outDir: string): string[] {
  return readdirSync(outDir).filter((f) => /^\..+\.png\.\d+\.\d+\.tmp$/.test(f));
}

export async function predictFolder(o: PredictCommandOptions): Promise<FolderSummary> {
  const images = listImages(o.input);
  if (images.length === 0) throw new RangeError(`--input ${o.input}: no image files (${IMAGE_EXTENSIONS.join(' ')})`);
  const outDir = resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  const byOutput = new Map<string, string>();
  for (const image of images) {
    const out = maskPath(outDir, image);
    const other = byOutput.get(out);
    if (other) throw new RangeError(`${other} and ${image} would both write ${out}: rename one of them`);
    byOutput.set(out, image);
  }
  for (const f of staleTemps(outDir)) rmSync(join(outDir, f), { force: true });

  const todo = images.filter((image) => !existsSync(maskPath(outDir, image)));
  const skipped = images.length - todo.length;
  console.log(
    `${images.length} images in ${o.input}: ${skipped} already done in ${o.out}, ${todo.length} to predict` +
      `${o.tta ? ' (flip TTA: 4 passes per tile)' : ''}`,
  );
  const failed: { path: string; error: string }[] = [];
  // Sizes first (header reads only), so that the bar counts megapixels and its ETA weighs big tiles right.
  const sizes = new Map<string, number>();
  for (const image of todo) {
    try {
      const { width, height } = await imageSize(image);
      sizes.set(image, width * height);
    } catch (e) {
      failed.push({ path: image, error: (e as Error).message });
      console.error(`failed: ${image}: ${(e as Error).message}`);
    }
  }
  const totalMpx = [...sizes.values()].reduce((s, n) => s + n, 0) / 1e6;
  const round = (v: number) => Math.round(v * 100) / 100;
  let done = 0;
  let doneMpx = 0;
  let predictedMpx = 0;
  const t0 = performance.now();
  const { model } = await loadModel(o.weights);
  const bar =
    sizes.size > 0
      ? createProgress({ label: 'predict Mpx', total: round(totalMpx), fields: ['images', 'Mpx/s'] })
      : null;
  const fields = (extra = 0) => ({
    images: `${done}/${sizes.size}`,
    'Mpx/s': ((doneMpx + extra) / Math.max(1e-3, (performance.now() - t0) / 1000)).toFixed(3),
  });
  try {
    for (const [image, pixels] of sizes) {
      try {
        const rgb = await readRgb(image);
        const p = await predict(model, rgb, {
          threshold: o.threshold,
          tile: o.tile,
          tta: o.tta,
          onProgress: (tiles, total) => {
            const partial = (pixels / 1e6) * (tiles / total);
            bar?.update(round(doneMpx + partial), fields(partial));
          },
        });
        await writeMaskPng(maskPath(outDir, image), p.mask, p.width, p.height);
        done++;
        predictedMpx += pixels / 1e6;
      } catch (e) {
        failed.push({ path: image, error: (e as Error).message });
        // Below the bar's line, so the report is not overwritten.
        process.stderr.write(`\nfailed: ${image}: ${(e as Error).message}\n`);
      }
      doneMpx += pixels / 1e6;
      bar?.update(round(doneMpx), fields());
    }
  } finally {
    bar?.stop();
    model.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const processedMpx = predictedMpx;
  console.log(
    `predicted ${done} images (${processedMpx.toFixed(2)} Mpx) in ${seconds.toFixed(1)} s: ` +
      `${(processedMpx / Math.max(1e-3, seconds)).toFixed(3)} Mpx/s, ${(seconds / Math.max(1, done)).toFixed(2)} s/image; ` +
      `${skipped} skipped (already done), ${failed.length} failed`,
  );
  if (failed.length > 0) {
    console.error(
      `${failed.length} of ${images.length} images failed:\n${failed.map((f) => `  ${f.path}: ${f.error}`).join('\n')}`,
    );
  }
  return { total: images.length, done, skipped, failed, megapixels: processedMpx, seconds };
}
