/** The environment for a child process the tests start with a cache folder of its own. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `process.env` with XDG_CACHE_HOME at `cacheHome` (so no test reads or writes the kernel tuning of this
 * machine's user: tests never depend on tuning) and Mesa's shader cache, which also follows XDG_CACHE_HOME, kept
 * where it was (or every pipeline would be compiled again).
 */
export function privateCacheEnv(cacheHome: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    XDG_CACHE_HOME: cacheHome,
    MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  };
}
