#!/usr/bin/env node
// Build the workspace package in the current directory: a clean dist/ with tsc's JavaScript and declarations
// (tsconfig.build.json; relative `./x.ts` imports rewritten to `./x.js`), plus the plain JavaScript modules
// that live beside the sources (src/**/*.mjs, e.g. the data loader's worker). Run by each package's `build`
// and `prepack` scripts; `npm run build` at the root builds them all in dependency order.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

const dir = process.cwd();
rmSync(join(dir, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

function copyPlainModules(from) {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const path = join(from, e.name);
    if (e.isDirectory()) copyPlainModules(path);
    else if (e.name.endsWith('.mjs')) cpSync(path, join(dir, 'dist', relative(join(dir, 'src'), path)));
  }
}
if (existsSync(join(dir, 'src'))) copyPlainModules(join(dir, 'src'));
