/**
 * What kind of adapter the kernels run on, from its real properties: the class ('cpu' or 'gpu') that picks
 * the default rows of the variant table (variants.ts), and the subgroup sizes the subgroup rows need. Pure:
 * it reads literal values, so it is tested on the info objects of the adapters we know (test/adapter.test.ts)
 * and used the same way by the Node device and by a browser page.
 *
 * Known adapters (read off them; /work/shared/ENVIRONMENT.md):
 * - lavapipe (Mesa llvmpipe, Vulkan): vendor 'mesa', architecture 'software', description 'llvmpipe: …',
 *   isFallbackAdapter, subgroups of exactly 8 lanes (256-bit SIMD), 128 MiB bindings.
 * - SwiftShader (Chromium's CPU adapter): vendor 'google', architecture 'swiftshader', isFallbackAdapter,
 *   subgroups of exactly 4 lanes, 1 GiB bindings.
 * - Firefox: empty vendor/architecture/device/description (it hides them), no subgroups; on lavapipe it
 *   offers 128 MiB bindings. Nothing left to tell a CPU from a GPU but isFallbackAdapter.
 * - GPUs: a vendor and architecture ('nvidia'/'ampere', 'apple'/'metal-3', 'intel'/'gen-12lp', …), subgroups
 *   of 32 or 64 lanes, or a range (Intel: 8–32), bindings of 1–4 GiB.
 */
import type { AdapterClass, SubgroupSizes } from './runtime.ts';

/** The fields of GPUAdapterInfo this reads (all optional: browsers differ in what they fill in). */
export interface AdapterInfoFields {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly subgroupMinSize?: number;
  readonly subgroupMaxSize?: number;
  /** Newer browsers put it here; older ones on the adapter (pass it as `isFallbackAdapter`). */
  readonly isFallbackAdapter?: boolean;
}

export type AdapterKind = 'lavapipe' | 'swiftshader' | 'warp' | 'software' | 'gpu' | 'undisclosed';

export interface AdapterProfile {
  /** Selects the default kernel variants (variants.ts). */
  readonly adapterClass: AdapterClass;
  readonly kind: AdapterKind;
  /** For logs: the description, or vendor and architecture, or what is known. */
  readonly name: string;
  /** Null when the adapter does not report them or has no 'subgroups' feature. */
  readonly subgroupSizes: SubgroupSizes | null;
  /** The properties that decided the class, in words (printed by the tests and the benchmark). */
  readonly reasons: readonly string[];
}

const SOFTWARE_NAMES: readonly [RegExp, AdapterKind][] = [
  [/swiftshader/, 'swiftshader'],
  [/llvmpipe|lavapipe/, 'lavapipe'],
  [/microsoft basic render|\bwarp\b/, 'warp'],
  [/software|\bcpu\b/, 'software'],
];

/**
 * Classify an adapter. Rules, first match wins: a software rasterizer recognised by its info fields (kind
 * named) or marked isFallbackAdapter is 'cpu'; empty info strings (Firefox) with no fallback mark are
 * 'undisclosed' and assumed 'gpu' (most browsers run on one; every variant is correct on either, only speed
 * differs); anything else is a 'gpu'.
 */
export function describeAdapter(
  info: AdapterInfoFields,
  features: Iterable<string>,
  limits: { readonly maxStorageBufferBindingSize: number },
  isFallbackAdapter?: boolean,
): AdapterProfile {
  const fallback = info.isFallbackAdapter ?? isFallbackAdapter ?? false;
  const strings = [info.vendor, info.architecture, info.device, info.description].map((s) => s ?? '');
  const text = strings.join(' ').toLowerCase();
  const undisclosed = strings.every((s) => s.trim() === '');
  const hasSubgroups = new Set(features).has('subgroups');
  const { subgroupMinSize: min, subgroupMaxSize: max } = info;
  const subgroupSizes = hasSubgroups && min && max ? { min, max } : null;

  const reasons: string[] = [];
  let kind: AdapterKind = undisclosed ? 'undisclosed' : 'gpu';
  if (info.vendor === 'mesa' && info.architecture === 'software') kind = 'lavapipe';
  else {
    const named = SOFTWARE_NAMES.find(([pattern]) => pattern.test(text));
    if (named) kind = named[1];
  }
  if (kind !== 'gpu' && kind !== 'undisclosed') reasons.push(`a software rasterizer by its info (${kind})`);
  if (fallback) reasons.push('isFallbackAdapter');
  let adapterClass: AdapterClass = kind === 'gpu' || kind === 'undisclosed' ? 'gpu' : 'cpu';
  if (fallback) adapterClass = 'cpu';
  if (kind === 'undisclosed' && !fallback) {
    reasons.push('the adapter info is empty (Firefox hides it) and not marked as a fallback: assumed a GPU');
  }
  if (kind === 'gpu' && !fallback) reasons.push(`a hardware adapter by its info (${info.vendor || info.description})`);
  reasons.push(
    subgroupSizes
      ? `subgroups of ${min === max ? `${min}` : `${min}–${max}`} lanes`
      : hasSubgroups
        ? 'subgroups of unreported size'
        : 'no subgroups',
    `${Math.round(limits.maxStorageBufferBindingSize / 2 ** 20)} MiB bindings`,
  );
  const name =
    info.description?.trim() ||
    [info.vendor, info.architecture, info.device].filter((s) => s?.trim()).join(' ') ||
    (fallback ? 'undisclosed fallback adapter' : 'undisclosed adapter');
  return { adapterClass, kind, name, subgroupSizes, reasons };
}
