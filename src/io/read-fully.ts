import type { FileHandle } from 'node:fs/promises';
import { ImageFile } from './image-file.js';
import type { ImageReader } from './image.js';
import { dataRanges, zeroFill } from './native-io.js';

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
    if (start > at) zeroFill(buffer, at - position, start - position);
    const got = await image.read(buffer.subarray(start - position), stop - start, start);
    // The file shrank since it was mapped.
    if (got < stop - start) return start + got - position;
    at = stop;
  }
  if (end > at) {
    // A file that shrank while its data was read must read short, as it would without the map.
    if (map.ranges.length > 0) end = Math.min(end, Math.max(at, (await image.handle.stat()).size));
    zeroFill(buffer, at - position, end - position);
  }
  return Math.max(0, end - position);
}
