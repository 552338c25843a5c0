/** The kernel calls UNet11 (or UNet16) makes at an input of `size`×`size`, batch `batch`: the benchmark's workload. */

export type LayerKind =
  | 'conv3x3'
  | 'convTranspose3x3s2'
  | 'convTranspose4x4s2'
  | 'upsampleBilinear2x'
  | 'maxPool2x2'
  | 'conv1x1';

export interface LayerShape {
  /** State-dict-like name, e.g. `encoder.3` or `dec4.block.0.conv`. */
  name: string;
  kind: LayerKind;
  batch: number;
  /** Input channels (per concatenated segment for decoder convolutions). */
  segments: number[];
  cout: number;
  /** Input height and width. */
  height: number;
  width: number;
}

/**
 * An empty layer list for an input of `size` (checked: a multiple of 32), with `add` for any layer (square input
 * of side `s`), `conv` (3×3) and `encoder`, the parts both models share.
 */
function layerList(size: number, batch: number) {
  if (size < 32 || size % 32 !== 0) throw new RangeError(`--size must be a multiple of 32, got ${size}`);
  const L: LayerShape[] = [];
  const add = (name: string, kind: LayerKind, segments: number[], cout: number, s: number) =>
    L.push({ name, kind, batch, segments, cout, height: s, width: s });
  const conv = (name: string, segments: number[], cout: number, s: number) => add(name, 'conv3x3', segments, cout, s);
  /**
   * The VGG encoder: stage k (the `features` indices of its convolutions) at side size/2^k, then its max-pool.
   * Both VGGs widen to 64, 128, 256, 512, 512 channels over the five stages.
   */
  const encoder = (stages: readonly (readonly number[])[]) => {
    let c = 3;
    stages.forEach((indices, k) => {
      const cout = [64, 128, 256, 512, 512][k]!;
      const side = size / 2 ** k;
      for (const i of indices) {
        add(`encoder.${i}`, 'conv3x3', [c], cout, side);
        c = cout;
      }
      add(`pool${k + 1}`, 'maxPool2x2', [cout], cout, side);
    });
  };
  return { L, add, conv, encoder };
}

export function unet11Layers(size: number, batch: number): LayerShape[] {
  const { L, add, conv, encoder } = layerList(size, batch);
  const up = (name: string, cin: number, cout: number, s: number) => add(name, 'convTranspose3x3s2', [cin], cout, s);
  const s = size;
  encoder([[0], [3], [6, 8], [11, 13], [16, 18]]);
  conv('center.block.0.conv', [512], 512, s / 32);
  up('center.block.1', 512, 256, s / 32);
  conv('dec5.block.0.conv', [256, 512], 512, s / 16);
  up('dec5.block.1', 512, 256, s / 16);
  conv('dec4.block.0.conv', [256, 512], 512, s / 8);
  up('dec4.block.1', 512, 128, s / 8);
  conv('dec3.block.0.conv', [128, 256], 256, s / 4);
  up('dec3.block.1', 256, 64, s / 4);
  conv('dec2.block.0.conv', [64, 128], 128, s / 2);
  up('dec2.block.1', 128, 32, s / 2);
  conv('dec1.conv', [32, 64], 32, s);
  add('final', 'conv1x1', [32], 1, s);
  return L;
}

/** UNet16's kernel calls (num_filters `f`; `deconv`: 4×4 transposed convolutions, else bilinear upsampling). */
export function unet16Layers(size: number, batch: number, f: number, deconv: boolean): LayerShape[] {
  const { L, add, conv, encoder } = layerList(size, batch);
  const s = size;
  encoder([
    [0, 2],
    [5, 7],
    [10, 12, 14],
    [17, 19, 21],
    [24, 26, 28],
  ]);
  // DecoderBlockV2 on the segments `segs` at side `side` (its input), producing side·2.
  const block = (name: string, segs: number[], mid: number, cout: number, side: number) => {
    if (deconv) {
      conv(`${name}.block.0.conv`, segs, mid, side);
      add(`${name}.block.1`, 'convTranspose4x4s2', [mid], cout, side);
    } else {
      for (const [j, sc] of segs.entries()) {
        add(`${name}.up.${j}`, 'upsampleBilinear2x', [sc], sc, side);
      }
      conv(`${name}.block.1.conv`, segs, mid, 2 * side);
      conv(`${name}.block.2.conv`, [mid], cout, 2 * side);
    }
  };
  block('center', [512], 16 * f, 8 * f, s / 32);
  block('dec5', [8 * f, 512], 16 * f, 8 * f, s / 16);
  block('dec4', [8 * f, 512], 16 * f, 8 * f, s / 8);
  block('dec3', [8 * f, 256], 8 * f, 2 * f, s / 4);
  block('dec2', [2 * f, 128], 4 * f, f, s / 2);
  conv('dec1.conv', [f, 64], f, s);
  add('final', 'conv1x1', [f], 1, s);
  return L;
}

export const cin = (l: LayerShape) => l.segments.reduce((a, b) => a + b, 0);

/** Weight and bias tensor sizes (floats) of every layer with parameters, in order. */
export function parameterSizes(layers: readonly LayerShape[]): number[] {
  return layers.flatMap((l) =>
    l.kind === 'maxPool2x2' || l.kind === 'upsampleBilinear2x' ? [] : [cin(l) * l.cout * taps(l.kind), l.cout],
  );
}

/** Weight taps per (input, output) channel pair. */
function taps(kind: LayerKind): number {
  return kind === 'conv1x1'
    ? 1
    : kind === 'convTranspose4x4s2'
      ? 16
      : kind === 'conv3x3' || kind === 'convTranspose3x3s2'
        ? 9
        : 0;
}

/** Multiply-adds ×2 of one pass (forward, dgrad and wgrad have the same count for convolutions). */
export function layerFlops(l: LayerShape): number {
  const px = l.batch * l.height * l.width;
  switch (l.kind) {
    case 'conv3x3':
      return 2 * px * cin(l) * l.cout * 9;
    case 'convTranspose3x3s2':
      return 2 * px * cin(l) * l.cout * 9;
    case 'convTranspose4x4s2':
      // Every input pixel meets all 16 taps (4 per output pixel, 4 output pixels per input pixel).
      return 2 * px * cin(l) * l.cout * 16;
    case 'upsampleBilinear2x':
      // 4 multiply-adds per output element, 4 outputs per input element.
      return 4 * px * cin(l) * 8;
    case 'conv1x1':
      return 2 * px * cin(l) * l.cout;
    case 'maxPool2x2':
      return px * cin(l);
  }
}

/** Compulsory bytes of the forward: read input and weights once, write the output once (float32). */
export function layerBytes(l: LayerShape, pass: 'forward' | 'dgrad' | 'wgrad' | 'backward'): number {
  const px = l.batch * l.height * l.width;
  const inEl = px * cin(l);
  const doubles = l.kind === 'convTranspose3x3s2' || l.kind === 'convTranspose4x4s2' || l.kind === 'upsampleBilinear2x';
  const outPx = doubles ? 4 * px : l.kind === 'maxPool2x2' ? px / 4 : px;
  const outEl = outPx * l.cout;
  const wEl = l.kind === 'upsampleBilinear2x' ? 0 : cin(l) * l.cout * taps(l.kind);
  if (l.kind === 'maxPool2x2') return 4 * (pass === 'forward' ? inEl + 2 * outEl : inEl + 2 * outEl);
  if (pass === 'forward') return 4 * (inEl + wEl + outEl);
  if (pass === 'dgrad') return 4 * (outEl + wEl + inEl);
  return 4 * (inEl + outEl + wEl);
}
