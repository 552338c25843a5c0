/** Image files in and out through sharp (TIFF, PNG, JPEG, GIF, WebP): RGB in, masks and overlays out. */
import type { RgbImage } from '@ternausnet/model';
import { writeFileAtomic } from '@ternausnet/model';
import sharp from 'sharp';

// Inria tiles are 5000×5000 = 25 Mpx, above sharp's default 268 Mpx guard only for much larger images; raise it
// so that big GeoTIFFs are not refused, and keep a bound against decompression bombs.
const LIMIT_PIXELS = 40_000 * 40_000;

/** Decode any image sharp reads to 8-bit RGB (alpha dropped, grey expanded). Errors name the file. */
export async function readRgb(path: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(path, { limitInputPixels: LIMIT_PIXELS })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    throw new Error(`cannot read image ${path}: ${(e as Error).message}`);
  }
}

/** Write a 0/1 mask as an 8-bit greyscale PNG (0 / 255), atomically. */
export async function writeMaskPng(
  path: string,
  mask: ArrayLike<number>,
  width: number,
  height: number,
): Promise<void> {
  const px = Buffer.alloc(width * height);
  for (let i = 0; i < px.length; i++) px[i] = mask[i]! > 0 ? 255 : 0;
  const png = await sharp(px, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  writeFileAtomic(path, png);
}
