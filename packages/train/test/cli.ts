/** Runs the `ternausnet` bin as a user would (plain Node, from the repository root) for the CLI tests. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateCacheEnv } from '../../../test/support/cache-env.ts';

const root = new URL('../../..', import.meta.url).pathname;
const bin = join(root, 'packages/train/bin/ternausnet.mjs');

/** The environment the CLI tests run the bin in: a cache folder of their own (see `privateCacheEnv`). */
export const cliEnv = privateCacheEnv(mkdtempSync(join(tmpdir(), 'ternausnet-cli-cache-')));

/** The exit code and everything the command printed (stdout and stderr interleaved). */
export function ternausnet(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cliEnv });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/**
 * `command --name value …` in the flags' order; `true` is a flag without a value (`--half`). Keys are written as
 * the CLI spells them, so a test can be grepped for the flag it passes.
 */
export function cliArgs(command: string, flags: Record<string, string | number | true>): string[] {
  return [
    command,
    ...Object.entries(flags).flatMap(([name, v]) => (v === true ? [`--${name}`] : [`--${name}`, `${v}`])),
  ];
}
