/**
 * Variant selection on literal contexts (no GPU): which row each kind of adapter gets, and the errors for rows
 * forced where they cannot run. The kernels themselves are checked under every runnable row by
 * packages/tensor/test/ops.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type AdapterClass,
  describeVariants,
  type KernelContext,
  runnableVariants,
  type SubgroupSizes,
} from '../src/index.ts';
import { KERNEL_PASSES, selectVariant } from '../src/variants.ts';

function context(
  adapterClass: AdapterClass,
  features: string[],
  subgroupSizes: SubgroupSizes | null,
  variantOverrides: Record<string, string> = {},
  workgroupStorage = 32768,
): KernelContext {
  const none = () => {
    throw new Error('selection must not dispatch');
  };
  return {
    device: {} as GPUDevice,
    limits: {
      maxStorageBufferBindingSize: 2 ** 27,
      maxComputeWorkgroupsPerDimension: 65535,
      minStorageBufferOffsetAlignment: 256,
      maxComputeInvocationsPerWorkgroup: 1024,
      maxComputeWorkgroupStorageSize: workgroupStorage,
    },
    adapterClass,
    features: new Set(features),
    subgroupSizes,
    variantOverrides,
    pipeline: none,
    dispatch: none,
    scratch: none,
  };
}

const lavapipe = () => context('cpu', ['subgroups'], { min: 8, max: 8 });
const swiftshader = () => context('cpu', ['subgroups'], { min: 4, max: 4 });
const firefoxLavapipe = () => context('cpu', [], null);
const nvidia = () => context('gpu', ['subgroups'], { min: 32, max: 32 });
const intel = () => context('gpu', ['subgroups'], { min: 8, max: 32 });

describe('variant selection', () => {
  it('defaults: subgroup kernels on CPU adapters with a fixed 4 or 8 lanes, direct without, tiled on GPUs', () => {
    for (const pass of ['forward', 'dgrad', 'wgrad'] as const) {
      // The forward's and dgrad's CPU default picks Winograd or the subgroup kernel by shape.
      const subgroup = pass === 'wgrad' ? 'subgroup' : 'winograd-by-shape';
      expect(selectVariant(lavapipe(), 'conv3x3', pass).name).toBe(subgroup);
      expect(selectVariant(swiftshader(), 'conv3x3', pass).name).toBe(subgroup);
      expect(selectVariant(firefoxLavapipe(), 'conv3x3', pass).name).toBe('direct');
      expect(selectVariant(lavapipe(), 'convTranspose3x3s2', pass).name).toBe('subgroup');
      expect(selectVariant(firefoxLavapipe(), 'convTranspose3x3s2', pass).name).toBe('direct');
    }
    expect(selectVariant(nvidia(), 'conv3x3', 'forward').name).toBe('tiled');
    expect(selectVariant(intel(), 'conv3x3', 'dgrad').name).toBe('tiled');
    // No pass of a GPU falls back to a direct kernel: every pass of both families has a tiled default there.
    for (const pass of ['forward', 'dgrad', 'wgrad'] as const) {
      for (const family of ['conv3x3', 'convTranspose3x3s2'] as const) {
        expect(selectVariant(nvidia(), family, pass).name, `${family}.${pass}`).toBe('tiled');
        expect(selectVariant(intel(), family, pass).name, `${family}.${pass}`).toBe('tiled');
      }
    }
    // A CPU adapter whose lane count the kernels are not written for falls back to the baseline.
    expect(selectVariant(context('cpu', ['subgroups'], { min: 16, max: 16 }), 'conv3x3', 'forward').name).toBe(
      'direct',
    );
    expect(selectVariant(context('cpu', ['subgroups'], { min: 4, max: 8 }), 'conv3x3', 'forward').name).toBe('direct');
  });

  it('forcing a subgroup kernel where the lane count is not the one it is written for is a clear error', () => {
    const force = { conv3x3: 'subgroup' };
    expect(() =>
      selectVariant(context('gpu', ['subgroups'], { min: 8, max: 32 }, force), 'conv3x3', 'forward'),
    ).toThrow(
      /conv3x3\.forward variant 'subgroup' cannot run on this adapter: .*8 to 32 lanes and WGSL cannot fix the size/,
    );
    expect(() => selectVariant(context('gpu', ['subgroups'], { min: 32, max: 32 }, force), 'conv3x3', 'wgrad')).toThrow(
      /subgroups have 32 lanes; these kernels are generated for 4 or 8/,
    );
    expect(() => selectVariant(context('cpu', [], null, force), 'conv3x3', 'dgrad')).toThrow(
      /needs the device feature 'subgroups'/,
    );
    expect(() => selectVariant(context('cpu', ['subgroups'], null, force), 'conv3x3', 'dgrad')).toThrow(
      /does not report its subgroup sizes/,
    );
  });

  it('overrides: family-wide and per pass; unknown names and unmet limits are errors', () => {
    expect(
      selectVariant(context('cpu', ['subgroups'], { min: 8, max: 8 }, { conv3x3: 'tiled' }), 'conv3x3', 'dgrad').name,
    ).toBe('tiled');
    const perPass = context('gpu', [], null, { conv3x3: 'tiled', 'conv3x3.wgrad': 'direct' });
    expect(selectVariant(perPass, 'conv3x3', 'forward').name).toBe('tiled');
    expect(selectVariant(perPass, 'conv3x3', 'wgrad').name).toBe('direct');
    expect(() => selectVariant(context('gpu', [], null, { conv3x3: 'fast' }), 'conv3x3', 'forward')).toThrow(
      /conv3x3 variant 'fast' unknown \(winograd-by-shape, subgroup, subgroup-r8, subgroup-1row, winograd, winograd-f4, tiled, direct, subgroup-2row\)/,
    );
    expect(() => selectVariant(context('gpu', [], null, { conv3x3: 'tiled' }, 4096), 'conv3x3', 'forward')).toThrow(
      /needs maxComputeWorkgroupStorageSize ≥ 8320, the device has 4096/,
    );
  });

  it('tile-parameter rows are defaults nowhere; forced family-wide they apply to the passes that have them', () => {
    for (const ctx of [lavapipe(), swiftshader(), nvidia(), intel()]) {
      for (const pass of ['forward', 'dgrad', 'wgrad'] as const) {
        expect(selectVariant(ctx, 'conv3x3', pass).name).not.toMatch(/^(subgroup-r8|winograd|winograd-f4)$/);
      }
    }
    const r8 = context('cpu', ['subgroups'], { min: 8, max: 8 }, { conv3x3: 'subgroup-r8' });
    expect(selectVariant(r8, 'conv3x3', 'forward').name).toBe('subgroup-r8');
    expect(selectVariant(r8, 'conv3x3', 'dgrad').name).toBe('subgroup-r8');
    expect(selectVariant(r8, 'conv3x3', 'wgrad').name).toBe('subgroup-r8');
    const r8Forward = context('cpu', ['subgroups'], { min: 8, max: 8 }, { 'conv3x3.forward': 'subgroup-r8' });
    expect(selectVariant(r8Forward, 'conv3x3', 'wgrad').name).toBe('subgroup');
    // 'winograd' has forward and dgrad rows only: forced family-wide, wgrad keeps its default.
    const winograd = context('cpu', ['subgroups'], { min: 8, max: 8 }, { conv3x3: 'winograd' });
    expect(KERNEL_PASSES.map((pass) => selectVariant(winograd, 'conv3x3', pass).name)).toEqual([
      'winograd',
      'winograd',
      'subgroup',
    ]);
  });

  it('a measured choice (kernelChoices) wins over the default for its problem only, and yields to overrides', () => {
    const key = 'conv3x3.wgrad [1,512,4,4] -> 512';
    const choices = new Map([[key, 'direct']]);
    const tuned = { ...lavapipe(), kernelChoices: choices };
    expect(selectVariant(tuned, 'conv3x3', 'wgrad', key).name).toBe('direct');
    expect(selectVariant(tuned, 'conv3x3', 'wgrad', 'conv3x3.wgrad [1,512,8,8] -> 512').name).toBe('subgroup');
    expect(selectVariant(tuned, 'conv3x3', 'wgrad').name).toBe('subgroup');
    const forced = {
      ...context('cpu', ['subgroups'], { min: 8, max: 8 }, { conv3x3: 'tiled' }),
      kernelChoices: choices,
    };
    expect(selectVariant(forced, 'conv3x3', 'wgrad', key).name).toBe('tiled');
    // A cached choice the adapter cannot run (a cache copied to another machine) falls back to the default.
    const elsewhere = { ...firefoxLavapipe(), kernelChoices: new Map([[key, 'subgroup']]) };
    expect(selectVariant(elsewhere, 'conv3x3', 'wgrad', key).name).toBe('direct');
  });

  it('describeVariants and runnableVariants list what runs, with one default per pass', () => {
    const rows = describeVariants(firefoxLavapipe());
    const sub = rows.filter((r) => r.variant === 'subgroup');
    expect(sub.length).toBeGreaterThan(0);
    for (const r of sub) expect(r.problem).toMatch(/subgroups/);
    expect(runnableVariants(firefoxLavapipe())).toEqual([
      { family: 'conv3x3', variant: 'tiled' },
      { family: 'conv3x3', variant: 'direct' },
      { family: 'convTranspose3x3s2', variant: 'tiled' },
      { family: 'convTranspose3x3s2', variant: 'direct' },
    ]);
    expect(runnableVariants(swiftshader()).filter((r) => r.variant === 'subgroup')).toHaveLength(2);
    for (const ctx of [lavapipe(), swiftshader(), firefoxLavapipe(), nvidia(), intel()]) {
      const all = describeVariants(ctx);
      for (const key of new Set(all.map((r) => `${r.family}.${r.pass}`))) {
        expect(all.filter((r) => `${r.family}.${r.pass}` === key && r.isDefault)).toHaveLength(1);
      }
    }
  });
});
