/**
 * Writes a PNG contact sheet of synthetic scenes, each shown as the image next to the image with its mask tinted,
 * for eyeballing the generators:
 *
 *   npx tsx packages/train/src/data/preview-synthetic.ts --kind aerial --count 8 --size 256x256 --out /tmp/aerial.png
 */
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { generateAerialScene, generateCarScene, type SyntheticSample } from './synthetic.ts';

const { values } = parseArgs({
  options: {
    kind: { type: 'string', default: 'aerial' },
    count: { type: 'string', default: '8' },
    size: { type: 'string', default: '256x256' },
    seed: { type: 'string', default: '0' },
    cols: { type: 'string', default: '2' },
    out: { type: 'string', default: '/tmp/synthetic-preview.png' },
  },
});

if (values.kind !== 'aerial' && values.kind !== 'car') {
  throw new RangeError(`--kind must be 'aerial' or 'car', got '${values.kind}'`);
}
const [w, h] = (values.size ?? '256x256').split('x').map(Number) as [number, number];
const count = Number(values.count);
const firstSeed = Number(values.seed);
const cols = Math.max(1, Number(values.cols));
const gap = 4;
const cellW = 2 * w + gap;
const rows = Math.ceil(count / cols);
const sheetW = cols * cellW + (cols + 1) * gap;
const sheetH = rows * (h + gap) + gap;
const sheet = new Uint8Array(sheetW * sheetH * 3).fill(255);

const blit = (sample: SyntheticSample, ox: number, oy: number, tint: boolean) => {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const o = ((oy + y) * sheetW + ox + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = sample.image[3 * i + c]!;
        // Red tint over the mask, so both the label and what lies under it stay visible.
        sheet[o + c] = tint && sample.mask[i] ? Math.round(v * 0.45 + (c === 0 ? 140 : 0)) : v;
      }
    }
  }
};

const started = performance.now();
for (let k = 0; k < count; k++) {
  const seed = firstSeed + k;
  const sample =
    values.kind === 'car'
      ? generateCarScene({ seed, width: w, height: h })
      : generateAerialScene({ seed, width: w, height: h });
  let pos = 0;
  for (const m of sample.mask) pos += m;
  console.log(`seed ${seed}: positive fraction ${(pos / (w * h)).toFixed(3)}`);
  const ox = gap + (k % cols) * (cellW + gap);
  const oy = gap + Math.floor(k / cols) * (h + gap);
  blit(sample, ox, oy, false);
  blit(sample, ox + w + gap, oy, true);
}
console.log(`${count} scenes in ${(performance.now() - started).toFixed(0)} ms`);
await sharp(sheet, { raw: { width: sheetW, height: sheetH, channels: 3 } })
  .png()
  .toFile(values.out ?? '/tmp/synthetic-preview.png');
console.log(`wrote ${values.out}`);
