/**
 * The results folder of `reproduce`: a table (markdown + JSON) next to the paper's numbers, a plot of validation
 * Jaccard vs epoch for the three schemes (the paper's Fig. 3; SVG and PNG), and mask overlays for a validation
 * image (the paper's Fig. 4: ground truth and each scheme's prediction in green over the image; PNG).
 */
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '@ternausnet/model';
import sharp from 'sharp';
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
  /** The table's and the legend's name for the scheme (default SCHEME_TITLES). */
  title?: string;
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

const titleOf = (r: SchemeResult) => r.title ?? SCHEME_TITLES[r.scheme] ?? r.scheme;

/**
 * What the run shows, in words: which scheme ends best and by how much, whether the paper's ordering (both
 * pre-trained schemes ahead of LeCun) holds at the end and at the first evaluation, and any constant mask.
 */
export function verdict(results: readonly SchemeResult[]): string {
  const trained = results.filter((r) => r.history?.length);
  if (trained.length === 0) return 'No scheme was trained.';
  const final = (r: SchemeResult) => r.history!.at(-1)!.valIoU;
  const sorted = [...trained].sort((a, b) => final(b) - final(a));
  const [first, second] = sorted;
  const parts = [
    second
      ? `${titleOf(first!)} ends best (val IoU ${final(first!).toFixed(3)}), ${(final(first!) - final(second)).toFixed(3)} ahead of ${titleOf(second)} (${final(second).toFixed(3)}).`
      : `${titleOf(first!)} ends at val IoU ${final(first!).toFixed(3)}.`,
  ];
  const lecun = trained.find((r) => r.scheme === 'lecun');
  const pre = trained.filter((r) => r.scheme !== 'lecun');
  if (lecun && pre.length) {
    const ahead = (at: (r: SchemeResult) => number) => pre.every((r) => at(r) > at(lecun));
    const firstEval = (r: SchemeResult) => r.history![0]!.valIoU;
    const names = pre.map(titleOf).join(' and ');
    parts.push(
      `The paper's ordering — ${names} ahead of LeCun uniform — ${ahead(final) ? 'holds' : 'does not hold'} at the end ` +
        `and ${ahead(firstEval) ? 'holds' : 'does not hold'} at the first evaluation (step ${lecun.history![0]!.step ?? '?'}: ` +
        `${[lecun, ...pre].map((r) => `${r.scheme} ${firstEval(r).toFixed(3)}`).join(', ')}).`,
    );
  }
  for (const r of trained) {
    const last = r.history!.at(-1)!;
    const p = last.valPredictedFraction;
    if (p !== undefined && (p < 0.001 || p > 0.999)) {
      parts.push(`${titleOf(r)} ends on a constant mask (${(100 * p).toFixed(1)} % predicted positive).`);
    }
  }
  return parts.join(' ');
}

export function resultsTable(results: readonly SchemeResult[], context: string): { markdown: string; json: unknown } {
  const rows = results.map((r) => {
    const h = r.history;
    const final = h?.[h.length - 1];
    const best = h?.length ? bestOf(h) : undefined;
    return {
      scheme: r.scheme,
      title: titleOf(r),
      finalValIoU: final?.valIoU ?? null,
      finalValIoUGlobal: final?.valIoUGlobal ?? null,
      finalPredictedFraction: final?.valPredictedFraction ?? null,
      trueFraction: final?.valTrueFraction ?? null,
      steps: final?.step ?? null,
      bestValIoU: best?.valIoU ?? null,
      bestEpoch: best?.epoch ?? null,
      epochs: h?.length ?? 0,
      paperValIoU: PAPER_IOU[r.scheme] ?? null,
      skipped: r.skipped ?? null,
      note: r.note ?? null,
    };
  });
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)} %`);
  const summary = verdict(results);
  const lines = [
    `# TernausNet reproduction: validation IoU by initialisation`,
    '',
    context,
    '',
    '| scheme | final val IoU | best val IoU (epoch) | final global IoU | predicted / true positive | Adam steps | paper | notes |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.title} (\`${r.scheme}\`) | ${f(r.finalValIoU)} | ${r.bestValIoU === null ? '–' : `${f(r.bestValIoU)} (${r.bestEpoch})`} | ${f(r.finalValIoUGlobal)} | ${pct(r.finalPredictedFraction)} / ${pct(r.trueFraction)} | ${r.steps ?? '–'} | ${f(r.paperValIoU)} | ${r.skipped ? `skipped: ${r.skipped}` : (r.note ?? '')} |`,
    ),
    '',
    summary,
    '',
    'IoU: mean over validation images of the per-image Jaccard index of masks binarised at probability 0.3; ' +
      'global IoU: total intersection over total union of the validation set. Paper: Iglovikov & Shvets (2018), ' +
      'Inria Aerial Image Labeling, 768×768 training crops, 1440×1440 validation crops.',
    '',
  ];
  return { markdown: lines.join('\n'), json: { context, verdict: summary, rows } };
}

/** The x coordinate of an epoch record: its Adam step count (records written before steps were kept: the epoch). */
const xOf = (h: EpochRecord) => h.step ?? h.epoch;

/** SVG line chart of validation IoU against Adam steps, one line per trained scheme (the paper's Fig. 3). */
export function jaccardPlotSvg(
  results: readonly SchemeResult[],
  title = 'Validation Jaccard index (IoU) during training',
): string {
  const W = 760;
  const H = 440;
  const m = { left: 64, right: 250, top: 48, bottom: 56 };
  const trained = results.filter((r) => r.history?.length);
  const bySteps = trained.every((r) => r.history!.every((h) => h.step !== undefined));
  const xMax = Math.max(1, ...trained.flatMap((r) => r.history!.map(xOf)));
  const values = trained.flatMap((r) => r.history!.map((h) => h.valIoU)).filter(Number.isFinite);
  const yMax = Math.min(1, Math.max(0.1, Math.ceil((Math.max(0, ...values) + 0.05) * 10) / 10));
  const px = (x: number) => m.left + (x / xMax) * (W - m.left - m.right);
  const py = (v: number) => H - m.bottom - (v / yMax) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(W - m.right + m.left) / 2}" y="28" font-size="16" text-anchor="middle">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`,
      `<text x="${m.left - 8}" y="${py(v) + 4}" font-size="12" text-anchor="end">${v.toFixed(2)}</text>`,
    );
  }
  // Round tick steps (1, 2 or 5 × 10^k), about six of them.
  const raw = xMax / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const tick = [1, 2, 5, 10].map((k) => k * mag).find((t) => t >= raw) ?? raw;
  for (let x = 0; x <= xMax + 1e-9; x += tick) {
    parts.push(
      `<text x="${px(x)}" y="${H - m.bottom + 18}" font-size="12" text-anchor="middle">${Math.round(x)}</text>`,
    );
  }
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="black"/>`,
    `<text x="${(W - m.right + m.left) / 2}" y="${H - 16}" font-size="13" text-anchor="middle">${bySteps ? 'Adam steps' : 'epoch'}</text>`,
    `<text x="18" y="${(H - m.bottom + m.top) / 2}" font-size="13" text-anchor="middle" transform="rotate(-90 18 ${(H - m.bottom + m.top) / 2})">validation IoU</text>`,
  );
  let ly = m.top + 20;
  trained.forEach((r) => {
    const color = COLORS[r.scheme] ?? '#555';
    const pts = r.history!.map((h) => `${px(xOf(h)).toFixed(1)},${py(Math.max(0, h.valIoU)).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [x, y] = p.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
    }
    const final = r.history!.at(-1)!.valIoU;
    const lines = wrap(titleOf(r), 30);
    parts.push(
      `<line x1="${W - m.right + 16}" x2="${W - m.right + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      ...lines.map(
        (line, i) => `<text x="${W - m.right + 46}" y="${ly + 4 + i * 14}" font-size="12">${escapeXml(line)}</text>`,
      ),
      `<text x="${W - m.right + 46}" y="${ly + 4 + 14 * lines.length}" font-size="11" fill="#555">final ${final.toFixed(3)}</text>`,
    );
    ly += 14 * lines.length + 26;
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escapeXml(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Greedy word wrap at `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export interface OverlayPanel {
  title: string;
  /** Its colour in the plot's legend. */
  scheme?: string;
  /** H·W values, 1 = building. */
  mask: ArrayLike<number>;
}

/** Overlay colours: what each pixel class of a predicted mask means against the ground truth. */
const OVERLAY = {
  truth: [255, 214, 0],
  hit: [0, 200, 60],
  falsePositive: [230, 0, 200],
  miss: [0, 150, 255],
} as const;

/**
 * The paper's Fig. 4, legible: the validation image, its ground truth (yellow), and each scheme's mask coloured
 * against the truth — correct building pixels green, false alarms magenta, missed buildings blue — with the
 * image's IoU in each title and a legend underneath.
 */
export async function overlayPng(
  image: { data: Uint8Array; width: number; height: number },
  truth: ArrayLike<number>,
  panels: readonly OverlayPanel[],
  maxSide = 320,
): Promise<Buffer> {
  const { width: w, height: h } = image;
  // Large crops are shrunk to maxSide; small ones enlarged by a whole factor (nearest neighbour) to be legible.
  const side = Math.max(w, h);
  const scale = side > maxSide ? maxSide / side : Math.max(1, Math.round(256 / side));
  const pw = Math.max(1, Math.round(w * scale));
  const ph = Math.max(1, Math.round(h * scale));
  const titleH = 52;
  const legendH = 30;
  const tint = (i: number, c: number, colour: readonly number[]) =>
    Math.round(image.data[i * 3 + c]! * 0.35 + colour[c]! * 0.65);
  const render = (mask: ArrayLike<number> | null, withTruth: boolean) => {
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const t = truth[i]! > 0.5;
      const p = mask ? mask[i]! > 0.5 : false;
      const colour = mask ? (p && t ? OVERLAY.hit : p ? OVERLAY.falsePositive : t ? OVERLAY.miss : null) : null;
      const c3 = colour ?? (withTruth && t ? OVERLAY.truth : null);
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = c3 ? tint(i, c, c3) : image.data[i * 3 + c]!;
    }
    return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .resize(pw, ph, { kernel: scale > 1 ? 'nearest' : 'lanczos3' })
      .png()
      .toBuffer();
  };
  const iouOf = (mask: ArrayLike<number>) => {
    let inter = 0;
    let union = 0;
    for (let i = 0; i < w * h; i++) {
      const t = truth[i]! > 0.5;
      const p = mask[i]! > 0.5;
      if (t && p) inter++;
      if (t || p) union++;
    }
    return union === 0 ? 1 : inter / union;
  };
  const all = [
    { title: 'Image', sub: `${w}×${h} validation crop`, tile: await render(null, false) },
    { title: 'Ground truth', sub: 'buildings', tile: await render(null, true) },
    ...(await Promise.all(
      panels.map(async (p) => ({
        title: p.title,
        sub: `IoU ${iouOf(p.mask).toFixed(3)}`,
        tile: await render(p.mask, false),
      })),
    )),
  ];
  const gap = 10;
  const total = all.length * pw + (all.length - 1) * gap;
  const text = (x: number, y: number, t: string, size: number, extra = '') =>
    `<text x="${x}" y="${y}" font-size="${size}" font-family="DejaVu Sans, Arial, sans-serif" ${extra}>${escapeXml(t)}</text>`;
  const titles = all
    .map((p, i) => {
      const cx = i * (pw + gap) + pw / 2;
      const lines = wrap(p.title, Math.max(12, Math.floor(pw / 8)));
      const head = lines
        .slice(0, 2)
        .map((l, k) => text(cx, 15 + k * 14, l, 13, 'text-anchor="middle" font-weight="bold"'))
        .join('');
      return head + text(cx, 46, p.sub, 11, 'text-anchor="middle" fill="#444"');
    })
    .join('');
  const legendItems: [string, readonly number[]][] = [
    ['ground truth', OVERLAY.truth],
    ['predicted and true', OVERLAY.hit],
    ['false alarm', OVERLAY.falsePositive],
    ['missed', OVERLAY.miss],
  ];
  const legend = legendItems
    .map(([label, c], k) => {
      const x = 8 + k * 170;
      return `<rect x="${x}" y="8" width="16" height="16" fill="rgb(${c.join(',')})"/>` + text(x + 22, 21, label, 12);
    })
    .join('');
  const labels = `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${titleH}">${titles}</svg>`;
  const legendSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(total, 690)}" height="${legendH}">${legend}</svg>`;
  const width = Math.max(total, 690);
  return sharp({ create: { width, height: titleH + ph + legendH, channels: 3, background: '#ffffff' } })
    .composite([
      { input: Buffer.from(labels), left: 0, top: 0 },
      ...all.map((p, i) => ({ input: p.tile, left: i * (pw + gap), top: titleH })),
      { input: Buffer.from(legendSvg), left: 0, top: titleH + ph },
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
