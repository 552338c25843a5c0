/** The README's library examples run as written (extracted from its ```ts blocks and run with tsx). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { privateCacheEnv } from './support/cache-env.ts';

const root = new URL('..', import.meta.url).pathname;

const readme = () => readFileSync(join(root, 'README.md'), 'utf8');

/** Run a README block as a file of its own (inside the repository, so the workspace packages resolve as for a user of this checkout). */
function runBlock(code: string, env: NodeJS.ProcessEnv = process.env) {
  const dir = join(root, '.tmp', 'readme-example');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'example.ts');
  writeFileSync(file, code);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
    env,
  });
  rmSync(dir, { recursive: true, force: true });
  return r;
}

describe('README', () => {
  it('library example runs and its loss is finite', () => {
    const block = /```ts\n([\s\S]*?)```/.exec(readme());
    expect(block).not.toBeNull();
    const r = runBlock(block![1]!);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const losses = [...r.stdout.matchAll(/step \d: loss ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(3);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(r.stdout).toMatch(/\[ 8, 3, 3, 3 \]/);
  });

  it('kernel tuning example runs and reports its problems', () => {
    const block = /```ts\n(import \{ DEFAULT_ARCHITECTURE, tuneModelKernels \}[\s\S]*?)```/.exec(readme());
    expect(block).not.toBeNull();
    // The tuning cache goes to a private folder, not the user's ~/.cache.
    const cache = mkdtempSync(join(tmpdir(), 'readme-tuning-'));
    const r = runBlock(block![1]!, privateCacheEnv(cache));
    rmSync(cache, { recursive: true, force: true });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const m = /(\d+) problems: (\d+) tuned now, 0 cached, (\d+) left/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBe(53);
    expect(Number(m![2]) + Number(m![3])).toBe(53);
  });
});
