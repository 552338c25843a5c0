/** Runs the `ternausnet` bin as a user would (plain Node, from the repository root) for the CLI tests. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../..', import.meta.url).pathname;
const bin = join(root, 'packages/train/bin/ternausnet.mjs');

/**
 * The commands' cache folder: a private one, so that no test reads the kernel tuning this machine's user made
 * (tests never depend on tuning); Mesa's shader cache, which also follows XDG_CACHE_HOME, stays where it is.
 */
export const cacheHome = mkdtempSync(join(tmpdir(), 'ternausnet-cli-cache-'));
/** The environment the CLI tests run the bin in (a private cache folder, see `cacheHome`). */
export const cliEnv = {
  ...process.env,
  XDG_CACHE_HOME: cacheHome,
  MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
};

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
