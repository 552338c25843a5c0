/**
 * UNet11 / UNet16 weights as PyTorch state dicts in safetensors files: load (with the authors' alias keys and
 * DataParallel's `module.` prefix accepted), save (with the aliases, so that PyTorch's strict
 * `load_state_dict` takes our files), and the clear errors a wrong file deserves.
 */
import { type Module, type Tensor, writeData } from '@ternausnet/tensor';
import { parseSafetensors, serializeSafetensors } from './safetensors.ts';
import { ENCODER_ALIASES, type UNet11 } from './unet11.ts';
import { UNet16 } from './unet16.ts';

/** Either TernausNet model. */
export type TernausNetModel = UNet11 | UNet16;

/** A tensor from a weight file: its shape and a (lazy) float32 view of its data. */
export interface WeightSource {
  readonly shape: readonly number[];
  toFloat32(): Float32Array;
}

/** A state dict that does not fit the model: every problem is listed. */
export class StateDictError extends Error {
  constructor(
    readonly source: string,
    readonly missing: readonly string[],
    readonly unexpected: readonly string[],
    readonly mismatched: readonly string[],
    readonly model = 'UNet11',
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) parts.push(`wrong shapes (${mismatched.length}): ${mismatched.join('; ')}`);
    super(`${source} does not fit ${model}:\n  ${parts.join('\n  ')}`);
    this.name = 'StateDictError';
  }
}

/**
 * The alias names a model's PyTorch state dict gives its encoder convolutions (prefix → `encoder.N`): UNet11's
 * `conv1` … `conv5`, UNet16's `conv1.0` … `conv5.4`. Other modules (the VGG11 classifier) use UNet11's table,
 * whose names they do not have.
 */
function aliasesOf(model: Module): Readonly<Record<string, number>> {
  const own = (model as { encoderAliases?: Readonly<Record<string, number>> }).encoderAliases;
  return own ?? ENCODER_ALIASES;
}

const aliasPatterns = new Map<Readonly<Record<string, number>>, RegExp>();
function aliasPattern(aliases: Readonly<Record<string, number>>): RegExp {
  let re = aliasPatterns.get(aliases);
  if (!re) {
    const names = Object.keys(aliases).map((k) => k.replace(/\./g, '\\.'));
    re = new RegExp(`^(${names.join('|')})\\.(weight|bias)$`);
    aliasPatterns.set(aliases, re);
  }
  return re;
}

/**
 * The canonical (encoder.N.*) key for a state-dict key: strips `module.` prefixes and resolves the aliases of
 * `aliases` (UNet11's by default).
 */
export function canonicalKey(
  key: string,
  aliases: Readonly<Record<string, number>> = ENCODER_ALIASES,
): { key: string; alias: boolean } {
  let k = key;
  while (k.startsWith('module.')) k = k.slice('module.'.length);
  const m = aliasPattern(aliases).exec(k);
  if (m) return { key: `encoder.${aliases[m[1]!]}.${m[2]}`, alias: true };
  return { key: k, alias: false };
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Copy a state dict into the model's parameters. Every parameter must be present (under its name or its
 * alias, with or without `module.`), with its exact shape; anything else in the dict is an error.
 */
export function loadStateDict(model: Module, dict: ReadonlyMap<string, WeightSource>, source = 'state dict'): void {
  const params = model.namedParameters();
  const aliases = aliasesOf(model);
  // Every file entry that maps to a parameter, in file order; PyTorch copies them all, so an alias (which comes
  // after encoder.N.* in its state dicts) wins when both are present. We do the same.
  const sources = new Map<string, { from: string; t: WeightSource; alias: boolean }[]>();
  const unexpected: string[] = [];
  for (const [name, t] of dict) {
    const { key, alias } = canonicalKey(name, aliases);
    if (!params.has(key)) {
      unexpected.push(name);
      continue;
    }
    const list = sources.get(key) ?? [];
    list.push({ from: name, t, alias });
    sources.set(key, list);
  }
  const chosen = new Map<string, { from: string; t: WeightSource }>();
  for (const [key, list] of sources) chosen.set(key, list.find((s) => s.alias) ?? list[list.length - 1]!);
  const missing = [...params.keys()].filter((k) => !chosen.has(k));
  const mismatched: string[] = [];
  for (const [key, list] of sources) {
    const shape = params.get(key)!.shape;
    for (const { from, t } of list) {
      if (!sameShape(t.shape, shape)) mismatched.push(`${from}: file [${t.shape}] vs model [${shape}]`);
    }
  }
  if (missing.length || unexpected.length || mismatched.length) {
    throw new StateDictError(source, missing, unexpected, mismatched, model instanceof UNet16 ? 'UNet16' : 'UNet11');
  }
  for (const [key, { t }] of chosen) writeData(params.get(key)!, t.toFloat32());
}

/** Read the model's parameters back to the CPU, under PyTorch's state-dict names (and the aliases). */
export async function stateDict(
  model: TernausNetModel,
  options: { aliases?: boolean } = {},
): Promise<Map<string, { shape: readonly number[]; data: Float32Array }>> {
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const params = model.namedParameters();
  const arrays = await Promise.all([...params.values()].map((t: Tensor) => t.toArray()));
  const byName = new Map([...params.keys()].map((k, i) => [k, { shape: params.get(k)!.shape, data: arrays[i]! }]));
  // PyTorch's order: encoder.*, then the aliases conv1.* … conv5.*, then center … final.
  for (const [k, v] of byName) if (k.startsWith('encoder.')) out.set(k, v);
  if (options.aliases ?? true) {
    for (const [alias, index] of Object.entries(model.encoderAliases)) {
      for (const part of ['weight', 'bias']) out.set(`${alias}.${part}`, byName.get(`encoder.${index}.${part}`)!);
    }
  }
  for (const [k, v] of byName) if (!k.startsWith('encoder.')) out.set(k, v);
  return out;
}

export interface SaveWeightsOptions {
  /** Also write the alias keys conv1.* … conv5.* (default true: PyTorch's strict load_state_dict needs them). */
  aliases?: boolean;
  metadata?: Record<string, string>;
}

/** The model's weights as safetensors bytes (a PyTorch state dict; in Node `saveWeights` writes them to a file). */
export async function serializeWeights(model: TernausNetModel, options: SaveWeightsOptions = {}): Promise<Uint8Array> {
  const dict = await stateDict(model, options.aliases === undefined ? {} : { aliases: options.aliases });
  return serializeSafetensors(dict, weightsMetadata(model, options));
}

/** The metadata our weight files carry: the architecture (as ternaus' constructors name it) and the caller's. */
export function weightsMetadata(model: TernausNetModel, options: SaveWeightsOptions = {}): Record<string, string> {
  return {
    format: 'pt',
    ...(model instanceof UNet16
      ? { model: 'UNet16', is_deconv: String(model.deconv) }
      : { model: 'UNet11', is_deconv: 'true' }),
    num_filters: String(model.numFilters),
    ...options.metadata,
  };
}

/** Load safetensors bytes (ours, or the authors' PyTorch checkpoint converted) into any module. */
export function loadWeightsFromBytes(model: Module, bytes: Uint8Array, source = 'weights'): void {
  loadStateDict(model, parseSafetensors(bytes, source).tensors, source);
}
