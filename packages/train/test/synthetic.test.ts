import { describe, expect, it } from 'vitest';
import { layOutAerialScene } from '../src/data/aerial/scene-kinds.ts';
import { detCos, detSin, fbmField, SeededRng } from '../src/data/rng.ts';
import {
  generateAerialScene,
  generateCarScene,
  type SyntheticSample,
  type SyntheticSceneOptions,
} from '../src/data/synthetic.ts';

/** FNV-1a over image then mask: a compact fingerprint for golden checks. */
function fingerprint(s: SyntheticSample): string {
  let h = 0x811c9dc5;
  for (const buf of [s.image, s.mask]) {
    for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i]!, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Byte equality without per-element matcher overhead (the images are large). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function positiveFraction(s: SyntheticSample): number {
  let n = 0;
  for (const m of s.mask) n += m;
  return n / s.mask.length;
}

function expectWellFormed(s: SyntheticSample, width: number, height: number): void {
  expect(s.width).toBe(width);
  expect(s.height).toBe(height);
  expect(s.image).toBeInstanceOf(Uint8Array);
  expect(s.image.length).toBe(width * height * 3);
  expect(s.mask.length).toBe(width * height);
  expect(s.mask.every((m) => m <= 1)).toBe(true);
}

/**
 * The tests every scene generator passes: two scenes from one seed are the same bytes (image and mask) and the
 * next seed draws a different image; one scene matches its golden fingerprint, the same on every machine.
 * Deliberate changes to a generator change its fingerprint: update it then, and only then.
 */
function itIsSeededAndGolden(
  generate: (options: SyntheticSceneOptions) => SyntheticSample,
  seeded: SyntheticSceneOptions,
  golden: SyntheticSceneOptions,
  goldenFingerprint: string,
): void {
  it('is deterministic per seed and differs across seeds', () => {
    const a = generate(seeded);
    const b = generate(seeded);
    expect(sameBytes(b.image, a.image)).toBe(true);
    expect(sameBytes(b.mask, a.mask)).toBe(true);
    expect(sameBytes(generate({ ...seeded, seed: seeded.seed + 1 }).image, a.image)).toBe(false);
  });

  it('matches the golden fingerprint (same bytes on every machine)', () => {
    expect(fingerprint(generate(golden))).toBe(goldenFingerprint);
  });
}

/**
 * Best IoU that a single per-pixel threshold on one colour feature (R, G, B, luminance or R-G), in either
 * direction, reaches on one scene, choosing the threshold with the labels: an optimistic colour-only baseline.
 */
function oracleThresholdIoU(s: SyntheticSample): number {
  const n = s.mask.length;
  const bins = 64;
  let best = 0;
  for (let f = 0; f < 5; f++) {
    const pos = new Float64Array(bins);
    const neg = new Float64Array(bins);
    for (let i = 0; i < n; i++) {
      const r = s.image[3 * i]! / 256;
      const g = s.image[3 * i + 1]! / 256;
      const b = s.image[3 * i + 2]! / 256;
      const v = f === 0 ? r : f === 1 ? g : f === 2 ? b : f === 3 ? (r + g + b) / 3 : 0.5 + (r - g);
      const bin = Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
      const hist = s.mask[i] ? pos : neg;
      hist[bin] = hist[bin]! + 1;
    }
    let totalPos = 0;
    let totalNeg = 0;
    for (let k = 0; k < bins; k++) {
      totalPos += pos[k]!;
      totalNeg += neg[k]!;
    }
    if (totalPos === 0) return 0;
    let tpBelow = 0;
    let fpBelow = 0;
    for (let t = 0; t <= bins; t++) {
      const below = tpBelow / (totalPos + fpBelow);
      const above = (totalPos - tpBelow) / (totalPos + (totalNeg - fpBelow));
      best = Math.max(best, below, above);
      if (t < bins) {
        tpBelow += pos[t]!;
        fpBelow += neg[t]!;
      }
    }
  }
  return best;
}

const SIZE = 256;
const SEEDS = Array.from({ length: 20 }, (_, i) => 100 + i);
// Generated once and shared: the statistical checks below all look at the same scenes.
const scenes = SEEDS.map((seed) => generateAerialScene({ seed, width: SIZE, height: SIZE }));

describe('seeded helpers', () => {
  it('SeededRng streams are reproducible and seed-dependent', () => {
    const a = SeededRng.fromSeed(42);
    const b = SeededRng.fromSeed(42);
    const c = SeededRng.fromSeed(43);
    const xs = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(xs);
    // Seeds beyond 32 bits must not alias their low word.
    expect(SeededRng.fromSeed(2 ** 40 + 5).nextU32()).not.toBe(SeededRng.fromSeed(5).nextU32());
    expect(() => SeededRng.fromSeed(0.5)).toThrow(RangeError);
  });

  it('polynomial sin/cos stay within 1e-6 of Math', () => {
    for (let x = -20; x <= 20; x += 0.037) {
      expect(Math.abs(detSin(x) - Math.sin(x))).toBeLessThan(1e-6);
      expect(Math.abs(detCos(x) - Math.cos(x))).toBeLessThan(1e-6);
    }
  });

  it('fbmField stays in [0, 1] and is not constant', () => {
    const f = fbmField(50, 40, 7, 8, 3);
    let lo = 1;
    let hi = 0;
    for (const v of f) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi - lo).toBeGreaterThan(0.2);
  });
});

describe('generateAerialScene', () => {
  itIsSeededAndGolden(
    generateAerialScene,
    { seed: 7, width: 96, height: 80 },
    { seed: 2024, width: 64, height: 48 },
    'cd2e47c7',
  );

  it('handles small and non-square sizes', () => {
    for (const [w, h] of [
      [32, 32],
      [33, 77],
      [300, 40],
    ] as const) {
      expectWellFormed(generateAerialScene({ seed: 3, width: w, height: h }), w, h);
    }
  });

  it('rejects invalid options', () => {
    expect(() => generateAerialScene({ seed: 1, width: 31, height: 64 })).toThrow(RangeError);
    expect(() => generateAerialScene({ seed: 1, width: 64, height: 64.5 })).toThrow(RangeError);
    expect(() => generateAerialScene({ seed: Number.NaN, width: 64, height: 64 })).toThrow(RangeError);
  });

  it('has binary masks with a sane, varied building fraction', () => {
    const fractions = scenes.map((s) => {
      expectWellFormed(s, SIZE, SIZE);
      return positiveFraction(s);
    });
    const mean = fractions.reduce((a, b) => a + b, 0) / fractions.length;
    const typical = fractions.filter((f) => f >= 0.02 && f <= 0.5).length;
    const sd = Math.sqrt(fractions.reduce((a, f) => a + (f - mean) ** 2, 0) / fractions.length);
    expect(mean).toBeGreaterThan(0.08);
    expect(mean).toBeLessThan(0.3);
    expect(typical).toBeGreaterThanOrEqual(0.8 * fractions.length);
    // Rural to dense urban: densities must actually differ between scenes.
    expect(sd).toBeGreaterThan(0.05);
  });

  it('cannot be solved by thresholding colour', () => {
    const ious = scenes.map(oracleThresholdIoU);
    const mean = ious.reduce((a, b) => a + b, 0) / ious.length;
    expect(mean).toBeLessThan(0.5);
    // Nor do buildings own a colour: a 16^3 colour lookup table fitted on half the scenes fails on the rest.
    const bin = (im: Uint8Array, i: number) =>
      ((im[3 * i]! >> 4) << 8) | ((im[3 * i + 1]! >> 4) << 4) | (im[3 * i + 2]! >> 4);
    const pos = new Float64Array(4096);
    const all = new Float64Array(4096);
    scenes.forEach((s, k) => {
      if (k % 2) return;
      for (let i = 0; i < s.mask.length; i++) {
        const b = bin(s.image, i);
        all[b] = all[b]! + 1;
        if (s.mask[i]) pos[b] = pos[b]! + 1;
      }
    });
    let tp = 0;
    let fp = 0;
    let fn = 0;
    scenes.forEach((s, k) => {
      if (!(k % 2)) return;
      for (let i = 0; i < s.mask.length; i++) {
        const b = bin(s.image, i);
        const pred = pos[b]! > 0.4 * all[b]!;
        if (pred && s.mask[i]) tp++;
        else if (pred) fp++;
        else if (s.mask[i]) fn++;
      }
    });
    expect(tp / (tp + fp + fn)).toBeLessThan(0.4);
  });

  it("labels hidden roof under trees only with occludedRoofs: 'footprint'", () => {
    let hidden = 0;
    let extra = 0;
    for (const [k, seed] of SEEDS.slice(0, 6).entries()) {
      const foot = scenes[k]!;
      const vis = generateAerialScene({ seed, width: SIZE, height: SIZE, occludedRoofs: 'visible' });
      expect(sameBytes(vis.image, foot.image)).toBe(true);
      for (let i = 0; i < vis.mask.length; i++) {
        if (vis.mask[i]! > foot.mask[i]!) extra++;
        hidden += foot.mask[i]! - vis.mask[i]!;
      }
    }
    expect(extra).toBe(0);
    expect(hidden).toBeGreaterThan(0);
  });
});

describe('generateCarScene', () => {
  itIsSeededAndGolden(
    generateCarScene,
    { seed: 11, width: 120, height: 80 },
    { seed: 2024, width: 72, height: 48 },
    'f5943f4a',
  );

  it('frames one car on a light studio background at any size', () => {
    for (const [w, h] of [
      [32, 32],
      [191, 128],
      [64, 150],
    ] as const) {
      for (let seed = 0; seed < 6; seed++) {
        const s = generateCarScene({ seed, width: w, height: h });
        expectWellFormed(s, w, h);
        const f = positiveFraction(s);
        // A tall narrow frame leaves a side-on car little height to fill.
        expect(f).toBeGreaterThan(0.04);
        expect(f).toBeLessThan(0.7);
        let bg = 0;
        let bgCount = 0;
        for (let y = 0; y < h; y++) {
          // The car stays inside the frame: no mask on the left and right borders.
          if (s.mask[y * w] || s.mask[y * w + w - 1])
            throw new Error(`car touches the border (seed ${seed}, ${w}x${h})`);
          for (let x = 0; x < w; x++) {
            const i = y * w + x;
            if (s.mask[i]) continue;
            bg += (s.image[3 * i]! + s.image[3 * i + 1]! + s.image[3 * i + 2]!) / 3;
            bgCount++;
          }
        }
        expect(bg / bgCount).toBeGreaterThan(130);
      }
    }
  });
});

describe('golden fingerprints over every scene kind', () => {
  /** FNV-1a over several samples in turn. */
  const fingerprintAll = (samples: SyntheticSample[]) => {
    let h = 0x811c9dc5;
    for (const s of samples)
      for (const buf of [s.image, s.mask])
        for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i]!, 0x01000193) >>> 0;
    return h.toString(16).padStart(8, '0');
  };
  const seeds = Array.from({ length: 16 }, (_, i) => 300 + i);

  it('aerial: 16 scenes covering rural, suburban, urban and industrial layouts', () => {
    // The single-scene golden above sees one scene kind; these seeds exercise all four (checked, not assumed).
    expect(new Set(seeds.map((seed) => layOutAerialScene(96, 80, seed).kind))).toEqual(
      new Set(['rural', 'suburban', 'urban', 'industrial']),
    );
    expect(fingerprintAll(seeds.map((seed) => generateAerialScene({ seed, width: 96, height: 80 })))).toBe('3b432cab');
  });

  it('cars: 12 scenes', () => {
    expect(fingerprintAll(seeds.slice(0, 12).map((seed) => generateCarScene({ seed, width: 80, height: 56 })))).toBe(
      '7b24119b',
    );
  });
});
