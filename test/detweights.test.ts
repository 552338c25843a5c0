import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultBound, detUniform, fanIn, fnv1a32, hashIndex } from './fixtures/detweights.ts';
import { fixtureUrl, readSafetensors } from './fixtures/safetensors.ts';

interface SampleCase {
  name: string;
  n: number;
  bound: number;
  fnv1a32: number;
  indices: number[];
  hashes: number[];
  bits: number[];
  values: number[];
}

interface KeyEntry {
  key: string;
  shape: number[];
  numel: number;
  alias_of: string | null;
  layer: 'Conv2d' | 'ConvTranspose2d';
  fan_in: number;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(fixtureUrl(file), 'utf8')) as T;
const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('detUniform matches scripts/fixtures/detweights.py bit for bit', () => {
  const { cases } = readJson<{ cases: SampleCase[] }>('detweights_samples.json');

  it.each(cases.map((c) => [c.name === '' ? '(empty name)' : c.name, c] as const))('%s', (_label, c) => {
    expect(fnv1a32(c.name)).toBe(c.fnv1a32);
    const seed = fnv1a32(c.name);
    expect(c.indices.map((i) => hashIndex(seed, i))).toEqual(c.hashes);
    const v = detUniform(c.name, c.n, c.bound);
    const bits = bitsOf(v);
    expect(c.indices.map((i) => bits[i])).toEqual(c.bits);
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(-c.bound);
    expect(hi).toBeLessThan(c.bound);
  });

  it('fan_in follows PyTorch (dim 1 times kernel area, also for ConvTranspose2d)', () => {
    expect(fanIn([64, 3, 3, 3])).toBe(27);
    expect(fanIn([512, 256, 3, 3])).toBe(256 * 9); // ConvTranspose2d(512, 256) weight [in, out, k, k]
    expect(fanIn([1, 32, 1, 1])).toBe(32);
    expect(defaultBound([64, 3, 3, 3])).toBe(1 / Math.sqrt(27));
  });
});

describe('committed fixtures are built from detUniform', () => {
  const keys = readJson<{ state_dict: KeyEntry[]; parameters: string[] }>('unet11_state_dict_keys.json');
  const parity = readSafetensors(fixtureUrl('unet11_parity.safetensors'));

  it('unet11_state_dict_keys.json: 56 keys, 40 parameters, aliases point at encoder convs', () => {
    expect(keys.state_dict).toHaveLength(56);
    expect(keys.parameters).toHaveLength(40);
    const byKey = new Map(keys.state_dict.map((e) => [e.key, e]));
    for (const e of keys.state_dict) {
      expect(e.fan_in).toBe(
        fanIn(e.key.endsWith('.bias') ? byKey.get(e.key.replace(/bias$/, 'weight'))!.shape : e.shape),
      );
      if (e.alias_of !== null) expect(byKey.get(e.alias_of)!.shape).toEqual(e.shape);
    }
    expect(byKey.get('conv1.weight')!.alias_of).toBe('encoder.0.weight');
  });

  it('parity input and target', () => {
    const x = parity.f32('input');
    expect(parity.shape('input')).toEqual([2, 3, 64, 64]);
    expect(bitsOf(x)).toEqual(bitsOf(detUniform('input', x.length, 2)));
    const y = parity.f32('target');
    const u = detUniform('target', y.length, 1);
    expect(Array.from(y)).toEqual(Array.from(u, (v) => (v > 0.3 ? 1 : 0)));
  });

  it('parity initial weights (16 samples of every parameter)', () => {
    const byKey = new Map(keys.state_dict.map((e) => [e.key, e]));
    for (const name of keys.parameters) {
      const e = byKey.get(name)!;
      const w = detUniform(name, e.numel, 1 / Math.sqrt(e.fan_in));
      const idx = parity.i32(`sample_idx/${name}`);
      const expected = parity.f32(`init/${name}`);
      expect(
        Array.from(idx, (i) => w[i]),
        name,
      ).toEqual(Array.from(expected));
    }
  });

  it('op fixture inputs', () => {
    const ops = readSafetensors(fixtureUrl('ops.safetensors'));
    const x = ops.f32('conv3x3/case0/x');
    expect(bitsOf(x)).toEqual(bitsOf(detUniform('conv3x3/case0/x', 2 * 3 * 7 * 13, 1)));
    const w = ops.f32('convT/case0/w');
    expect(bitsOf(w)).toEqual(bitsOf(detUniform('convT/case0/w', 5 * 3 * 9, defaultBound([5, 3, 3, 3]))));
  });
});
