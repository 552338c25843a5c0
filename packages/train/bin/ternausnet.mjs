#!/usr/bin/env node
// The `ternausnet` command. Installed from a tarball it runs the built JavaScript (dist/). In a checkout of the
// repository (src/ is there; tarballs do not ship it) it runs the TypeScript sources through tsx, with the
// workspace packages resolved to their sources (the `ternausnet-source` export condition), so no build is needed.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const source = new URL('../src/cli.ts', import.meta.url);
if (existsSync(source)) {
  const addCondition = `export function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, 'ternausnet-source'] });
  }`;
  register(`data:text/javascript,${encodeURIComponent(addCondition)}`);
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  await import(source.href);
} else {
  await import('../dist/cli.js');
}
