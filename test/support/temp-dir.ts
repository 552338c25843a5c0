import { rmSync } from 'node:fs';

/** vitest globalSetup: the run's temporary directory (vitest.config.ts) is removed when the run ends. */
export default function setup(): () => void {
  return () => {
    const dir = process.env.TERNAUSNET_TEST_TMP;
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
