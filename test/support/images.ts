/** Test images. */
import type { RgbImage } from '@ternausnet/model';

/** A seeded RGB image with some structure (a bright rectangle on noise), so probabilities vary over it. */
export function image(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const p = Math.floor(i / 3);
    const x = p % width;
    const y = Math.floor(p / width);
    const inside = x > width / 4 && x < (3 * width) / 4 && y > height / 3 && y < (2 * height) / 3;
    data[i] = inside ? 200 + (s % 50) : s % 120;
  }
  return { data, width, height };
}

/**
 * A scene whose pixels say where they are: red = 2x, green = 3y, blue = 220 on the mask and 30 off it, so a
 * crop's origin, a flip and the image/mask correspondence can all be read back from the pixels.
 */
export function positionScene(w: number, h: number, seed: number): { rgb: Buffer; mask: Buffer } {
  const rgb = Buffer.alloc(w * h * 3);
  const mask = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const on = (x * 7 + y * 3 + seed) % 11 < 4 ? 1 : 0;
      mask[i] = on;
      rgb[i * 3] = 2 * x;
      rgb[i * 3 + 1] = 3 * y;
      rgb[i * 3 + 2] = on ? 220 : 30;
    }
  return { rgb, mask };
}
