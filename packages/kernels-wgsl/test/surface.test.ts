/**
 * The package's public surface stays narrow: what the tensor package and the benchmarks call (entry points, their
 * constants, the runtime seam's error), not the code generators, runners and packers behind them.
 */
import { describe, expect, it } from 'vitest';

describe('kernels-wgsl public surface', () => {
  it('exports at most 30 runtime names, none of them internals', async () => {
    const names = Object.keys(await import('@ternausnet/kernels-wgsl'));
    expect(names.length, `runtime exports: ${names.join(', ')}`).toBeLessThanOrEqual(30);
    // Shader sources, subgroup runners and packers, binding helpers and flag bits are implementation details.
    const internal = names.filter((n) =>
      /Source$|^runSubgroup|^pack|^FLAG_|^memoSource$|^uniformBlock$|Chunks$/.test(n),
    );
    expect(internal).toEqual([]);
  });
});
