import type { FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '../util/abort.js';
import { ImageFile } from './direct-io.js';
import { alignedBuffer, dataRanges } from './native-io.js';
import type { ImageReader } from './store.js';

const CHUNK = 4 * 1024 * 1024;

/**
 * Compares the first `size` bytes of two readers and that both are exactly
 * `size` long. Both are read concurrently. Returns the offset of the first
 * difference, or null.
 */
export async function compareImages(
  expected: ImageReader,
  actual: ImageReader,
  size: number,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<number | null> {
  if (expected.size !== size || actual.size !== size) return Math.min(expected.size, actual.size, size);
  const a = alignedBuffer(CHUNK);
  const b = alignedBuffer(CHUNK);
  for (let offset = 0; offset < size; ) {
    if (options.signal) throwIfAborted(options.signal);
    const length = Math.min(CHUNK, size - offset);
    const [gotA, gotB] = await Promise.all([expected.read(a, length, offset), actual.read(b, length, offset)]);
    if (gotA !== length || gotB !== length) return offset + Math.min(gotA, gotB);
    if (!a.subarray(0, length).equals(b.subarray(0, length))) {
      return offset + firstDifference(a.subarray(0, length), b.subarray(0, length));
    }
    offset += length;
    options.onProgress?.(offset);
  }
  return null;
}

/** An ImageReader over an open file of known size. */
export function fileReader(handle: FileHandle, size: number): ImageReader {
  return { size, read: (buffer, length, position) => readFully(handle, buffer, Math.min(length, size - position), position) };
}

/**
 * Reads `length` bytes at `position`, fewer only at the end of the file.
 * Holes are not read: the buffer is filled with zeros there, which spares
 * the kernel zero-filling pages only to copy them out.
 */
export async function readFully(file: FileHandle | ImageFile, buffer: Buffer, length: number, position: number): Promise<number> {
  const handle = file instanceof ImageFile ? file.handle : file;
  const readAll = file instanceof ImageFile ? file.read.bind(file) : readAllFrom.bind(null, handle);
  const map = dataRanges(handle.fd, position, position + length);
  if (!map) return readAll(buffer, length, position);
  let end = Math.min(position + length, map.size);
  let at = position;
  for (const [start, stop] of map.ranges) {
    if (start > at) buffer.fill(0, at - position, start - position);
    const got = await readAll(buffer.subarray(start - position), stop - start, start);
    // The file shrank since it was mapped.
    if (got < stop - start) return start + got - position;
    at = stop;
  }
  if (end > at) {
    // A file that shrank while its data was read must read short, as it would without the map.
    if (map.ranges.length > 0) end = Math.min(end, Math.max(at, (await handle.stat()).size));
    buffer.fill(0, at - position, end - position);
  }
  return Math.max(0, end - position);
}

async function readAllFrom(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

function firstDifference(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length; i += 4096) {
    const end = Math.min(a.length, i + 4096);
    if (!a.subarray(i, end).equals(b.subarray(i, end))) {
      for (let j = i; j < end; j++) if (a[j] !== b[j]) return j;
    }
  }
  return a.length;
}
