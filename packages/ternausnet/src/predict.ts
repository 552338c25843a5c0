/**
 * Inference on images of any size: ImageNet normalisation (as the authors trained), padding to multiples of 32,
 * and, for images larger than one tile (Inria tiles are 5000×5000), tile-by-tile prediction with overlapping
 * tiles blended by a weight that ramps down towards tile borders, so GPU memory is bounded by the tile size.
 */
import { noGrad, sigmoid, type Tensor, tensor, tidy } from '@ternausnet/tensor';

/** torchvision's ImageNet statistics, applied to RGB scaled to [0, 1] (the authors' `Normalize`). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** An 8-bit RGB image, row-major, channels interleaved (what sharp's `raw()` gives). */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface PredictOptions {
  /** Probability above which a pixel is "building" (the paper: 0.3). */
  threshold?: number;
  /** Tile side in pixels, a multiple of 32 (default 1024). Smaller tiles use less GPU memory. */
  tile?: number;
  /** Overlap between neighbouring tiles in pixels (default max(64, tile/16); tile/4 below 256). */
  overlap?: number;
  /**
   * Test-time augmentation: the mean of the probabilities over the four flips of each tile (none, horizontal,
   * vertical, both), each flipped back. Four forward passes per tile; memory stays that of one tile.
   */
  tta?: boolean;
  /** Called after each tile with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface Prediction {
  readonly width: number;
  readonly height: number;
  /** sigmoid(logits), row-major H·W. */
  readonly probabilities: Float32Array;
  /** 1 where probability > threshold, else 0. */
  readonly mask: Uint8Array;
}

/**
 * Normalised CHW float32 planes of the region [x0, x0 + w) × [y0, y0 + h) of `image`; pixels outside the image
 * are mirrored back inside (reflection padding: no artificial edges for the network to respond to).
 */
export function normalizeRegion(image: RgbImage, x0: number, y0: number, w: number, h: number): Float32Array {
  const out = new Float32Array(3 * w * h);
  const reflect = (v: number, n: number) => {
    if (n === 1) return 0;
    const period = 2 * (n - 1);
    const m = ((v % period) + period) % period;
    return m < n ? m : period - m;
  };
  for (let y = 0; y < h; y++) {
    const sy = reflect(y0 + y, image.height);
    for (let x = 0; x < w; x++) {
      const sx = reflect(x0 + x, image.width);
      const src = (sy * image.width + sx) * 3;
      for (let c = 0; c < 3; c++) {
        out[c * w * h + y * w + x] = (image.data[src + c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      }
    }
  }
  return out;
}

/** Tile origins along one axis: tiles of `tile` covering [0, n) with at least `overlap` shared pixels. */
export function tileOrigins(n: number, tile: number, overlap: number): number[] {
  if (n <= tile) return [0];
  const stride = tile - overlap;
  const count = Math.ceil((n - tile) / stride) + 1;
  // Spread the tiles evenly so the overlaps are equal and the last tile ends at the border.
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - tile)) / (count - 1)));
}

/** Blending weight of a tile pixel: 1 in the middle, ramping linearly to 1/(margin+1) at the tile's edges. */
function ramp(i: number, size: number, margin: number): number {
  if (margin <= 0) return 1;
  return Math.min(1, (i + 1) / (margin + 1), (size - i) / (margin + 1));
}

const roundUp32 = (n: number) => Math.ceil(n / 32) * 32;

/** `planes` planes of h×w floats mirrored horizontally and/or vertically (a flip is its own inverse). */
function flipPlanes(src: Float32Array, planes: number, h: number, w: number, fx: boolean, fy: boolean): Float32Array {
  if (!fx && !fy) return src;
  const out = new Float32Array(src.length);
  for (let c = 0; c < planes; c++)
    for (let y = 0; y < h; y++) {
      const sy = fy ? h - 1 - y : y;
      for (let x = 0; x < w; x++) out[(c * h + y) * w + x] = src[(c * h + sy) * w + (fx ? w - 1 - x : x)]!;
    }
  return out;
}

const NO_FLIP: readonly (readonly [boolean, boolean])[] = [[false, false]];
const ALL_FLIPS: readonly (readonly [boolean, boolean])[] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** Anything that maps a normalised [1, 3, H, W] batch to logits [1, 1, H, W]: UNet11, UNet16. */
export interface SegmentationModel {
  forward(x: Tensor): Tensor;
}

/** Probability map and binary mask for an RGB image of any size. */
export async function predict(
  model: SegmentationModel,
  image: RgbImage,
  options: PredictOptions = {},
): Promise<Prediction> {
  const threshold = options.threshold ?? 0.3;
  const tile = options.tile ?? 1024;
  if (!(threshold > 0 && threshold < 1)) throw new RangeError(`predict: threshold must be in (0, 1), got ${threshold}`);
  if (!Number.isInteger(tile) || tile < 32 || tile % 32 !== 0) {
    throw new RangeError(`predict: tile must be a positive multiple of 32, got ${tile}`);
  }
  const overlap = options.overlap ?? Math.round(tile >= 256 ? Math.max(64, tile / 16) : tile / 4);
  if (!(overlap >= 0 && overlap < tile)) throw new RangeError(`predict: overlap must be in [0, tile), got ${overlap}`);
  const { width: W, height: H } = image;
  if (image.data.length !== W * H * 3) {
    throw new RangeError(`predict: image data has ${image.data.length} bytes, expected ${W}×${H}×3 = ${W * H * 3}`);
  }
  // Tiles never exceed the (32-padded) image: a small image is one tile padded up to a multiple of 32.
  const tw = Math.min(tile, roundUp32(W));
  const th = Math.min(tile, roundUp32(H));
  const xs = tileOrigins(W, tw, overlap);
  const ys = tileOrigins(H, th, overlap);
  const single = xs.length === 1 && ys.length === 1;
  const acc = new Float32Array(W * H);
  const weight = single ? null : new Float32Array(W * H);
  const total = xs.length * ys.length;
  let done = 0;
  for (const y0 of ys) {
    for (const x0 of xs) {
      const input = normalizeRegion(image, x0, y0, tw, th);
      const flips = options.tta ? ALL_FLIPS : NO_FLIP;
      let p: Float32Array | null = null;
      for (const [fx, fy] of flips) {
        const prob: Tensor = noGrad(() =>
          tidy(() => {
            const x = tensor(flipPlanes(input, 3, th, tw, fx, fy), [1, 3, th, tw]);
            return sigmoid(model.forward(x));
          }),
        );
        const q = flipPlanes(await prob.toArray(), 1, th, tw, fx, fy);
        prob.dispose();
        if (!p) p = flips.length === 1 ? q : q.map((v) => v / flips.length);
        else for (let i = 0; i < p.length; i++) p[i] = p[i]! + q[i]! / flips.length;
      }
      const margin = single ? 0 : overlap / 2;
      for (let y = 0; y < th && y0 + y < H; y++) {
        const wy = ramp(y, th, ys.length > 1 ? margin : 0);
        for (let x = 0; x < tw && x0 + x < W; x++) {
          const i = (y0 + y) * W + x0 + x;
          const v = p![y * tw + x]!;
          if (weight) {
            const w = wy * ramp(x, tw, xs.length > 1 ? margin : 0);
            acc[i]! += v * w;
            weight[i]! += w;
          } else acc[i] = v;
        }
      }
      options.onProgress?.(++done, total);
    }
  }
  if (weight) for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / weight[i]!;
  const mask = new Uint8Array(W * H);
  for (let i = 0; i < acc.length; i++) mask[i] = acc[i]! > threshold ? 1 : 0;
  return { width: W, height: H, probabilities: acc, mask };
}
