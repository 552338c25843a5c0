import { defineConfig } from 'vitest/config';

// One WebGPU device per test file; files run one at a time because the CPU adapter (lavapipe) already uses
// every core, and parallel files would only thrash.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
