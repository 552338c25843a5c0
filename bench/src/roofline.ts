/**
 * `bench kernels --plot FILE.svg`: the kernel table as a roofline (Williams, Waterman & Patterson 2009). Each
 * (layer, kernel) row is a point at its arithmetic intensity (FLOP per compulsory byte, the same bytes as the
 * table's GB/s column) against its GFLOP/s, under the adapter's two measured ceilings: the copy bandwidth times
 * the intensity up to the ridge point, then the FMA-loop throughput. A point's distance below the roof is what
 * its kernel leaves on the table; which side of the ridge it sits on says whether bandwidth or arithmetic bounds
 * it. The ceilings are measured loops, not peaks, so points may lie above them (our conv kernels can beat the
 * FMA loop): they are drawn wherever they fall, and the axes stretch to hold them.
 *
 * Hand-written SVG (no plotting library): log-log axes over whole decades, one <title> tooltip per point. The
 * writer is a pure function of its input (tests check coordinates against `logScale` and LAYOUT);
 * the CLI writes it with tensor's `writeFileAtomic`.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** What the plot needs of a bench row (a KernelRow has all of it). */
export interface RooflineRow {
  layer: string;
  kernel: string;
  shape: string;
  flops: number;
  bytes: number;
  timing: { median: number };
}

export interface RooflineInput {
  rows: readonly RooflineRow[];
  /** The measured ceilings (bench `ceiling`); non-finite or ≤ 0 values leave the roof out, with a note. */
  ceiling: { gflops: number; gbps: number; method?: string };
  /** The adapter's name, as the bench prints it. */
  adapter: string;
  /** The host, e.g. `AMD EPYC (2 CPUs)` from os.cpus(). */
  host: string;
  date: Date;
  /** What was measured, e.g. `UNet11 1×3×128×128, medians of 5`. */
  subject?: string;
}

/** Kernel families, each a colour; the order is the legend's. */
export const FAMILIES = [
  'conv3x3 forward',
  'conv3x3 dgrad',
  'conv3x3 wgrad',
  'convTranspose',
  'conv1x1',
  'maxPool',
  'upsample',
  'loss',
  'Adam',
  'other',
] as const;
export type KernelFamily = (typeof FAMILIES)[number];

/** Okabe–Ito's colour-blind-safe palette, then two greys. */
const FAMILY_COLOURS: Record<KernelFamily, string> = {
  'conv3x3 forward': '#0072B2',
  'conv3x3 dgrad': '#56B4E9',
  'conv3x3 wgrad': '#009E73',
  convTranspose: '#D55E00',
  conv1x1: '#CC79A7',
  maxPool: '#E69F00',
  upsample: '#F0E442',
  loss: '#000000',
  Adam: '#7F3C8D',
  other: '#888888',
};

/** The pass a kernel computes; it chooses the marker's shape (colour is the family). */
export type KernelPass = 'forward' | 'dgrad' | 'wgrad' | 'backward' | 'other';
const PASSES: readonly KernelPass[] = ['forward', 'dgrad', 'wgrad', 'backward', 'other'];

export function kernelFamily(kernel: string): KernelFamily {
  if (kernel.startsWith('conv3x3Forward')) return 'conv3x3 forward';
  if (kernel.startsWith('conv3x3Dgrad')) return 'conv3x3 dgrad';
  if (kernel.startsWith('conv3x3Wgrad')) return 'conv3x3 wgrad';
  if (kernel.startsWith('convTranspose')) return 'convTranspose';
  if (kernel.startsWith('conv1x1')) return 'conv1x1';
  if (kernel.startsWith('maxPool')) return 'maxPool';
  if (kernel.startsWith('upsample')) return 'upsample';
  if (/loss|bceJaccard/i.test(kernel)) return 'loss';
  if (/^adam/i.test(kernel)) return 'Adam';
  return 'other';
}

export function kernelPass(kernel: string): KernelPass {
  if (/Forward/.test(kernel)) return 'forward';
  if (/Dgrad/.test(kernel)) return 'dgrad';
  if (/Wgrad/.test(kernel)) return 'wgrad';
  if (/Backward/.test(kernel)) return 'backward';
  return 'other';
}

/**
 * The canvas width, and the plot area's edges in pixels (y grows downwards); the legend sits right of `right`,
 * the notes under `bottom` (the canvas grows with them).
 */
export const LAYOUT = { width: 980, left: 86, right: 716, top: 92, bottom: 568 } as const;

/** A log10 axis: value → pixel, `lo`..`hi` decades onto `from`..`to` pixels. */
export function logScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  return (v) => from + ((Math.log10(v) - lo) / (hi - lo)) * (to - from);
}

export interface PlottedPoint {
  row: RooflineRow;
  family: KernelFamily;
  pass: KernelPass;
  /** FLOP per compulsory byte. */
  intensity: number;
  gflops: number;
  /** Pixel position of the marker's centre. */
  x: number;
  y: number;
}

export interface Roofline {
  svg: string;
  points: PlottedPoint[];
  /** Rows left out, each with why (zero FLOPs, a non-finite time …); counted in a note on the plot. */
  skipped: { row: RooflineRow; reason: string }[];
  /** The axes' bounds, as powers of ten. */
  xDecades: [number, number];
  yDecades: [number, number];
  /** Where bandwidth × intensity meets the compute ceiling; null when the ceilings were not measured. */
  ridge: { intensity: number; gflops: number; x: number; y: number } | null;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Pixel coordinates with two decimals: enough for a screen, short enough to keep the file small. */
const px = (v: number) => String(Math.round(v * 100) / 100);

/** 3 significant digits, without exponent for everyday magnitudes. */
function sig(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

/** A decade's tick label: 0.01, 0.1, 1, 10 … 10000, else 1e5. */
export function decadeLabel(k: number): string {
  if (k >= 0 && k <= 4) return String(10 ** k);
  if (k < 0 && k >= -3) return (10 ** k).toFixed(-k);
  return `1e${k}`;
}

/** Why a row cannot be a point on a log-log plot, or null when it can. */
function rejectReason(r: RooflineRow): string | null {
  const fields: [string, number][] = [
    ['FLOPs', r.flops],
    ['bytes', r.bytes],
    ['median ms', r.timing.median],
  ];
  for (const [name, v] of fields) {
    if (!Number.isFinite(v)) return `${name} = ${v}`;
    if (v <= 0) return `${name} = ${v}`;
  }
  return null;
}

/** The whole decades holding every value, with a little room so no marker sits on an axis. */
function decades(values: readonly number[], fallback: [number, number]): [number, number] {
  if (values.length === 0) return fallback;
  const logs = values.map(Math.log10);
  const lo = Math.floor(Math.min(...logs) - 0.02);
  const hi = Math.ceil(Math.max(...logs) + 0.02);
  return [lo, Math.max(hi, lo + 1)];
}

/** A marker of the pass's shape centred on (0, 0), radius ~4.5 px. */
function marker(pass: KernelPass, fill: string): string {
  const common = `fill="${fill}" fill-opacity="0.85" stroke="#222" stroke-width="0.8"`;
  switch (pass) {
    case 'forward':
      return `<circle r="4.5" ${common}/>`;
    case 'dgrad':
      return `<path d="M0 -5.5L4.8 3L-4.8 3Z" ${common}/>`;
    case 'wgrad':
      return `<rect x="-4" y="-4" width="8" height="8" ${common}/>`;
    case 'backward':
      return `<path d="M0 5.5L4.8 -3L-4.8 -3Z" ${common}/>`;
    case 'other':
      return `<path d="M0 -5.5L5 0L0 5.5L-5 0Z" ${common}/>`;
  }
}

/** The roofline of `input` as an SVG document (standalone, UTF-8), with the geometry it used. */
export function rooflineSvg(input: RooflineInput): Roofline {
  const { left, right, top, bottom, width } = LAYOUT;
  const skipped: Roofline['skipped'] = [];
  const kept: { row: RooflineRow; intensity: number; gflops: number }[] = [];
  for (const row of input.rows) {
    const reason = rejectReason(row);
    if (reason) skipped.push({ row, reason });
    else kept.push({ row, intensity: row.flops / row.bytes, gflops: row.flops / row.timing.median / 1e6 });
  }
  const P = input.ceiling.gflops;
  const B = input.ceiling.gbps;
  const hasRoof = Number.isFinite(P) && Number.isFinite(B) && P > 0 && B > 0;
  const ridgeIntensity = hasRoof ? P / B : Number.NaN;

  const xDecades = decades([...kept.map((k) => k.intensity), ...(hasRoof ? [ridgeIntensity] : [])], [-1, 3]);
  const yDecades = decades([...kept.map((k) => k.gflops), ...(hasRoof ? [P] : [])], [-1, 2]);
  const sx = logScale(xDecades[0], xDecades[1], left, right);
  const sy = logScale(yDecades[0], yDecades[1], bottom, top);
  const [xMin, xMax] = [10 ** xDecades[0], 10 ** xDecades[1]];
  const yMin = 10 ** yDecades[0];

  const out: string[] = [];
  // Grid, ticks and tick labels: a line per decade, short ticks at 2..9 × each decade.
  out.push('<g class="axes" stroke="#000" stroke-width="1">');
  for (let k = xDecades[0]; k <= xDecades[1]; k++) {
    const x = px(sx(10 ** k));
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 6}"/>`);
    if (k < xDecades[1]) {
      for (let m = 2; m <= 9; m++) {
        const xm = px(sx(m * 10 ** k));
        out.push(`<line x1="${xm}" y1="${bottom}" x2="${xm}" y2="${bottom + 3}"/>`);
      }
    }
  }
  for (let k = yDecades[0]; k <= yDecades[1]; k++) {
    const y = px(sy(10 ** k));
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<line x1="${left - 6}" y1="${y}" x2="${left}" y2="${y}"/>`);
    if (k < yDecades[1]) {
      for (let m = 2; m <= 9; m++) {
        const ym = px(sy(m * 10 ** k));
        out.push(`<line x1="${left - 3}" y1="${ym}" x2="${left}" y2="${ym}"/>`);
      }
    }
  }
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels" fill="#000">');
  for (let k = xDecades[0]; k <= xDecades[1]; k++) {
    out.push(`<text x="${px(sx(10 ** k))}" y="${bottom + 20}" text-anchor="middle">${decadeLabel(k)}</text>`);
  }
  for (let k = yDecades[0]; k <= yDecades[1]; k++) {
    out.push(`<text x="${left - 10}" y="${px(sy(10 ** k) + 4)}" text-anchor="end">${decadeLabel(k)}</text>`);
  }
  out.push('</g>');
  out.push(
    `<text class="axis-title" x="${(left + right) / 2}" y="${bottom + 44}" text-anchor="middle">` +
      'arithmetic intensity (FLOP per compulsory byte: each operand read or written once)</text>',
    `<text class="axis-title" transform="translate(${left - 52} ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">` +
      'GFLOP/s (at the median time)</text>',
  );

  // The roof: from where the bandwidth line enters the plot (left edge, or the floor if it enters lower), to the
  // ridge, then flat to the right edge. Both ceilings lie inside the axes' range by construction.
  let ridge: Roofline['ridge'] = null;
  // The ceilings' labels have a white halo that clears grid and roof lines; the points are drawn over them, so
  // none is hidden where they crowd the roof.
  const roofLabels: string[] = [];
  const halo = 'stroke="#fff" stroke-width="3.5" stroke-linejoin="round" paint-order="stroke"';
  if (hasRoof) {
    const start = Math.max(xMin, yMin / B);
    ridge = { intensity: ridgeIntensity, gflops: P, x: sx(ridgeIntensity), y: sy(P) };
    const vertices: [number, number][] = [
      [sx(start), sy(B * start)],
      [ridge.x, ridge.y],
      [sx(xMax), sy(P)],
    ];
    out.push(
      `<polyline class="roofline" points="${vertices.map(([x, y]) => `${px(x)},${px(y)}`).join(' ')}" ` +
        'fill="none" stroke="#c00" stroke-width="2.5" stroke-linejoin="round"/>',
    );
    out.push(
      `<line class="ridge" x1="${px(ridge.x)}" y1="${px(ridge.y)}" x2="${px(ridge.x)}" y2="${bottom}" ` +
        'stroke="#c00" stroke-width="1" stroke-dasharray="4 3"/>',
    );
    roofLabels.push(
      `<text x="${px(ridge.x + 4)}" y="${bottom - 6}" fill="#c00" font-size="11" ${halo}>${escapeXml(`ridge ${sig(ridgeIntensity)} FLOP/B`)}</text>`,
    );
    const method = input.ceiling.method ? `, ${input.ceiling.method}` : '';
    roofLabels.push(
      `<text class="compute-ceiling" x="${right - 6}" y="${px(ridge.y - 7)}" text-anchor="end" fill="#c00" ${halo}>` +
        `${escapeXml(`compute ceiling ${sig(P)} GFLOP/s (register FMA loop${method})`)}</text>`,
    );
    // The bandwidth label runs along the slope, at its middle, rotated to the slope's angle in pixels.
    const [[x0, y0], [x1, y1]] = vertices as [[number, number], [number, number]];
    const angle = (Math.atan2(y1 - y0, x1 - x0) * 180) / Math.PI;
    const midX = (x0 + x1) / 2;
    const midY = (y0 + y1) / 2;
    roofLabels.push(
      `<text class="bandwidth-ceiling" transform="translate(${px(midX)} ${px(midY)}) rotate(${px(angle)})" ` +
        `y="-7" text-anchor="middle" fill="#c00" ${halo}>${escapeXml(`bandwidth ${sig(B)} GB/s (vec4 copy)`)}</text>`,
    );
  }

  // Labels never take the hover from a point beneath them.
  out.push('<g class="roof-labels" pointer-events="none">', ...roofLabels, '</g>');

  // The points: conv kernels are long and few; memory-bound kernels cluster bottom left. Drawn in row order.
  const points: PlottedPoint[] = [];
  out.push('<g class="points">');
  for (const k of kept) {
    const family = kernelFamily(k.row.kernel);
    const pass = kernelPass(k.row.kernel);
    const point: PlottedPoint = { ...k, family, pass, x: sx(k.intensity), y: sy(k.gflops) };
    points.push(point);
    const roof = hasRoof ? Math.min(P, B * k.intensity) : Number.NaN;
    const ofRoof = hasRoof ? `, ${sig((100 * k.gflops) / roof)} % of the roof` : '';
    const tip =
      `${k.row.layer} · ${k.row.kernel} · ${k.row.shape}\n` +
      `${sig(k.row.timing.median)} ms, ${sig(k.gflops)} GFLOP/s, ${sig(k.row.bytes / k.row.timing.median / 1e6)} GB/s, ` +
      `${sig(k.intensity)} FLOP/B${ofRoof}`;
    out.push(
      `<g class="point" data-layer="${escapeXml(k.row.layer)}" data-kernel="${escapeXml(k.row.kernel)}" ` +
        `transform="translate(${px(point.x)} ${px(point.y)})"><title>${escapeXml(tip)}</title>` +
        `${marker(pass, FAMILY_COLOURS[family])}</g>`,
    );
  }
  out.push('</g>');

  // Legend: colours for the families present, shapes for the passes present.
  const legendX = right + 24;
  let ly = top + 6;
  out.push('<g class="legend">');
  out.push(`<text x="${legendX}" y="${ly}" font-weight="bold">kernel family</text>`);
  const families = FAMILIES.filter((f) => points.some((p) => p.family === f));
  for (const f of families) {
    ly += 20;
    out.push(
      `<g transform="translate(${legendX + 6} ${ly - 4})">${marker('forward', FAMILY_COLOURS[f])}</g>`,
      `<text x="${legendX + 18}" y="${ly}">${escapeXml(f)}</text>`,
    );
  }
  const passes = PASSES.filter((p) => points.some((q) => q.pass === p));
  if (passes.length > 0) {
    ly += 34;
    out.push(`<text x="${legendX}" y="${ly}" font-weight="bold">pass</text>`);
    for (const p of passes) {
      ly += 20;
      out.push(
        `<g transform="translate(${legendX + 6} ${ly - 4})">${marker(p, '#ffffff')}</g>`,
        `<text x="${legendX + 18}" y="${ly}">${p}</text>`,
      );
    }
  }
  if (hasRoof) {
    ly += 34;
    out.push(
      `<line x1="${legendX}" y1="${ly - 4}" x2="${legendX + 12}" y2="${ly - 4}" stroke="#c00" stroke-width="2.5"/>`,
      `<text x="${legendX + 18}" y="${ly}">measured roof</text>`,
    );
  }
  out.push('</g>');

  // Notes under the axis title: what was left out, and why the roof may be missing or beaten.
  const notes: string[] = [];
  notes.push(
    `${points.length} point${points.length === 1 ? '' : 's'}; hover one for its layer, kernel, shape, time and rates.`,
  );
  if (hasRoof && points.some((p) => p.gflops > Math.min(P, B * p.intensity))) {
    notes.push('The ceilings are measured loops, not peaks: points above the roof beat them.');
  }
  if (!hasRoof) {
    notes.push(`No roof: the ceilings were not measured (${sig(P)} GFLOP/s, ${sig(B)} GB/s).`);
  }
  if (skipped.length > 0) {
    // A line per row (the first few): one line of names would run off the canvas.
    notes.push(`${skipped.length} row${skipped.length === 1 ? '' : 's'} not plotted (zero or non-finite values):`);
    for (const s of skipped.slice(0, 3)) notes.push(`· ${s.row.layer} ${s.row.kernel} ${s.row.shape} (${s.reason})`);
    if (skipped.length > 3) notes.push(`· and ${skipped.length - 3} more (all rows are in the table and the JSON)`);
  }
  out.push('<g class="notes" font-size="11" fill="#444">');
  notes.forEach((n, i) => {
    out.push(`<text class="note" x="${left}" y="${bottom + 66 + 14 * i}">${escapeXml(n)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');

  const head: string[] = [];
  const height = bottom + 66 + 14 * notes.length + 6;
  head.push('<?xml version="1.0" encoding="UTF-8"?>');
  head.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  const subject = input.subject ? ` — ${input.subject}` : '';
  head.push(`<title>${escapeXml(`Roofline: bench kernels${subject}`)}</title>`);
  head.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  head.push(
    `<text class="title" x="${left}" y="30" font-size="17" font-weight="bold">${escapeXml(`Roofline: bench kernels${subject}`)}</text>`,
  );
  const when = input.date.toISOString().replace('T', ' ').slice(0, 16);
  head.push(
    `<text class="subtitle" x="${left}" y="52" fill="#333">${escapeXml(`adapter: ${input.adapter}`)}</text>`,
    `<text class="subtitle" x="${left}" y="70" fill="#333">${escapeXml(`host: ${input.host} · ${when} UTC`)}</text>`,
  );

  return { svg: `${[...head, ...out].join('\n')}\n`, points, skipped, xDecades, yDecades, ridge };
}

function requireFolder(abs: string, option: string): void {
  const folder = dirname(abs);
  let isFolder = false;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    // missing: reported below
  }
  if (!isFolder) {
    throw new Error(`${option}the folder '${folder}' does not exist; create it (mkdir -p) or choose another path`);
  }
}

/**
 * Checks `--plot FILE` before a long benchmark runs, so that it does not end in an unwritable path: an .svg name
 * in an existing folder. Returns the absolute path.
 */
export function checkPlotPath(file: string): string {
  const abs = resolve(file);
  if (!/\.svg$/i.test(abs)) throw new RangeError(`--plot: '${file}' should end in .svg (the plot is an SVG file)`);
  requireFolder(abs, '--plot: ');
  return abs;
}
