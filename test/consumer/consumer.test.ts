/**
 * The packages as another project gets them: `npm pack` (which builds each to dist/), installed from the tarballs
 * alone into a scratch project outside the repository, with the registry packages (webgpu, sharp, ...) pinned by
 * this repository's package-lock.json and taken from the npm cache (`npm ci --offline`: no network). Then a plain
 * `node app.mjs` (no tsx) builds UNet11, takes an Adam step and predicts; `tsc` checks a strict TypeScript
 * consumer against the shipped .d.ts; the `ternausnet` bin runs from the built JavaScript.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const PACKAGES = ['kernels-wgsl', 'tensor', 'ternausnet', 'train'];

/** The environment of a stranger's shell: without the source condition vitest adds for the repository's own children. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

interface LockEntry {
  version: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * A package-lock for the scratch project: our tarballs, plus every registry package they need, copied from the
 * repository's lock (exact versions and integrity, so npm needs no registry metadata and finds them in its cache).
 */
function scratchLock(tarballs: Map<string, string>): object {
  const repoLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, unknown> = {};
  const rootDeps: Record<string, string> = {};
  // [package name, lock key of the package that needs it]: resolved as Node does, nested first, then upwards.
  const queue: [string, string][] = [];
  for (const [name, file] of tarballs) {
    const folder = name === '@ternausnet/model' ? 'ternausnet' : name.split('/')[1]!;
    const manifest = JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8')) as {
      version: string;
      dependencies?: Record<string, string>;
      bin?: Record<string, string>;
    };
    rootDeps[name] = `file:${file}`;
    packages[`node_modules/${name}`] = {
      version: manifest.version,
      resolved: `file:${file}`,
      dependencies: manifest.dependencies,
      ...(manifest.bin ? { bin: manifest.bin } : {}),
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) if (!tarballs.has(dep)) queue.push([dep, '']);
  }
  while (queue.length > 0) {
    const [name, from] = queue.shift()!;
    let key: string | null = null;
    for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
      const candidate = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (candidate in repoLock.packages) {
        key = candidate;
        break;
      }
      if (at === '') break;
    }
    if (!key)
      throw new Error(`${name} (needed by ${from || 'our packages'}) is not in the repository's package-lock.json`);
    if (key in packages) continue;
    const entry = repoLock.packages[key]!;
    packages[key] = entry;
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) queue.push([dep, key]);
  }
  return {
    name: 'consumer',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'consumer', dependencies: rootDeps }, ...packages },
  };
}

describe('the packages installed from their tarballs into another project', () => {
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ternausnet-consumer-'));
    const packDir = join(dir, 'tarballs');
    mkdirSync(packDir);
    const workspaces = PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`]);
    // In dependency order: each package's prepack builds it against the dist/ of the ones before.
    await run('npm', ['pack', ...workspaces, '--pack-destination', packDir, '--silent'], {
      cwd: root,
      env: plainEnv(),
    });
    const tarballs = new Map<string, string>();
    for (const f of readdirSync(packDir)) {
      const name = `@ternausnet/${f.replace(/^ternausnet-/, '').replace(/-\d+\.\d+\.\d+\.tgz$/, '')}`;
      tarballs.set(name, `tarballs/${f}`);
    }
    expect([...tarballs.keys()].sort()).toEqual([
      '@ternausnet/kernels-wgsl',
      '@ternausnet/model',
      '@ternausnet/tensor',
      '@ternausnet/train',
    ]);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: Object.fromEntries([...tarballs].map(([n, f]) => [n, `file:${f}`])),
      }),
    );
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(scratchLock(tarballs), null, 2));
    cpSync(join(root, 'test/consumer/app'), dir, { recursive: true });
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env: plainEnv() });
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships built JavaScript and declarations, not TypeScript sources, and no tsx', () => {
    for (const pkg of ['tensor', 'model', 'kernels-wgsl', 'train']) {
      const p = join(dir, 'node_modules/@ternausnet', pkg);
      expect(existsSync(join(p, 'dist/index.js')), pkg).toBe(true);
      expect(existsSync(join(p, 'dist/index.d.ts')), pkg).toBe(true);
      expect(existsSync(join(p, 'src')), pkg).toBe(false);
    }
    expect(existsSync(join(dir, 'node_modules/tsx'))).toBe(false);
  });

  it('runs a plain `node app.mjs`: UNet11, one Adam step, a tiled prediction', async () => {
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: dir, env: plainEnv(), timeout: 300_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(result.adapter).toMatch(/kernels\]$/);
    expect(result.loss).toBeGreaterThan(0);
    expect(result.changed).toBe(true);
    expect(result).toMatchObject({ width: 40, height: 35, probabilities: 40 * 35, inUnitInterval: true });
    expect(result.kernelsHash).toMatch(/^[0-9a-f]{16}$/);
    // 56 = the authors' state-dict keys (encoder.N.*, the conv1…conv5 aliases, the decoder).
    expect(result.weightTensors).toBe(56);
  }, 300_000);

  it('type-checks strict TypeScript consumers against the shipped .d.ts files: Node, and browser code', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    for (const project of ['tsconfig.json', 'tsconfig.browser.json']) {
      const r = await run(process.execPath, [tsc, '-p', project], { cwd: dir, env: plainEnv() }).catch(
        (e: { stdout: string }) => ({ stdout: e.stdout, failed: true }),
      );
      expect(r.stdout, project).toBe('');
      expect('failed' in r, project).toBe(false);
    }
  }, 120_000);

  it('runs the `ternausnet` bin from the built JavaScript', async () => {
    const { stdout } = await run(join(dir, 'node_modules/.bin/ternausnet'), ['--help'], { cwd: dir, env: plainEnv() });
    expect(stdout).toContain('usage:');
    expect(stdout).toContain('ternausnet predict');
  });
});
