/**
 * The results folder of `reproduce`: a table (markdown + JSON) next to the paper's numbers, a plot of validation
 * Jaccard vs epoch for the three schemes (the paper's Fig. 3; SVG and PNG), and mask overlays for a validation
 * image (the paper's Fig. 4: ground truth and each scheme's prediction in green over the image; PNG).
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic, writeJsonAtomic } from './files.ts';
import type { EpochRecord } from './trainer.ts';

/** The paper's validation IoU (Table I) per scheme. */
export const PAPER_IOU: Record<string, number> = { lecun: 0.593, imagenet: 0.686, pretrained: 0.687 };

export const SCHEME_TITLES: Record<string, string> = {
  lecun: 'LeCun uniform',
  imagenet: 'VGG11 ImageNet encoder',
  pretrained: 'Pre-trained on Carvana',
};

const COLORS: Record<string, string> = { lecun: '#1f77b4', imagenet: '#d62728', pretrained: '#2ca02c' };

export interface SchemeResult {
  scheme: string;
  /** Present when the scheme was trained. */
  history?: EpochRecord[];
  /** Why the scheme was not run (e.g. no VGG11 weight file). */
  skipped?: string;
  /** Extra notes (e.g. what the network was pre-trained on). */
  note?: string;
}

function bestOf(h: readonly EpochRecord[]): EpochRecord {
  return h.reduce((b, r) => (r.valIoU > b.valIoU ? r : b));
}

export function resultsTable(results: readonly SchemeResult[], context: string): { markdown: string; json: unknown } {
  const rows = results.map((r) => {
    const h = r.history;
    const final = h?.[h.length - 1];
    const best = h?.length ? bestOf(h) : undefined;
    return {
      scheme: r.scheme,
      title: SCHEME_TITLES[r.scheme] ?? r.scheme,
      finalValIoU: final?.valIoU ?? null,
      finalValIoUGlobal: final?.valIoUGlobal ?? null,
      bestValIoU: best?.valIoU ?? null,
      bestEpoch: best?.epoch ?? null,
      epochs: h?.length ?? 0,
      paperValIoU: PAPER_IOU[r.scheme] ?? null,
      skipped: r.skipped ?? null,
      note: r.note ?? null,
    };
  });
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const lines = [
    `# TernausNet reproduction: validation IoU by initialisation`,
    '',
    context,
    '',
    '| scheme | final val IoU | best val IoU (epoch) | final global IoU | paper | notes |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.title} (\`${r.scheme}\`) | ${f(r.finalValIoU)} | ${r.bestValIoU === null ? '–' : `${f(r.bestValIoU)} (${r.bestEpoch})`} | ${f(r.finalValIoUGlobal)} | ${f(r.paperValIoU)} | ${r.skipped ? `skipped: ${r.skipped}` : (r.note ?? '')} |`,
    ),
    '',
    'IoU: mean over validation images of the per-image Jaccard index of masks binarised at probability 0.3; ' +
      'global IoU: total intersection over total union of the validation set. Paper: Iglovikov & Shvets (2018), ' +
      'Inria Aerial Image Labeling, 768×768 training crops, 1440×1440 validation crops.',
    '',
  ];
  return { markdown: lines.join('\n'), json: { context, rows } };
}

/** SVG line chart of validation IoU per epoch, one line per trained scheme. */
export function jaccardPlotSvg(
  results: readonly SchemeResult[],
  title = 'Validation Jaccard index (IoU) vs epoch',
): string {
  const W = 720;
  const H = 440;
  const m = { left: 64, right: 200, top: 48, bottom: 56 };
  const trained = results.filter((r) => r.history?.length);
  const maxEpoch = Math.max(1, ...trained.map((r) => r.history!.length));
  const values = trained.flatMap((r) => r.history!.map((h) => h.valIoU)).filter(Number.isFinite);
  const yMax = Math.min(1, Math.max(0.1, Math.ceil((Math.max(0, ...values) + 0.05) * 10) / 10));
  const px = (e: number) =>
    m.left + ((e - (maxEpoch > 1 ? 1 : 0)) / Math.max(1, maxEpoch - 1)) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - (v / yMax) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(W - m.right + m.left) / 2}" y="28" font-size="16" text-anchor="middle">${title}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`,
      `<text x="${m.left - 8}" y="${py(v) + 4}" font-size="12" text-anchor="end">${v.toFixed(2)}</text>`,
    );
  }
  const ticks = Math.min(maxEpoch, 10);
  for (let i = 0; i < ticks; i++) {
    const e = maxEpoch === 1 ? 1 : Math.round(1 + (i * (maxEpoch - 1)) / Math.max(1, ticks - 1));
    parts.push(`<text x="${px(e)}" y="${H - m.bottom + 18}" font-size="12" text-anchor="middle">${e}</text>`);
  }
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="black"/>`,
    `<text x="${(W - m.right + m.left) / 2}" y="${H - 16}" font-size="13" text-anchor="middle">epoch</text>`,
    `<text x="18" y="${(H - m.bottom + m.top) / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 18 ${(H - m.bottom + m.top) / 2})">validation IoU</text>`,
  );
  trained.forEach((r, k) => {
    const color = COLORS[r.scheme] ?? '#555';
    const pts = r.history!.map((h) => `${px(h.epoch).toFixed(1)},${py(Math.max(0, h.valIoU)).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [x, y] = p.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
    }
    const ly = m.top + 20 + k * 22;
    parts.push(
      `<line x1="${W - m.right + 16}" x2="${W - m.right + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${W - m.right + 46}" y="${ly + 4}" font-size="12">${SCHEME_TITLES[r.scheme] ?? r.scheme}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface OverlayPanel {
  title: string;
  /** H·W values, 1 = building. */
  mask: ArrayLike<number>;
}

/** Side-by-side panels: the image with each mask in translucent green (like the paper's Fig. 4). */
export async function overlayPng(
  image: { data: Uint8Array; width: number; height: number },
  panels: readonly OverlayPanel[],
  maxSide = 384,
): Promise<Buffer> {
  const { width: w, height: h } = image;
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const pw = Math.max(1, Math.round(w * scale));
  const ph = Math.max(1, Math.round(h * scale));
  const titleH = 28;
  const tiles = await Promise.all(
    panels.map(async (p) => {
      const rgb = Buffer.alloc(w * h * 3);
      for (let i = 0; i < w * h; i++) {
        const on = p.mask[i]! > 0.5;
        for (let c = 0; c < 3; c++) {
          const v = image.data[i * 3 + c]!;
          // Green at 55 % opacity over building pixels.
          rgb[i * 3 + c] = on ? Math.round(v * 0.45 + (c === 1 ? 255 : 0) * 0.55) : v;
        }
      }
      return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .resize(pw, ph)
        .png()
        .toBuffer();
    }),
  );
  const gap = 8;
  const total = panels.length * pw + (panels.length - 1) * gap;
  const labels = `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${titleH}">${panels
    .map(
      (p, i) =>
        `<text x="${i * (pw + gap) + pw / 2}" y="20" font-size="14" font-family="DejaVu Sans, Arial, sans-serif" text-anchor="middle">${p.title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    )
    .join('')}</svg>`;
  return sharp({ create: { width: total, height: ph + titleH, channels: 3, background: '#ffffff' } })
    .composite([
      { input: Buffer.from(labels), left: 0, top: 0 },
      ...tiles.map((t, i) => ({ input: t, left: i * (pw + gap), top: titleH })),
    ])
    .png()
    .toBuffer();
}

/** Write the table, plot (SVG + PNG) and, if given, overlays into `dir`. Returns the paths written. */
export async function writeReport(
  dir: string,
  results: readonly SchemeResult[],
  context: string,
  overlay?: Buffer,
): Promise<string[]> {
  const table = resultsTable(results, context);
  const paths = {
    md: join(dir, 'results.md'),
    json: join(dir, 'results.json'),
    svg: join(dir, 'val_iou.svg'),
    png: join(dir, 'val_iou.png'),
    overlay: join(dir, 'overlays.png'),
  };
  writeFileAtomic(paths.md, table.markdown);
  writeJsonAtomic(paths.json, { ...(table.json as object), histories: results });
  const svg = jaccardPlotSvg(results);
  writeFileAtomic(paths.svg, svg);
  writeFileAtomic(paths.png, await sharp(Buffer.from(svg)).png().toBuffer());
  const written = [paths.md, paths.json, paths.svg, paths.png];
  if (overlay) {
    writeFileAtomic(paths.overlay, overlay);
    written.push(paths.overlay);
  }
  return written;
}
