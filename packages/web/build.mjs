#!/usr/bin/env node
// Bundle the page with esbuild into packages/web/dist/ (app.js + index.html). The workspace packages are taken
// from their TypeScript sources (the `ternausnet-source` export condition) through their browser-safe entries;
// no Node module may reach the bundle (esbuild fails on `node:*` imports for platform 'browser').
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DIST = join(here, 'dist');

/** Bundle `entries` ({ outName: sourcePath }) for browsers into `outdir`. */
export async function bundle(entries, outdir, { minify = false } = {}) {
  await build({
    entryPoints: entries,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['ternausnet-source'],
    sourcemap: true,
    minify,
    logLevel: 'warning',
  });
}

export async function buildWeb() {
  mkdirSync(DIST, { recursive: true });
  await bundle({ app: join(here, 'src/main.ts') }, DIST, { minify: true });
  copyFileSync(join(here, 'index.html'), join(DIST, 'index.html'));
  return DIST;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildWeb();
  console.error(`built ${DIST}`);
}
