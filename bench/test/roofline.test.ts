/**
 * The roofline SVG writer on synthetic rows (no GPU): the document parses as XML, points sit at the log
 * coordinates the axes promise, the roof turns at the ridge, points above a ceiling are drawn, bad rows are
 * counted and named; the file is written atomically; the CLI checks --plot before it benchmarks, and one toy
 * run draws a plot end to end.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@ternausnet/tensor/node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkPlotPath,
  decadeLabel,
  kernelFamily,
  kernelPass,
  LAYOUT,
  logScale,
  type RooflineInput,
  type RooflineRow,
  rooflineSvg,
} from '../src/roofline.ts';

// ---- a tiny XML checker: enough of XML 1.0 to catch what a hand-written SVG writer gets wrong ----

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The decoded text directly inside this element. */
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(raw: string, where: string): string {
  return raw.replace(/&([^;\s<&]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new Error(`bare '&' in ${where}: ${raw}`);
    if (name in ENTITIES) return ENTITIES[name]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (num) return String.fromCodePoint(Number(name[1] === 'x' ? `0${name.slice(1)}` : name.slice(1)));
    throw new Error(`unknown entity &${name}; in ${where}`);
  });
}

/** Parses `text` into its root element; throws on unbalanced tags, bad attributes, raw '<' or '&'. */
function parseXml(text: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const NAME = /[A-Za-z_][\w.:-]*/y;
  const readName = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) throw new Error(`expected a name at ${i}: ${text.slice(i, i + 30)}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  if (text.startsWith('<?xml')) i = text.indexOf('?>') + 2;
  while (i < text.length) {
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (text.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (text[i] !== '>') throw new Error(`junk in the end tag </${name}`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}>`);
    } else if (text[i] === '<') {
      i++;
      const el: XmlElement = { name: readName(), attrs: {}, children: [], text: '' };
      for (;;) {
        const before = i;
        skipSpace();
        if (text.startsWith('/>', i) || text[i] === '>') break;
        if (i === before) throw new Error(`no space before an attribute of <${el.name}> at ${i}`);
        const attr = readName();
        if (attr in el.attrs) throw new Error(`duplicate attribute ${attr} on <${el.name}>`);
        if (text[i] !== '=' || (text[i + 1] !== '"' && text[i + 1] !== "'")) {
          throw new Error(`attribute ${attr} of <${el.name}> is not name="value"`);
        }
        const quote = text[i + 1]!;
        const end = text.indexOf(quote, i + 2);
        const raw = text.slice(i + 2, end);
        if (end < 0 || raw.includes('<')) throw new Error(`bad value of ${attr} on <${el.name}>`);
        el.attrs[attr] = decode(raw, `${el.name}@${attr}`);
        i = end + 1;
      }
      const parent = stack.at(-1);
      if (parent) parent.children.push(el);
      else if (root) throw new Error(`a second root element <${el.name}>`);
      else root = el;
      if (text.startsWith('/>', i)) i += 2;
      else {
        i++;
        stack.push(el);
      }
    } else {
      const end = text.indexOf('<', i);
      const raw = text.slice(i, end < 0 ? text.length : end);
      const parent = stack.at(-1);
      if (!parent) {
        if (raw.trim()) throw new Error(`text outside the root: ${raw.trim().slice(0, 30)}`);
      } else parent.text += decode(raw, `<${parent.name}> text`);
      i = end < 0 ? text.length : end;
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.map((e) => e.name).join('> <')}>`);
  if (!root) throw new Error('no root element');
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean, found: XmlElement[] = []): XmlElement[] {
  if (pred(el)) found.push(el);
  for (const c of el.children) all(c, pred, found);
  return found;
}
const byClass = (root: XmlElement, cls: string) => all(root, (e) => (e.attrs.class ?? '').split(' ').includes(cls));
/** Every text inside `el`, depth first. */
const textOf = (el: XmlElement): string => el.text + el.children.map(textOf).join('');

function translateOf(el: XmlElement): [number, number] {
  const m = /^translate\(([-\d.e]+) ([-\d.e]+)\)$/.exec(el.attrs.transform ?? '');
  if (!m) throw new Error(`no translate in ${el.attrs.transform}`);
  return [Number(m[1]), Number(m[2])];
}

describe('the XML checker the tests rely on', () => {
  it('accepts well-formed documents and rejects the mistakes a writer makes', () => {
    const ok = parseXml('<?xml version="1.0"?>\n<a x="1 &lt; 2"><b/>t &amp; u<c y=\'&#65;\'></c></a>\n');
    expect(ok.attrs.x).toBe('1 < 2');
    expect(ok.text).toBe('t & u');
    expect(ok.children.map((c) => c.name)).toEqual(['b', 'c']);
    expect(ok.children[1]!.attrs.y).toBe('A');
    for (const bad of [
      '<a><b></a></b>',
      '<a>',
      '<a x=1/>',
      '<a x="1" x="2"/>',
      '<a>x & y</a>',
      '<a x="<"/>',
      '<a/><b/>',
    ]) {
      expect(() => parseXml(bad), bad).toThrow();
    }
  });
});

// ---- the writer ----

/** Ceilings with a round ridge: 20 GFLOP/s ÷ 4 GB/s = 5 FLOP/byte. */
const CEILING = { gflops: 20, gbps: 4, method: 'gpu-timestamp' };

const row = (layer: string, kernel: string, flops: number, bytes: number, ms: number): RooflineRow => ({
  layer,
  kernel,
  shape: `1x[64]x32x32->128`,
  flops,
  bytes,
  timing: { median: ms },
});

/** Intensities 200, 50, 0.125, 3/7; GFLOP/s 40 (above the compute ceiling), 10, 0.25, 1.2. */
const GOOD = [
  row('encoder.3', 'conv3x3Forward', 2e9, 1e7, 50),
  row('encoder.3', 'conv3x3Wgrad', 2e9, 4e7, 200),
  row('pool2', 'maxPool2x2Forward', 1e6, 8e6, 4),
  row('optimizer', 'adam', 12e6, 28e6, 10),
];
const BAD = [
  row('loss', 'zeroFlops', 0, 100, 1),
  row('decoder.1', 'convTranspose3x3s2Dgrad', 1e9, 1e6, Number.NaN),
  row('final', 'conv1x1Forward', 1e6, Number.POSITIVE_INFINITY, 1),
];

function input(over: Partial<RooflineInput> = {}): RooflineInput {
  return {
    rows: [...GOOD, ...BAD],
    ceiling: CEILING,
    adapter: 'llvmpipe: Mesa 25.0.7 <test> & "quotes"',
    host: 'AMD EPYC (2 CPUs)',
    date: new Date('2026-12-02T21:05:00Z'),
    subject: 'UNet11 1×3×32×32, medians of 1',
    ...over,
  };
}

describe('rooflineSvg', () => {
  const plot = rooflineSvg(input());
  const svg = parseXml(plot.svg);
  const { left, right, top, bottom } = LAYOUT;

  it('is one well-formed <svg> document with the SVG namespace and a size', () => {
    expect(svg.name).toBe('svg');
    expect(svg.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(Number(svg.attrs.width)).toBe(LAYOUT.width);
    // The canvas grows to hold every note.
    const lastNote = Math.max(...byClass(svg, 'note').map((n) => Number(n.attrs.y)));
    expect(lastNote).toBeGreaterThan(LAYOUT.bottom);
    expect(Number(svg.attrs.height)).toBeGreaterThan(lastNote);
    expect(svg.attrs.viewBox).toBe(`0 0 ${svg.attrs.width} ${svg.attrs.height}`);
  });

  it('spans whole decades holding every point and the ridge: 10^-1..10^3 FLOP/B, 10^-1..10^2 GFLOP/s', () => {
    // x: 0.125 .. 200 (the ridge, 5, inside); y: 0.25 .. 40 (the compute ceiling, 20, inside).
    expect(plot.xDecades).toEqual([-1, 3]);
    expect(plot.yDecades).toEqual([-1, 2]);
    const xLabels = byClass(svg, 'tick-labels')[0]!.children.map(textOf);
    expect(xLabels).toEqual(['0.1', '1', '10', '100', '1000', '0.1', '1', '10', '100']);
    expect([-4, -3, 0, 3, 5].map(decadeLabel)).toEqual(['1e-4', '0.001', '1', '1000', '1e5']);
  });

  it('places each point at its log coordinates (x: FLOP/byte, y: GFLOP/s)', () => {
    const points = byClass(svg, 'point');
    expect(points).toHaveLength(GOOD.length);
    // By hand: x decades -1..3 over [left, right], y decades -1..2 over [bottom, top].
    const expected: [string, string, number, number][] = [
      ['encoder.3', 'conv3x3Forward', 200, 40],
      ['encoder.3', 'conv3x3Wgrad', 50, 10],
      ['pool2', 'maxPool2x2Forward', 0.125, 0.25],
      ['optimizer', 'adam', 12 / 28, 1.2],
    ];
    for (const [layer, kernel, intensity, gflops] of expected) {
      const p = points.find((e) => e.attrs['data-layer'] === layer && e.attrs['data-kernel'] === kernel);
      expect(p, `${layer} ${kernel}`).toBeDefined();
      const [x, y] = translateOf(p!);
      const wantX = left + ((Math.log10(intensity) + 1) / 4) * (right - left);
      const wantY = bottom - ((Math.log10(gflops) + 1) / 3) * (bottom - top);
      // The writer rounds pixels to 0.01.
      expect(Math.abs(x - wantX), `${kernel} x`).toBeLessThanOrEqual(0.005);
      expect(Math.abs(y - wantY), `${kernel} y`).toBeLessThanOrEqual(0.005);
    }
    // logScale is the same map.
    expect(logScale(-1, 3, left, right)(200)).toBeCloseTo(left + ((Math.log10(200) + 1) / 4) * (right - left), 9);
  });

  it('draws the roof through the ridge point, where bandwidth × intensity meets the compute ceiling', () => {
    expect(plot.ridge!.intensity).toBe(5);
    expect(plot.ridge!.gflops).toBe(20);
    const roof = byClass(svg, 'roofline');
    expect(roof).toHaveLength(1);
    const vertices = roof[0]!.attrs.points!.split(' ').map((v) => v.split(',').map(Number) as [number, number]);
    expect(vertices).toHaveLength(3);
    // Expected pixels by hand (x decades -1..3, y decades -1..2); the writer rounds to 0.01 px.
    const sx = (v: number) => left + ((Math.log10(v) + 1) / 4) * (right - left);
    const sy = (v: number) => bottom - ((Math.log10(v) + 1) / 3) * (bottom - top);
    const near = (got: [number, number], want: [number, number], what: string) => {
      expect(Math.abs(got[0] - want[0]), `${what} x`).toBeLessThanOrEqual(0.005);
      expect(Math.abs(got[1] - want[1]), `${what} y`).toBeLessThanOrEqual(0.005);
    };
    // The bandwidth slope enters at the left edge: 0.1 FLOP/B × 4 GB/s = 0.4 GFLOP/s, above the floor.
    near(vertices[0]!, [sx(0.1), sy(0.4)], 'slope start');
    // The ridge: 5 FLOP/B × 4 GB/s = 20 GFLOP/s, the compute ceiling.
    near(vertices[1]!, [sx(5), sy(20)], 'ridge');
    near([plot.ridge!.x, plot.ridge!.y], [sx(5), sy(20)], 'reported ridge');
    // The compute ceiling: flat at 20 to the right edge.
    near(vertices[2]!, [sx(1000), sy(20)], 'ceiling end');
    // The dashed ridge marker stands on the ridge.
    const marker = byClass(svg, 'ridge')[0]!;
    expect(Number(marker.attrs.x1)).toBeCloseTo(vertices[1]![0], 2);
  });

  it('labels both ceilings with their values', () => {
    expect(textOf(byClass(svg, 'compute-ceiling')[0]!)).toBe(
      'compute ceiling 20 GFLOP/s (register FMA loop, gpu-timestamp)',
    );
    expect(textOf(byClass(svg, 'bandwidth-ceiling')[0]!)).toBe('bandwidth 4 GB/s (vec4 copy)');
  });

  it('draws a point above the compute ceiling (our conv kernels can beat the FMA loop) and says so', () => {
    const conv = plot.points.find((p) => p.row.kernel === 'conv3x3Forward')!;
    expect(conv.gflops).toBe(40);
    // Above the roof on screen: smaller y than the flat ceiling, and inside the plot area.
    expect(conv.y).toBeLessThan(plot.ridge!.y);
    expect(conv.y).toBeGreaterThan(top);
    const notes = byClass(svg, 'note').map(textOf);
    expect(
      notes.some((n) => /points above the roof beat them/.test(n)),
      notes.join('\n'),
    ).toBe(true);
  });

  it('skips rows with zero FLOPs or non-finite values, counts and names them in a note', () => {
    expect(plot.skipped.map((s) => [s.row.kernel, s.reason])).toEqual([
      ['zeroFlops', 'FLOPs = 0'],
      ['convTranspose3x3s2Dgrad', 'median ms = NaN'],
      ['conv1x1Forward', 'bytes = Infinity'],
    ]);
    const notes = byClass(svg, 'note').map(textOf);
    const at = notes.findIndex((n) => /not plotted/.test(n));
    expect(notes.slice(at, at + 4)).toEqual([
      '3 rows not plotted (zero or non-finite values):',
      '· loss zeroFlops 1x[64]x32x32->128 (FLOPs = 0)',
      '· decoder.1 convTranspose3x3s2Dgrad 1x[64]x32x32->128 (median ms = NaN)',
      '· final conv1x1Forward 1x[64]x32x32->128 (bytes = Infinity)',
    ]);
    const many = rooflineSvg(input({ rows: [...BAD, ...BAD] }));
    expect(many.skipped).toHaveLength(6);
    expect(byClass(parseXml(many.svg), 'note').map(textOf)).toContain(
      '· and 3 more (all rows are in the table and the JSON)',
    );
    expect(notes[0]).toMatch(/^4 points;/);
    // Nothing non-finite reached a coordinate.
    const attrs = all(svg, () => true).flatMap((e) => Object.values(e.attrs));
    expect(attrs.filter((v) => /NaN|Infinity/.test(v))).toEqual([]);
  });

  it('gives each point a tooltip naming layer, kernel, shape, ms and GFLOP/s', () => {
    const tip = (kernel: string) => {
      const p = byClass(svg, 'point').find((e) => e.attrs['data-kernel'] === kernel)!;
      return textOf(p.children.find((c) => c.name === 'title')!);
    };
    // The shape's '->' went through escaping and back.
    expect(tip('conv3x3Forward')).toBe(
      'encoder.3 · conv3x3Forward · 1x[64]x32x32->128\n50 ms, 40 GFLOP/s, 0.2 GB/s, 200 FLOP/B, 200 % of the roof',
    );
    expect(tip('maxPool2x2Forward')).toMatch(/^pool2 · maxPool2x2Forward · .*\n4 ms, 0\.25 GFLOP/);
    // Memory-bound: the roof at 0.125 FLOP/B is 4 × 0.125 = 0.5 GFLOP/s, so 50 %.
    expect(tip('maxPool2x2Forward')).toMatch(/, 50 % of the roof$/);
  });

  it('colours points by kernel family, with a legend of the families present only', () => {
    const fill = (kernel: string) =>
      byClass(svg, 'point')
        .find((e) => e.attrs['data-kernel'] === kernel)!
        .children.find((c) => c.name !== 'title')!.attrs.fill;
    const fills = ['conv3x3Forward', 'conv3x3Wgrad', 'maxPool2x2Forward', 'adam'].map(fill);
    expect(new Set(fills).size).toBe(4);
    const legend = textOf(byClass(svg, 'legend')[0]!);
    for (const f of ['conv3x3 forward', 'conv3x3 wgrad', 'maxPool', 'Adam']) expect(legend).toContain(f);
    // Families with no plotted row (convTranspose and conv1x1 were skipped) stay out.
    expect(legend).not.toContain('convTranspose');
    expect(legend).not.toContain('conv1x1');
  });

  it('names the adapter, the host and the date in the header (escaped)', () => {
    const header = byClass(svg, 'subtitle').map(textOf).join('\n');
    expect(header).toContain('adapter: llvmpipe: Mesa 25.0.7 <test> & "quotes"');
    expect(header).toContain('host: AMD EPYC (2 CPUs) · 2026-12-02 21:05 UTC');
    expect(textOf(byClass(svg, 'title')[0]!)).toBe('Roofline: bench kernels — UNet11 1×3×32×32, medians of 1');
  });

  it('still draws axes and a note with no usable rows and no measured ceilings', () => {
    const empty = rooflineSvg(input({ rows: BAD, ceiling: { gflops: Number.NaN, gbps: 0 } }));
    const doc = parseXml(empty.svg);
    expect(empty.points).toHaveLength(0);
    expect(empty.ridge).toBeNull();
    expect(byClass(doc, 'roofline')).toHaveLength(0);
    expect(byClass(doc, 'tick-labels')[0]!.children.length).toBeGreaterThan(4);
    const notes = byClass(doc, 'note').map(textOf);
    expect(notes).toContain('No roof: the ceilings were not measured (NaN GFLOP/s, 0 GB/s).');
    expect(notes.some((n) => n.startsWith('3 rows not plotted'))).toBe(true);
  });

  it('starts the bandwidth line on the floor when it would enter the axes below it', () => {
    // 0.5 GB/s: at the left edge (0.1 FLOP/B) the line is at 0.05 GFLOP/s, under the floor (0.1); it enters at
    // 0.2 FLOP/B. The ridge moves to 40 FLOP/B.
    const p = rooflineSvg(input({ rows: GOOD, ceiling: { gflops: 20, gbps: 0.5 } }));
    expect([p.xDecades, p.yDecades]).toEqual([
      [-1, 3],
      [-1, 2],
    ]);
    const roof = byClass(parseXml(p.svg), 'roofline')[0]!;
    const [first, ridge] = roof.attrs.points!.split(' ').map((v) => v.split(',').map(Number)) as [number, number][];
    expect(first![1]).toBeCloseTo(bottom, 2);
    expect(first![0]).toBeCloseTo(logScale(-1, 3, left, right)(0.2), 2);
    expect(ridge![0]).toBeCloseTo(logScale(-1, 3, left, right)(40), 2);
    expect(p.ridge!.intensity).toBe(40);
  });

  it('maps every kernel the bench times to a family and a pass', () => {
    const cases: [string, string, string][] = [
      ['conv3x3Forward', 'conv3x3 forward', 'forward'],
      ['conv3x3Dgrad', 'conv3x3 dgrad', 'dgrad'],
      ['conv3x3Wgrad', 'conv3x3 wgrad', 'wgrad'],
      ['convTranspose3x3s2Forward', 'convTranspose', 'forward'],
      ['convTranspose4x4s2Wgrad', 'convTranspose', 'wgrad'],
      ['conv1x1Dgrad', 'conv1x1', 'dgrad'],
      ['maxPool2x2Backward', 'maxPool', 'backward'],
      ['upsampleBilinear2xForward', 'upsample', 'forward'],
      ['bceJaccard fwd+bwd', 'loss', 'other'],
      ['adam', 'Adam', 'other'],
      ['somethingNew', 'other', 'other'],
    ];
    for (const [kernel, family, pass] of cases)
      expect([kernelFamily(kernel), kernelPass(kernel)]).toEqual([family, pass]);
  });
});

// ---- writing the file ----

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'roofline-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('writing the plot', () => {
  it('replaces the file through a rename and leaves no temporary file', () => {
    const dir = tempDir();
    const file = join(dir, 'r.svg');
    writeFileSync(file, 'old');
    writeFileAtomic(file, '<svg/>');
    expect(readFileSync(file, 'utf8')).toBe('<svg/>');
    expect(readdirSync(dir)).toEqual(['r.svg']);
  });

  it('names a missing folder, and a name that is not .svg', () => {
    const missing = join(tempDir(), 'no', 'such');
    expect(() => checkPlotPath(join(missing, 'r.svg'))).toThrow(/--plot: the folder .* does not exist; create it/);
    expect(() => checkPlotPath(join(tempDir(), 'r.png'))).toThrow(/--plot: '.*r\.png' should end in \.svg/);
    expect(checkPlotPath(join(tempDir(), 'R.SVG'))).toMatch(/R\.SVG$/);
  });
});

// ---- the CLI ----

const root = new URL('../..', import.meta.url).pathname;

function bench(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/src/cli.ts', ...args], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('bench kernels --plot', () => {
  it('refuses a missing folder and other commands before benchmarking', async () => {
    const missing = join(tempDir(), 'absent');
    const r = await bench(['kernels', '--plot', join(missing, 'r.svg')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`--plot: the folder '${missing}' does not exist`);
    expect(r.out).not.toMatch(/adapter:/);
    const model = await bench(['model', '--plot', join(tempDir(), 'r.svg')]);
    expect(model.code).not.toBe(0);
    expect(model.out).toMatch(/--plot: only the kernels command draws a roofline, not model/);
  });

  it('draws one point per row of a toy run, with --json', async () => {
    const file = join(tempDir(), 'roofline.svg');
    const r = await bench([
      'kernels',
      '--size',
      '32',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--filter',
      'pool',
      '--plot',
      file,
      '--json',
    ]);
    expect(r.code, r.out).toBe(0);
    const json = JSON.parse(r.out.trim().split('\n').at(-1)!) as {
      kernels: RooflineRow[];
      plot: { file: string; points: number; skipped: number };
    };
    expect(json.plot.file).toBe(file);
    expect(json.kernels.map((k) => k.kernel)).toContain('maxPool2x2Backward');
    expect(json.plot.points + json.plot.skipped).toBe(json.kernels.length);
    expect(existsSync(file)).toBe(true);
    const doc = parseXml(readFileSync(file, 'utf8'));
    expect(byClass(doc, 'point')).toHaveLength(json.plot.points);
    expect(byClass(doc, 'roofline')).toHaveLength(1);
    expect(r.out).toMatch(new RegExp(`roofline: ${json.plot.points} points written to `));
  });
});
