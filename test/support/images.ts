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
