import type { FileHandle } from 'node:fs/promises';
import { throwIfAborted } from '../util/abort.js';
import { ImageFile } from './direct-io.js';
import { alignedBuffer, dataRanges } from './native-io.js';
import type { ImageReader } from './store.js';

const CHUNK = 4 * 1024 * 1024;

/**
 * Compares the first `size` bytes of two readers and that both are exactly
 * `size` long. Both are read concurrently, and the next chunk of each is
 * read while the current ones are compared, so that a reader going to disk
 * is never idle. Returns the offset of the first difference, or null.
 */
export async function compareImages(
  expected: ImageReader,
  actual: ImageReader,
  size: number,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<number | null> {
  if (expected.size !== size || actual.size !== size) return Math.min(expected.size, actual.size, size);
  const pairs = [
    [alignedBuffer(CHUNK), alignedBuffer(CHUNK)],
    [alignedBuffer(CHUNK), alignedBuffer(CHUNK)],
  ] as const;
  const readPair = (turn: 0 | 1, offset: number) => {
    const length = Math.min(CHUNK, size - offset);
    const [a, b] = pairs[turn];
    return Promise.all([expected.read(a, length, offset), actual.read(b, length, offset)]);
  };
  let next = readPair(0, 0);
  try {
    for (let offset = 0, turn: 0 | 1 = 0; offset < size; turn = turn === 0 ? 1 : 0) {
      if (options.signal) throwIfAborted(options.signal);
      const length = Math.min(CHUNK, size - offset);
      const [gotA, gotB] = await next;
      if (gotA !== length || gotB !== length) return offset + Math.min(gotA, gotB);
      if (offset + length < size) next = readPair(turn === 0 ? 1 : 0, offset + length);
      const a = pairs[turn][0].subarray(0, length);
      const b = pairs[turn][1].subarray(0, length);
      if (!a.equals(b)) return offset + firstDifference(a, b);
      offset += length;
      options.onProgress?.(offset);
    }
    return null;
  } finally {
    // A comparison that ends early waits for the read ahead, so that no read
    // is still running when the caller closes the files.
    await next.catch(() => undefined);
  }
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
  const image = file instanceof ImageFile ? file : ImageFile.buffered(file);
  const map = dataRanges(image.fd, position, position + length);
  if (!map) return image.read(buffer, length, position);
  let end = Math.min(position + length, map.size);
  let at = position;
  for (const [start, stop] of map.ranges) {
    if (start > at) buffer.fill(0, at - position, start - position);
    const got = await image.read(buffer.subarray(start - position), stop - start, start);
    // The file shrank since it was mapped.
    if (got < stop - start) return start + got - position;
    at = stop;
  }
  if (end > at) {
    // A file that shrank while its data was read must read short, as it would without the map.
    if (map.ranges.length > 0) end = Math.min(end, Math.max(at, (await image.handle.stat()).size));
    buffer.fill(0, at - position, end - position);
  }
  return Math.max(0, end - position);
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
