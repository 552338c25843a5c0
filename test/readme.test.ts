/** The README's library example runs as written (extracted from the first ```ts block and run with tsx). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;

describe('README', () => {
  it('library example runs and its loss is finite', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    // Inside the repository so that the workspace packages resolve exactly as for a user of this checkout.
    const dir = join(root, '.tmp', 'readme-example');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'example.ts');
    writeFileSync(file, block![1]!);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const losses = [...r.stdout.matchAll(/step \d: loss ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(3);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(r.stdout).toMatch(/\[ 8, 3, 3, 3 \]/);
  });
});
