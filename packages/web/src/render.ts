/** Pixels for the page: the image, the mask overlay, the probability heat map and the mask PNG. */
import type { RgbImage } from '@ternausnet/model';

function context(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  return ctx;
}

export function drawImage(canvas: HTMLCanvasElement, image: RgbImage): void {
  const ctx = context(canvas, image.width, image.height);
  const out = ctx.createImageData(image.width, image.height);
  for (let i = 0, n = image.width * image.height; i < n; i++) {
    out.data.set([image.data[3 * i]!, image.data[3 * i + 1]!, image.data[3 * i + 2]!, 255], 4 * i);
  }
  ctx.putImageData(out, 0, 0);
}

/** The image with pixels above `threshold` tinted red (half opacity), so the boundary reads against the scene. */
export function drawOverlay(
  canvas: HTMLCanvasElement,
  image: RgbImage,
  probabilities: Float32Array,
  threshold: number,
): void {
  const ctx = context(canvas, image.width, image.height);
  const out = ctx.createImageData(image.width, image.height);
  for (let i = 0, n = image.width * image.height; i < n; i++) {
    const on = probabilities[i]! > threshold;
    const [r, g, b] = [image.data[3 * i]!, image.data[3 * i + 1]!, image.data[3 * i + 2]!];
    out.data.set(on ? [(r + 255) >> 1, g >> 1, b >> 1, 255] : [r, g, b, 255], 4 * i);
  }
  ctx.putImageData(out, 0, 0);
}

/** A perceptually ordered blue → green → yellow ramp (viridis end points), linear in between. */
const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
] as const;

export function heatColour(p: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, p)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const t = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + t * (b[c]! - a[c]!))) as [number, number, number];
}

export function drawHeatMap(canvas: HTMLCanvasElement, width: number, height: number, probabilities: Float32Array) {
  const ctx = context(canvas, width, height);
  const out = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) out.data.set([...heatColour(probabilities[i]!), 255], 4 * i);
  ctx.putImageData(out, 0, 0);
}

/** The binary mask (255 above `threshold`, else 0) as a PNG blob. */
export async function maskPng(width: number, height: number, probabilities: Float32Array, threshold: number) {
  const canvas = document.createElement('canvas');
  const ctx = context(canvas, width, height);
  const out = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = probabilities[i]! > threshold ? 255 : 0;
    out.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(out, 0, 0);
  return new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('canvas.toBlob gave no PNG'))), 'image/png'),
  );
}
