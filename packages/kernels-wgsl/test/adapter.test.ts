/**
 * Adapter classification on the info objects of adapters we know (read off lavapipe here; SwiftShader and
 * Firefox from /work/shared/ENVIRONMENT.md; GPUs from their documented info strings), and the kernel variants
 * each gets.
 */
import { describe, expect, it } from 'vitest';
import { type AdapterInfoFields, describeAdapter } from '../src/adapter.ts';
import type { KernelContext } from '../src/index.ts';
import { selectVariant } from '../src/variants.ts';

const MiB = 2 ** 20;
const lavapipe: AdapterInfoFields = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe-llvm-15-0-6-256-bits-',
  description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1',
  subgroupMinSize: 8,
  subgroupMaxSize: 8,
  isFallbackAdapter: true,
};
const swiftshader: AdapterInfoFields = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: '',
  description: '',
  subgroupMinSize: 4,
  subgroupMaxSize: 4,
  isFallbackAdapter: true,
};
const firefox: AdapterInfoFields = { vendor: '', architecture: '', device: '', description: '' };
const nvidia: AdapterInfoFields = {
  vendor: 'nvidia',
  architecture: 'ampere',
  device: '',
  description: 'NVIDIA GeForce RTX 3080',
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
};
const apple: AdapterInfoFields = {
  vendor: 'apple',
  architecture: 'metal-3',
  device: '',
  description: '',
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
};
const intel: AdapterInfoFields = {
  vendor: 'intel',
  architecture: 'gen-12lp',
  device: '',
  description: '',
  subgroupMinSize: 8,
  subgroupMaxSize: 32,
};

function contextOf(info: AdapterInfoFields, features: string[], bindingBytes: number): KernelContext {
  const profile = describeAdapter(info, features, { maxStorageBufferBindingSize: bindingBytes });
  const none = () => {
    throw new Error('no dispatch');
  };
  return {
    device: {} as GPUDevice,
    limits: {
      maxStorageBufferBindingSize: bindingBytes,
      maxComputeWorkgroupsPerDimension: 65535,
      minStorageBufferOffsetAlignment: 256,
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupStorageSize: 16384,
    },
    adapterClass: profile.adapterClass,
    features: new Set(features),
    subgroupSizes: profile.subgroupSizes,
    pipeline: none,
    dispatch: none,
    scratch: none,
  };
}

describe('describeAdapter', () => {
  it('lavapipe: a CPU adapter with fixed 8-lane subgroups, recognised by its info and its fallback mark', () => {
    const p = describeAdapter(lavapipe, ['subgroups', 'timestamp-query'], { maxStorageBufferBindingSize: 128 * MiB });
    expect(p).toMatchObject({ adapterClass: 'cpu', kind: 'lavapipe', subgroupSizes: { min: 8, max: 8 } });
    expect(p.reasons).toContain('isFallbackAdapter');
    expect(p.name).toMatch(/^llvmpipe/);
    expect(selectVariant(contextOf(lavapipe, ['subgroups'], 128 * MiB), 'conv3x3', 'wgrad').name).toBe('subgroup');
  });

  it('SwiftShader: CPU with 4-lane subgroups; the subgroup kernels are generated for 4 lanes there', () => {
    const p = describeAdapter(swiftshader, ['subgroups'], { maxStorageBufferBindingSize: 1024 * MiB });
    expect(p).toMatchObject({ adapterClass: 'cpu', kind: 'swiftshader', subgroupSizes: { min: 4, max: 4 } });
    expect(p.name).toBe('google swiftshader');
    const ctx = contextOf(swiftshader, ['subgroups'], 1024 * MiB);
    expect(selectVariant(ctx, 'conv3x3', 'forward').name).toBe('winograd-by-shape');
    expect(selectVariant(ctx, 'convTranspose3x3s2', 'dgrad').name).toBe('subgroup');
    // Without the feature granted to the device, the sizes mean nothing.
    expect(describeAdapter(swiftshader, [], { maxStorageBufferBindingSize: 1024 * MiB }).subgroupSizes).toBeNull();
  });

  it("Firefox's empty info: undisclosed, assumed a GPU unless marked as a fallback, and says so", () => {
    const p = describeAdapter(firefox, [], { maxStorageBufferBindingSize: 128 * MiB });
    expect(p).toMatchObject({ adapterClass: 'gpu', kind: 'undisclosed', subgroupSizes: null });
    expect(p.reasons.join('; ')).toMatch(/info is empty .* assumed a GPU.*no subgroups.*128 MiB bindings/);
    expect(p.name).toBe('undisclosed adapter');
    const marked = describeAdapter(firefox, [], { maxStorageBufferBindingSize: 128 * MiB }, true);
    expect(marked).toMatchObject({ adapterClass: 'cpu', kind: 'undisclosed' });
    // No subgroups: the default is a kernel that runs everywhere ('tiled' as a GPU, 'direct' as a CPU).
    expect(selectVariant(contextOf(firefox, [], 128 * MiB), 'conv3x3', 'forward').name).toBe('tiled');
    expect(selectVariant(contextOf(firefox, [], 128 * MiB), 'convTranspose3x3s2', 'forward').name).toBe('tiled');
  });

  it('GPUs (NVIDIA, Apple, Intel with a lane range) are GPUs and never get the subgroup kernels', () => {
    for (const info of [nvidia, apple, intel]) {
      const p = describeAdapter(info, ['subgroups'], { maxStorageBufferBindingSize: 2048 * MiB });
      expect(p.adapterClass, info.vendor).toBe('gpu');
      expect(p.kind).toBe('gpu');
      const ctx = contextOf(info, ['subgroups'], 2048 * MiB);
      expect(selectVariant(ctx, 'conv3x3', 'forward').name).toBe('tiled');
      expect(selectVariant(ctx, 'convTranspose3x3s2', 'forward').name).toBe('tiled');
    }
    expect(describeAdapter(intel, ['subgroups'], { maxStorageBufferBindingSize: MiB }).subgroupSizes).toEqual({
      min: 8,
      max: 32,
    });
  });

  it('other software rasterizers by name (WARP), and a fallback mark alone', () => {
    const warp = { vendor: 'microsoft', architecture: '', device: '', description: 'Microsoft Basic Render Driver' };
    expect(describeAdapter(warp, [], { maxStorageBufferBindingSize: MiB })).toMatchObject({
      adapterClass: 'cpu',
      kind: 'warp',
    });
    expect(
      describeAdapter({ ...nvidia, isFallbackAdapter: true }, [], { maxStorageBufferBindingSize: MiB }).adapterClass,
    ).toBe('cpu');
  });
});
