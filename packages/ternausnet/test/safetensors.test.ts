/** safetensors reader/writer: round trips, exact conversions, and one failing file per validation rule. */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  floatToHalf,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  writeSafetensors,
} from '@ternausnet/model';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'st-test-'));

/** A file from a header object (or raw header text) and a data section. */
function build(header: unknown, data: Uint8Array | number = 0, rawHeader?: string): Uint8Array {
  const text = Buffer.from(rawHeader ?? JSON.stringify(header), 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + text.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(body, 8 + text.length);
  return out;
}

function expectRule(bytes: Uint8Array, rule: string, message?: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(bytes, 'bad.safetensors', { onWarning: () => {} });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  expect((err as SafetensorsError).rule).toBe(rule);
  expect((err as SafetensorsError).message).toContain('bad.safetensors');
  if (message) expect((err as SafetensorsError).message).toMatch(message);
}

describe('safetensors', () => {
  it('round-trips tensors of every rank (including 0-d and empty) with metadata, data 8-byte aligned', async () => {
    const tensors = new Map([
      ['scalar', { shape: [], data: Float32Array.of(3.5) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
      ['w', { shape: [2, 3, 3, 3], data: Float32Array.from({ length: 54 }, (_, i) => Math.sin(i) * 1e3) }],
      ['b', { shape: [7], data: Float32Array.of(-0, Number.POSITIVE_INFINITY, Number.NaN, 1e-45, -3e38, 1, 2) }],
    ]);
    const path = join(dir, 'rt.safetensors');
    await writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const file = await readSafetensors(path);
    expect(file.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...file.tensors.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      const got = file.tensors.get(name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.toFloat32())).toEqual(Array.from(t.data));
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes F16 rounded to the nearest half (ties to even), every half value round-tripping exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) expect(Number.isNaN(halfToFloat(floatToHalf(x)))).toBe(true);
      else expect(floatToHalf(x)).toBe(h);
    }
    // Random floats across the half range (normal, subnormal, overflow): no half is nearer than the one chosen.
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rand() - 0.5) * 2 ** (rand() * 44 - 26));
      // At and past 65520 (halfway to the next power of two) IEEE rounding overflows to ∞: checked below.
      if (Math.abs(x) >= 65520) continue;
      const h = floatToHalf(x);
      const err = Math.abs(halfToFloat(h) - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7c00) === 0x7c00 || n < 0 || (n & 0x8000) !== (h & 0x8000)) continue;
        expect(err).toBeLessThanOrEqual(Math.abs(halfToFloat(n) - x));
      }
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even (up)
    expect(floatToHalf(70000)).toBe(0x7c00);
    expect(floatToHalf(65519)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(-(2 ** -25) * 1.5)).toBe(0x8001);
    const bytes = serializeSafetensors({ h: { shape: [3], data: Float32Array.of(1, -2.5, 0.1), dtype: 'F16' } });
    const t = parseSafetensors(bytes).tensors.get('h')!;
    expect(t.dtype).toBe('F16');
    expect([...t.toFloat32()]).toEqual([1, -2.5, halfToFloat(0x2e66)]);
  });

  it('converts F16, BF16 and F64 exactly (F64 with a warning), and integer dtypes', () => {
    // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +inf, NaN, -0.
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00, 0x8000];
    expect(f16.map(halfToFloat)).toEqual([1, -2, 65504, 2 ** -24, Number.POSITIVE_INFINITY, Number.NaN, -0]);
    // BF16: the high half of float32 1.5 (0x3fc00000) and -3.0 (0xc0400000).
    const bf16 = [0x3fc0, 0xc040];
    const f64 = [0.1, -1e300];
    const data = new Uint8Array(14 + 4 + 16 + 8);
    const dv = new DataView(data.buffer);
    for (const [i, h] of f16.entries()) dv.setUint16(2 * i, h, true);
    for (const [i, h] of bf16.entries()) dv.setUint16(14 + 2 * i, h, true);
    for (const [i, v] of f64.entries()) dv.setFloat64(18 + 8 * i, v, true);
    dv.setInt32(34, -7, true);
    dv.setUint32(38, 4000000000, true);
    const bytes = build(
      {
        h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] },
        bf: { dtype: 'BF16', shape: [2], data_offsets: [14, 18] },
        d: { dtype: 'F64', shape: [2], data_offsets: [18, 34] },
        i: { dtype: 'I32', shape: [1], data_offsets: [34, 38] },
        u: { dtype: 'U32', shape: [1], data_offsets: [38, 42] },
      },
      data,
    );
    const warnings: string[] = [];
    const f = parseSafetensors(bytes, 'mixed.safetensors', { onWarning: (m) => warnings.push(m) });
    expect(Array.from(f.tensors.get('h')!.toFloat32())).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      Number.POSITIVE_INFINITY,
      Number.NaN,
      -0,
    ]);
    expect(Array.from(f.tensors.get('bf')!.toFloat32())).toEqual([1.5, -3]);
    expect(Array.from(f.tensors.get('d')!.toFloat32())).toEqual([Math.fround(0.1), Number.NEGATIVE_INFINITY]);
    expect(Array.from(f.tensors.get('i')!.toFloat32())).toEqual([-7]);
    expect(Array.from(f.tensors.get('u')!.toFloat32())).toEqual([4000000000]);
    expect(warnings).toEqual([expect.stringMatching(/mixed\.safetensors: tensor 'd' is F64/)]);
  });

  it('converts BOOL and the 8-, 16- and 64-bit integer dtypes (little-endian, extremes included); refuses F8', () => {
    // [dtype, bytes per element, little-endian writer, two values exact in float32]
    const cases: [string, number, (dv: DataView, at: number, v: number) => void, number[]][] = [
      ['BOOL', 1, (dv, at, v) => dv.setUint8(at, v), [0, 1]],
      ['U8', 1, (dv, at, v) => dv.setUint8(at, v), [255, 3]],
      ['I8', 1, (dv, at, v) => dv.setInt8(at, v), [-128, 127]],
      ['I16', 2, (dv, at, v) => dv.setInt16(at, v, true), [-32768, 1234]],
      ['U16', 2, (dv, at, v) => dv.setUint16(at, v, true), [65535, 256]],
      ['I64', 8, (dv, at, v) => dv.setBigInt64(at, BigInt(v), true), [-(2 ** 40), 3]],
      ['U64', 8, (dv, at, v) => dv.setBigUint64(at, BigInt(v), true), [2 ** 53, 5]],
    ];
    const data = new Uint8Array(cases.reduce((p, [, size]) => p + 2 * size, 0) + 2);
    const dv = new DataView(data.buffer);
    const header: Record<string, unknown> = {};
    let at = 0;
    for (const [dtype, size, write, values] of cases) {
      header[dtype] = { dtype, shape: [2], data_offsets: [at, at + 2 * size] };
      for (const v of values) {
        write(dv, at, v);
        at += size;
      }
    }
    header.f8 = { dtype: 'F8_E4M3', shape: [2], data_offsets: [at, at + 2] };
    const f = parseSafetensors(build(header, data), 'ints.safetensors');
    for (const [dtype, , , values] of cases)
      expect(Array.from(f.tensors.get(dtype)!.toFloat32()), dtype).toEqual(values);
    expect(() => f.tensors.get('f8')!.toFloat32()).toThrow(
      /ints\.safetensors.*'f8'.*F8_E4M3 cannot be converted to float32/,
    );
  });

  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const rules: [string, () => Uint8Array, string, RegExp?][] = [
    ['file shorter than 8 bytes', () => new Uint8Array(5), 'header-length'],
    [
      'header length over 100 MB',
      () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 2n ** 62n, true);
        return b;
      },
      'header-length',
      /exceeds the 100000000-byte limit/,
    ],
    [
      'header length past the end of the file',
      () => {
        const b = build({ a: ok }, 8);
        new DataView(b.buffer).setBigUint64(0, 10_000n, true);
        return b;
      },
      'header-length',
      /past the end/,
    ],
    ['header not UTF-8', () => build(null, 0, '{"a\xff": 1}').map((v, i) => (i === 11 ? 0xff : v)), 'header-utf8'],
    ['header not JSON', () => build(null, 0, '{"a": '), 'header-json'],
    ['header not an object', () => build([1, 2]), 'header-json'],
    [
      'duplicate key',
      () => build(null, 16, `{"a":${JSON.stringify(ok)},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`),
      'duplicate-key',
    ],
    ['unknown dtype', () => build({ a: { ...ok, dtype: 'F128' } }, 8), 'dtype', /unknown dtype "F128"/],
    ['negative dimension', () => build({ a: { ...ok, shape: [-2] } }, 8), 'shape'],
    ['fractional dimension', () => build({ a: { ...ok, shape: [1.5] } }, 8), 'shape'],
    ['offsets not two integers', () => build({ a: { ...ok, data_offsets: [0] } }, 8), 'offsets'],
    ['reversed offsets', () => build({ a: { ...ok, shape: [0], data_offsets: [8, 0] } }, 8), 'offsets'],
    ['offsets past the data section', () => build({ a: { ...ok, shape: [4], data_offsets: [0, 16] } }, 8), 'offsets'],
    [
      'shape × dtype size ≠ byte length',
      () => build({ a: { ...ok, shape: [3] } }, 8),
      'size',
      /needs 12 bytes but data_offsets cover 8/,
    ],
    ['overlapping tensors', () => build({ a: ok, b: { ...ok, data_offsets: [4, 12] } }, 12), 'overlap'],
    ['gap between tensors', () => build({ a: ok, b: { ...ok, data_offsets: [12, 20] } }, 20), 'gap'],
    ['gap at the end', () => build({ a: ok }, 12), 'gap', /4 bytes at the end/],
    ['metadata not string → string', () => build({ __metadata__: { epoch: 3 }, a: ok }, 8), 'metadata'],
    ['tensor entry not an object', () => build({ a: 7 }, 0), 'tensor-entry'],
  ];
  for (const [what, make, rule, message] of rules) {
    it(`rejects: ${what}`, () => expectRule(make(), rule, message));
  }

  it('never throws anything but SafetensorsError on random corruption of a valid file', () => {
    const good = serializeSafetensors(
      { a: { shape: [3, 2], data: Float32Array.of(1, 2, 3, 4, 5, 6) }, b: { shape: [1], data: Float32Array.of(7) } },
      { m: 'x' },
    );
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let k = 0; k < 400; k++) {
      const bad = good.slice(0, 8 + (next() % (good.length - 7)));
      const copy = k % 2 ? good.slice() : bad;
      for (let m = 0; m < 1 + (next() % 4); m++) copy[next() % copy.length] = next() & 0xff;
      try {
        const f = parseSafetensors(copy, 'fuzz');
        for (const t of f.tensors.values()) t.toFloat32();
      } catch (e) {
        expect(e).toBeInstanceOf(SafetensorsError);
      }
    }
  });

  it('writes atomically: a failed write leaves the old file intact and no temp file', async () => {
    const path = join(dir, 'keep.safetensors');
    await writeSafetensors(path, { a: { shape: [1], data: Float32Array.of(1) } });
    const before = readFileSync(path);
    await expect(writeSafetensors(path, { a: { shape: [2], data: Float32Array.of(1) } })).rejects.toThrow(
      /shape \[2\] has 2 elements but data has 1/,
    );
    await expect(
      writeSafetensors(join(dir, 'no', 'such', 'dir.safetensors'), { a: { shape: [1], data: Float32Array.of(1) } }),
    ).rejects.toThrow(SafetensorsError);
    const ro = mkdtempSync(join(tmpdir(), 'st-ro-'));
    chmodSync(ro, 0o500);
    if (process.getuid?.() !== 0) {
      await expect(
        writeSafetensors(join(ro, 'x.safetensors'), { a: { shape: [1], data: Float32Array.of(1) } }),
      ).rejects.toThrow(SafetensorsError);
    }
    expect(readFileSync(path)).toEqual(before);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    writeFileSync(join(dir, 'garbage.safetensors'), 'not a safetensors file at all');
    await expect(readSafetensors(join(dir, 'garbage.safetensors'))).rejects.toThrow(SafetensorsError);
    await expect(readSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot open/);
  });
});
