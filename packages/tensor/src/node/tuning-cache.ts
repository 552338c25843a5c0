/**
 * The on-disk cache of autotuned kernel choices (`tuneKernels`), one JSON file of entries. An entry holds the
 * choices made on one machine setup, keyed by its fingerprint: the adapter (with its driver version, which the
 * adapter description carries: "Mesa 25.0.7 (LLVM 15.0.6)"), the CPU (model, family, flags: a CPU adapter's
 * speed is the CPU's, and two hosts sold as the same kind differ 3×) and a hash of the kernel sources. When a
 * field changes the entry no longer matches: a new one is tuned, and entries of this adapter and CPU with other
 * kernel sources are dropped on the next save.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KERNELS_MODULE_URL } from '@ternausnet/kernels-wgsl';
import type { Device } from '../device.ts';
import type { TunedProblem } from '../tuning.ts';
import { writeJsonAtomic } from './files.ts';

export interface TuningFingerprint {
  /** Adapter vendor, architecture, device, description (driver version) and kernel class. */
  adapter: string;
  /** CPU model, family/model/stepping, core count and a hash of the instruction-set flags. */
  cpu: string;
  /** Hash of the kernels-wgsl modules' text. */
  kernels: string;
}

interface CacheEntry {
  fingerprint: TuningFingerprint;
  updated: string;
  problems: Record<string, TunedProblem>;
}

interface CacheFile {
  format: 'ternausnet-kernel-tuning';
  version: 1;
  entries: CacheEntry[];
}

/** `$XDG_CACHE_HOME/ternausnet/kernel-tuning.json`, else `~/.cache/ternausnet/kernel-tuning.json`. */
export function defaultTuningCachePath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ternausnet', 'kernel-tuning.json');
}

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The CPU as /proc/cpuinfo tells it (Linux), else as os.cpus() does. */
function cpuIdentity(): string {
  const n = cpus().length;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0]!;
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
    return `${field('model name')} (family ${field('cpu family')} model ${field('model')} stepping ${field('stepping')}) × ${n}, flags ${sha(field('flags'))}`;
  } catch {
    return `${cpus()[0]?.model ?? 'unknown CPU'} × ${n}`;
  }
}

let kernelsHash: string | null = null;
/** Hash of every module file of kernels-wgsl (its src/*.ts in the repository, its dist/*.js when installed). */
function kernelSourceHash(): string {
  if (kernelsHash) return kernelsHash;
  const dir = dirname(fileURLToPath(KERNELS_MODULE_URL));
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|wgsl)$/.test(name) && !name.endsWith('.d.ts')) files.push(p);
    }
  };
  walk(dir);
  const h = createHash('sha256');
  for (const f of files) h.update(f.slice(dir.length)).update('\0').update(readFileSync(f)).update('\0');
  kernelsHash = h.digest('hex').slice(0, 16);
  return kernelsHash;
}

/**
 * lavapipe's code generation settings: they change what a kernel compiles to as much as the CPU does
 * (GALLIUM_OVERRIDE_CPU_CAPS=avx hides AVX-512, and the best register block changes with it: bench/NOTES.md).
 */
const DRIVER_SETTINGS = ['GALLIUM_OVERRIDE_CPU_CAPS', 'LP_NATIVE_VECTOR_WIDTH', 'LP_NUM_THREADS'];

export function tuningFingerprint(device: Device): TuningFingerprint {
  const i = device.adapterInfo;
  const settings = DRIVER_SETTINGS.filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]}`);
  return {
    adapter: [i.vendor, i.architecture, i.device, i.description, `${device.adapterClass} kernels`, ...settings].join(
      ' | ',
    ),
    cpu: cpuIdentity(),
    kernels: kernelSourceHash(),
  };
}

const sameFingerprint = (a: TuningFingerprint, b: TuningFingerprint) =>
  a.adapter === b.adapter && a.cpu === b.cpu && a.kernels === b.kernels;

function readCache(path: string): CacheFile {
  const empty: CacheFile = { format: 'ternausnet-kernel-tuning', version: 1, entries: [] };
  if (!existsSync(path)) return empty;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`kernel tuning cache ${path} is not valid JSON (${(e as Error).message}); delete it to retune`);
  }
  const f = parsed as Partial<CacheFile>;
  if (f.format !== 'ternausnet-kernel-tuning' || f.version !== 1 || !Array.isArray(f.entries)) {
    throw new Error(`${path} is not a version-1 kernel tuning cache; delete it to retune`);
  }
  return f as CacheFile;
}

export interface LoadedTuning {
  path: string;
  /** Choices put into `device.kernelChoices` (0 when nothing matched this machine). */
  applied: number;
  /** What was tuned on this machine setup, by problem key (`tuneKernels` need not measure these again). */
  tuned: Map<string, TunedProblem>;
  /** Why the cache could not be used (a broken file), or null. Nothing is applied then. */
  problem: string | null;
}

/**
 * Put the cached choices of this machine setup (adapter, driver, CPU, kernel sources) into
 * `device.kernelChoices`. A missing file applies nothing; a broken one applies nothing and says why.
 */
export function loadKernelTuning(device: Device, path = defaultTuningCachePath()): LoadedTuning {
  let cache: CacheFile;
  try {
    cache = readCache(path);
  } catch (e) {
    return { path, applied: 0, tuned: new Map(), problem: (e as Error).message };
  }
  const fp = tuningFingerprint(device);
  const entry = cache.entries.find((e) => sameFingerprint(e.fingerprint, fp));
  const problems = Object.values(entry?.problems ?? {});
  for (const p of problems) device.kernelChoices.set(p.key, p.variant);
  return { path, applied: problems.length, tuned: new Map(problems.map((p) => [p.key, p])), problem: null };
}

/**
 * Add `tuned` to this machine setup's entry (atomically: a killed run never leaves a half-written cache).
 * Entries of the same adapter and CPU made with other kernel sources are dropped: they can never match again.
 * A broken cache file is replaced.
 */
export function saveKernelTuning(
  device: Device,
  tuned: readonly TunedProblem[],
  path = defaultTuningCachePath(),
): void {
  let cache: CacheFile;
  try {
    cache = readCache(path);
  } catch {
    cache = { format: 'ternausnet-kernel-tuning', version: 1, entries: [] };
  }
  const fp = tuningFingerprint(device);
  const keep = cache.entries.filter(
    (e) =>
      !(e.fingerprint.adapter === fp.adapter && e.fingerprint.cpu === fp.cpu && e.fingerprint.kernels !== fp.kernels),
  );
  let entry = keep.find((e) => sameFingerprint(e.fingerprint, fp));
  if (!entry) {
    entry = { fingerprint: fp, updated: '', problems: {} };
    keep.push(entry);
  }
  for (const t of tuned) entry.problems[t.key] = t;
  entry.updated = new Date().toISOString();
  mkdirSync(dirname(path), { recursive: true });
  // JSON has no Infinity: a failed candidate's time is written as null.
  writeJsonAtomic(path, { ...cache, entries: keep });
}
