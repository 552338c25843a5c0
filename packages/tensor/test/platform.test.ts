/**
 * Where the device's GPU and options come from: the environment is read in one place (the Node entry's
 * `deviceOptionsFromEnv`), explicit options win over it, and a GPU can be injected (`navigator.gpu` in a page;
 * here Dawn's own entry point, created outside the library). Also `time()` and `profile()`, which moved into
 * their own module.
 */
import { Device, deviceOptionsFromEnv, parseVariantOverrides, tidy, zeros } from '@ternausnet/tensor';
import { describe, expect, it } from 'vitest';
import { create } from 'webgpu';

describe('device options from the environment', () => {
  it('reads the four variables, and empty ones count as unset', () => {
    expect(
      deviceOptionsFromEnv({
        WEBGPU_BACKEND: 'vulkan',
        WEBGPU_ADAPTER: 'llvmpipe',
        TERNAUSNET_KERNELS: 'gpu',
        TERNAUSNET_VARIANTS: 'conv3x3=tiled,convTranspose3x3s2=direct',
      }),
    ).toEqual({
      backend: 'vulkan',
      adapter: 'llvmpipe',
      kernels: 'gpu',
      variants: { conv3x3: 'tiled', convTranspose3x3s2: 'direct' },
    });
    expect(deviceOptionsFromEnv({ WEBGPU_BACKEND: '', TERNAUSNET_VARIANTS: '' })).toEqual({});
  });

  it('names the variable and the bad value', () => {
    expect(() => deviceOptionsFromEnv({ TERNAUSNET_KERNELS: 'fast' })).toThrow(
      "TERNAUSNET_KERNELS must be 'cpu' or 'gpu', got 'fast'",
    );
    expect(() => deviceOptionsFromEnv({ TERNAUSNET_VARIANTS: 'conv3x3' })).toThrow(
      "TERNAUSNET_VARIANTS: expected family=variant pairs separated by commas, got 'conv3x3'",
    );
    expect(() => parseVariantOverrides('a=b=c', '?variants=')).toThrow('?variants=: expected family=variant pairs');
  });
});

describe('a device on an injected GPU', () => {
  it('opens on the given GPU, applies explicit kernel options, and times and profiles its work', async () => {
    const device = await Device.create({ gpu: create([]), kernels: 'gpu', variants: { conv3x3: 'direct' } });
    try {
      expect(device.adapterName).toMatch(/\[injected GPU, gpu kernels\]$/);
      expect(device.adapterClass).toBe('gpu');
      expect(device.variantOverrides).toEqual({ conv3x3: 'direct' });
      const x = zeros([64, 64], { device });
      const before = device.stats().dispatches;
      const timed = await device.time(() => tidy(() => x.add(1).keep().dispose()));
      expect(timed.wallMs).toBeGreaterThan(0);
      if (device.features.has('timestamp-query')) {
        expect(timed.gpuMs).toBeGreaterThanOrEqual(0);
        const profile = await device.profile(() => {
          tidy(() => x.mul(2).add(3).keep().dispose());
        });
        expect(profile.length).toBe(2);
        for (const d of profile) expect(d.ms).toBeGreaterThanOrEqual(0);
      } else expect(timed.gpuMs).toBeNull();
      expect(device.stats().dispatches).toBeGreaterThan(before);
      x.dispose();
    } finally {
      await device.destroy();
    }
  });
});
