import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * The workspace packages export their TypeScript sources under the `ternausnet-source` condition (and built
 * `dist/` for everyone else): tests run on the sources, no build needed. Child processes the tests start (tsx,
 * the CLI bin) get the condition through NODE_OPTIONS.
 */
const SOURCE_CONDITION = 'ternausnet-source';
const flag = `--conditions=${SOURCE_CONDITION}`;
if (!(process.env.NODE_OPTIONS ?? '').includes(flag)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${flag}`.trim();
}
const conditions = [SOURCE_CONDITION, 'node', 'import', 'module', 'default'];

// Every temporary file of a run (the training tests alone write ~2.5 GB of checkpoints, the browsers their
// profiles) goes under one directory, which test/support/temp-dir.ts removes when the run ends: forked workers
// and the processes they start inherit TMPDIR.
if (!process.env.TERNAUSNET_TEST_TMP) {
  process.env.TERNAUSNET_TEST_TMP = mkdtempSync(join(tmpdir(), 'ternausnet-tests-'));
  process.env.TMPDIR = process.env.TERNAUSNET_TEST_TMP;
}

// One WebGPU device per test file; files run one at a time because the CPU adapter (lavapipe) already uses
// every core, and parallel files would only thrash.
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: [SOURCE_CONDITION, 'node'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/temp-dir.ts'],
  },
});
