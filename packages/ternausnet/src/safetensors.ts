/**
 * safetensors, read and written without dependencies. Format: u64 little-endian header length N, N bytes of
 * UTF-8 JSON `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { str: str } }`, then the
 * little-endian data section, which the tensors tile exactly.
 *
 * Validation follows the reference implementation (huggingface/safetensors): header length bounded (100 MB)
 * and inside the file, valid JSON object, known dtypes, non-negative integer shapes, shape × dtype size = byte
 * length, offsets inside the data section, no overlaps, no gaps, no duplicate keys, metadata string → string.
 * Every violation is a SafetensorsError naming the file, the tensor and the rule. A lying header never drives an
 * allocation: sizes are checked against the file size before anything is read.
 *
 * Everything here works on bytes (Uint8Array), in browsers and Node; reading and writing files is in
 * `node/safetensors-file.ts`.
 */

export const MAX_HEADER_BYTES = 100_000_000;

/** Element sizes in bytes of every dtype the format defines. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    readonly rule: string,
    message: string,
    readonly tensor?: string,
  ) {
    super(`${file}: ${tensor !== undefined ? `tensor '${tensor}': ` : ''}${message} [${rule}]`);
    this.name = 'SafetensorsError';
  }
}

export interface LoadedTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The raw little-endian bytes (a view into the file's bytes). */
  readonly bytes: Uint8Array;
  /**
   * The values as float32: exact for F32, F16, BF16 and integers up to 2^24; F64 is rounded (with a warning
   * when the file is read). Other dtypes (8-bit floats) are an error naming the tensor.
   */
  toFloat32(): Float32Array;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, LoadedTensor>;
  readonly metadata: Record<string, string>;
}

export interface ReadOptions {
  /** Where warnings go (F64 tensors rounded to float32). Default: console.warn. */
  onWarning?: (message: string) => void;
}

/** IEEE half → float (exact, with subnormals, infinities and NaN). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Element i of each dtype that converts one element at a time, read little-endian as the format stores it.
 * BF16 converts in bulk; F8_* have no reader and are refused.
 */
const ELEMENT_READERS: Partial<Record<SafetensorsDtype, (view: DataView, i: number) => number>> = {
  F64: (view, i) => view.getFloat64(8 * i, true),
  F16: (view, i) => halfToFloat(view.getUint16(2 * i, true)),
  BOOL: (view, i) => view.getUint8(i),
  U8: (view, i) => view.getUint8(i),
  I8: (view, i) => view.getInt8(i),
  I16: (view, i) => view.getInt16(2 * i, true),
  U16: (view, i) => view.getUint16(2 * i, true),
  I32: (view, i) => view.getInt32(4 * i, true),
  U32: (view, i) => view.getUint32(4 * i, true),
  I64: (view, i) => Number(view.getBigInt64(8 * i, true)),
  U64: (view, i) => Number(view.getBigUint64(8 * i, true)),
};

function convert(file: string, name: string, dtype: SafetensorsDtype, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    // Every checkpoint we write is F32: its own loop, not the readers' indirect call (about 1.5× slower in V8).
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: shift it into place.
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = view.getUint16(2 * i, true) << 16;
    return out;
  }
  const read = ELEMENT_READERS[dtype];
  if (!read)
    throw new SafetensorsError(file, 'dtype-conversion', `dtype ${dtype} cannot be converted to float32`, name);
  for (let i = 0; i < n; i++) out[i] = read(view, i);
  return out;
}

/**
 * The top-level keys of a JSON object text, in order, to detect duplicates (JSON.parse keeps the last one
 * silently). Assumes the text already parsed as an object.
 */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  let expectKey = false;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(json.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      depth++;
      if (c === '{' && depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

interface HeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Validate a header and return its entries (sorted by offset) and metadata. `dataBytes` is the data section size. */
function parseHeader(file: string, text: string, dataBytes: number) {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, 'header-json', `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(file, 'header-json', 'header is not a JSON object');
  }
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) throw new SafetensorsError(file, 'duplicate-key', 'appears twice in the header', k);
    seen.add(k);
  }
  const metadata: Record<string, string> = {};
  const entries = new Map<string, HeaderEntry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new SafetensorsError(file, 'metadata', '__metadata__ must be an object of strings');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new SafetensorsError(file, 'metadata', `__metadata__['${k}'] is ${typeof v}, not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new SafetensorsError(file, 'tensor-entry', 'entry is not an object', name);
    }
    const e = raw as Record<string, unknown>;
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(file, 'dtype', `unknown dtype ${JSON.stringify(dtype)}`, name);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new SafetensorsError(file, 'shape', `shape ${JSON.stringify(shape)} is not a list of integers ≥ 0`, name);
    }
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
    ) {
      throw new SafetensorsError(
        file,
        'offsets',
        `data_offsets ${JSON.stringify(offsets)} are not two integers ≥ 0`,
        name,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw new SafetensorsError(file, 'offsets', `data_offsets [${begin}, ${end}] are reversed`, name);
    if (end > dataBytes) {
      throw new SafetensorsError(
        file,
        'offsets',
        `data_offsets end ${end} is past the data section (${dataBytes} bytes)`,
        name,
      );
    }
    const numel = (shape as number[]).reduce((p, d) => p * d, 1);
    const expected = numel * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      throw new SafetensorsError(
        file,
        'size',
        `shape [${shape}] × ${dtype} needs ${expected} bytes but data_offsets cover ${end - begin}`,
        name,
      );
    }
    entries.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = 0;
  for (const [name, e] of sorted) {
    if (e.begin < cursor)
      throw new SafetensorsError(file, 'overlap', `data [${e.begin}, ${e.end}) overlaps another tensor`, name);
    if (e.begin > cursor)
      throw new SafetensorsError(file, 'gap', `${e.begin - cursor} unused bytes before this tensor`, name);
    cursor = e.end;
  }
  if (cursor !== dataBytes) {
    throw new SafetensorsError(
      file,
      'gap',
      `${dataBytes - cursor} bytes at the end of the data section belong to no tensor`,
    );
  }
  return { entries, metadata };
}

export function headerLength(file: string, prefix: Uint8Array, fileBytes: number): number {
  if (fileBytes < 8)
    throw new SafetensorsError(
      file,
      'header-length',
      `file is ${fileBytes} bytes, shorter than the 8-byte header length`,
    );
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, 'header-length', `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (Number(n) > fileBytes - 8) {
    throw new SafetensorsError(
      file,
      'header-length',
      `header length ${n} is past the end of the ${fileBytes}-byte file`,
    );
  }
  return Number(n);
}

function decodeHeader(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(file, 'header-utf8', 'header is not valid UTF-8');
  }
}

/** Parse safetensors bytes (already in memory). `source` names them in errors. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>', options: ReadOptions = {}): SafetensorsFile {
  const n = headerLength(source, bytes, bytes.length);
  const text = decodeHeader(source, bytes.subarray(8, 8 + n));
  const data = bytes.subarray(8 + n);
  const { entries, metadata } = parseHeader(source, text, data.length);
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const tensors = new Map<string, LoadedTensor>();
  for (const [name, e] of entries) {
    const raw = data.subarray(e.begin, e.end);
    const numel = e.shape.reduce((p, d) => p * d, 1);
    if (e.dtype === 'F64') warn(`${source}: tensor '${name}' is F64; it is rounded to float32`);
    tensors.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      bytes: raw,
      toFloat32: () => convert(source, name, e.dtype, raw, numel),
    });
  }
  return { tensors, metadata };
}

export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** Stored as F32 (default) or F16 (rounded to nearest even; half the bytes, for shipped weight files). */
  readonly dtype?: 'F32' | 'F16';
}

const F32_VIEW = new Float32Array(1);
const U32_VIEW = new Uint32Array(F32_VIEW.buffer);

/** float → IEEE half, rounded to nearest even (overflow to ±∞, subnormals kept, NaN stays NaN). */
export function floatToHalf(x: number): number {
  F32_VIEW[0] = x;
  const b = U32_VIEW[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const frac = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the implicit-1 mantissa right, rounding to nearest even.
    const m = frac | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (frac >>> 13);
  const rest = frac & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to ∞).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** Serialise float32 tensors (in the given order, each as F32 or F16) and string metadata. */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
  source = '<serialize>',
): Uint8Array {
  const list: [string, TensorToWrite][] =
    tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, TensorToWrite>);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(source, 'metadata', `metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '' || name === '__metadata__')
      throw new SafetensorsError(source, 'name', `invalid tensor name '${name}'`);
    if (name in header) throw new SafetensorsError(source, 'duplicate-key', 'written twice', name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(source, 'shape', `shape [${t.shape}] is not a list of integers ≥ 0`, name);
    }
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (numel !== t.data.length) {
      throw new SafetensorsError(
        source,
        'size',
        `shape [${t.shape}] has ${numel} elements but data has ${t.data.length}`,
        name,
      );
    }
    const bytes = t.dtype === 'F16' ? 2 : 4;
    header[name] = { dtype: t.dtype ?? 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes * numel] };
    offset += bytes * numel;
  }
  let json = JSON.stringify(header);
  // The reference writer pads the header with spaces so the data section starts 8-byte aligned.
  const encoder = new TextEncoder();
  const pad = (8 - ((8 + encoder.encode(json).length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = encoder.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const dv = new DataView(out.buffer, 8 + headerBytes.length);
  let at = 0;
  for (const [, t] of list) {
    if (t.dtype === 'F16')
      for (let i = 0; i < t.data.length; i++, at += 2) dv.setUint16(at, floatToHalf(t.data[i]!), true);
    else for (let i = 0; i < t.data.length; i++, at += 4) dv.setFloat32(at, t.data[i]!, true);
  }
  return out;
}
