/** safetensors files in Node: read (header checked before the data is read) and written atomically. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { writeFileAtomic } from '@ternausnet/tensor/node';
import {
  headerLength,
  parseSafetensors,
  type ReadOptions,
  SafetensorsError,
  type SafetensorsFile,
  serializeSafetensors,
  type TensorToWrite,
} from '../safetensors.ts';

/** Read and validate a safetensors file. The header is checked before the data is read. */
export async function readSafetensors(path: string, options: ReadOptions = {}): Promise<SafetensorsFile> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SafetensorsError(path, 'open', `cannot open (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    readSync(fd, prefix, 0, Math.min(8, size), 0);
    const n = headerLength(path, prefix, size);
    const all = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const r = readSync(fd, all, off, size - off, off);
      if (r === 0) throw new SafetensorsError(path, 'truncated', `file ended after ${off} of ${size} bytes`);
      off += r;
    }
    if (n > size - 8) throw new SafetensorsError(path, 'header-length', 'header past end of file');
    return parseSafetensors(all, path, options);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write tensors atomically: a temp file in the same directory, fsync, rename over `path`. On any error
 * the temp file is removed and an existing `path` is left untouched.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata, path);
  try {
    writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SafetensorsError(path, 'write', `cannot write (${(e as Error).message})`);
  }
}
