/**
 * Decoding, cropping, flipping and normalising training samples read from files, in a worker thread (or in
 * process when the loader runs without workers: the same functions either way).
 *
 * Plain JavaScript that needs only sharp and typed arrays, so a worker starts in milliseconds under any runner
 * (tsx, vitest, a Node bin that registers tsx) without a TypeScript loader of its own. The per-pixel arithmetic
 * matches `writeSample` in sampling.ts exactly; the loader tests compare both on the same pixels.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';

/**
 * Decoded RGB u8 HWC pixels of `region` of an image file. sharp's `extract` lets libvips stream the file strip by
 * strip, so a 768 crop of a 5000×5000 TIFF never holds the whole 75 MB tile.
 */
async function decodeRgb(path, region, what) {
  try {
    const { data, info } = await sharp(path, { limitInputPixels: false })
      .extract(region)
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded ${info.channels} channels, expected 3`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (e) {
    const { left, top, width, height } = region;
    throw new Error(
      `cannot decode ${what} ${path} (crop ${width}×${height} at ${left},${top}): ${e instanceof Error ? e.message : e}`,
    );
  }
}

/**
 * 0/1 mask of `region` of a mask file. A pixel's value is the largest of its colour channels (white, grey or
 * coloured masks alike); then, when the crop's largest value is above 1 (0/255 masks: Inria's TIFFs, PNGs, GIFs
 * with a black/white palette) foreground is > 127, else (0/1 masks: GIFs storing the class index) > 0.
 */
async function decodeMask(path, region) {
  const rgb = await decodeRgb(path, region, 'mask');
  const n = rgb.length / 3;
  const value = new Uint8Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.max(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
    value[i] = v;
    if (v > max) max = v;
  }
  const threshold = max > 1 ? 127 : 0;
  for (let i = 0; i < n; i++) value[i] = value[i] > threshold ? 1 : 0;
  return value;
}

/**
 * The RGB pixels and 0/1 mask of `region` of an image/mask pair.
 * @param {string} image
 * @param {string} mask
 * @param {{ left: number, top: number, width: number, height: number }} region
 * @returns {Promise<{ rgb: Uint8Array, mask: Uint8Array }>}
 */
export async function decodeCrop(image, mask, region) {
  const [rgb, m] = await Promise.allSettled([decodeRgb(image, region, 'image'), decodeMask(mask, region)]);
  // The image's error first when both fail (a crop outside the image fails for both).
  if (rgb.status === 'rejected') throw rgb.reason;
  if (m.status === 'rejected') throw m.reason;
  return { rgb: rgb.value, mask: m.value };
}

/**
 * One batch: each sample's crop decoded, mirrored as planned and normalised into N·3·S·S images and N·S·S masks.
 * @param {{ size: number, mean: readonly number[], std: readonly number[],
 *   samples: { image: string, mask: string, left: number, top: number, flipH: boolean, flipV: boolean }[] }} job
 * @returns {Promise<{ images: Float32Array, masks: Float32Array }>}
 */
export async function loadBatch(job) {
  const { size: S, samples, mean, std } = job;
  const plane = S * S;
  const images = new Float32Array(samples.length * 3 * plane);
  const masks = new Float32Array(samples.length * plane);
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, c) => m / std[c]);
  const crops = await Promise.all(
    samples.map((s) => decodeCrop(s.image, s.mask, { left: s.left, top: s.top, width: S, height: S })),
  );
  crops.forEach(({ rgb, mask }, k) => {
    const { flipH, flipV } = samples[k];
    const img = k * 3 * plane;
    const msk = k * plane;
    for (let y = 0; y < S; y++) {
      const row = (flipV ? S - 1 - y : y) * S;
      for (let x = 0; x < S; x++) {
        const s = row + (flipH ? S - 1 - x : x);
        const d = y * S + x;
        for (let c = 0; c < 3; c++) images[img + c * plane + d] = rgb[s * 3 + c] * scale[c] - shift[c];
        masks[msk + d] = mask[s];
      }
    }
  });
  return { images, masks };
}

// Only a worker started by the loader answers messages; importing this file in process does nothing more.
if (!isMainThread && parentPort && workerData?.ternausnetCropWorker === true) {
  const port = parentPort;
  port.on('message', async (msg) => {
    if (msg.type === 'close') {
      // Closing the port lets the thread end on its own once nothing is pending: terminating a thread while
      // libvips works for it can bring the whole process down.
      port.close();
      return;
    }
    try {
      const { images, masks } = await loadBatch(msg.job);
      port.postMessage({ id: msg.id, images, masks }, [images.buffer, masks.buffer]);
    } catch (e) {
      port.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
