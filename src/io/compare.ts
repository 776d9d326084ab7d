import { throwIfAborted } from '../util/abort.js';
import { handled } from '../util/promises.js';
import { CHECKSUM_CHUNK, checksum } from './chunk-checksums.js';
import { alignedBuffer } from './native-io.js';
import type { ImageReader } from './image.js';

const CHUNK = CHECKSUM_CHUNK;

/**
 * Share of the chunks with a written checksum that are read back from the
 * disk all the same (besides the first and the last, whose ragged ends take
 * other paths): what a systematic fault in writing would show in.
 */
const READ_BACK_SHARE = 0.01;

export interface Comparison {
  /** Offset of the first difference, or null. */
  difference: number | null;
  /** Bytes of the actual image read (the rest compared by checksum). */
  bytesRead: number;
}

/**
 * Compares the first `size` bytes of two readers and that both are exactly
 * `size` long. Where `actual` knows the checksum of what was written, the
 * expected chunk's checksum is compared instead of reading the actual one,
 * except for a random sample read back to compare byte for byte. Both are
 * read concurrently, and the next chunks while the current ones are
 * compared.
 */
export async function compareImages(
  expected: ImageReader,
  actual: ImageReader,
  size: number,
  options: { signal?: AbortSignal; onProgress?: (done: number) => void; readBackShare?: number } = {},
): Promise<Comparison> {
  const readBackShare = options.readBackShare ?? READ_BACK_SHARE;
  let bytesRead = 0;
  if (expected.size !== size || actual.size !== size) {
    return { difference: Math.min(expected.size, actual.size, size), bytesRead };
  }
  // Two pairs of buffers: the next chunk of each side is read while the
  // current one is compared (more reads in flight made no difference on this
  // project's machine: verifying an ext4 revision took as long with 1 to 4).
  const pairs = [
    [alignedBuffer(CHUNK), alignedBuffer(CHUNK)],
    [alignedBuffer(CHUNK), alignedBuffer(CHUNK)],
  ] as const;
  const pairFor = (offset: number) => pairs[(offset / CHUNK) % 2]!;
  const lastChunk = Math.max(0, Math.ceil(size / CHUNK) - 1);
  /** Reads chunk `offset` of both sides, or of the expected side only where the actual one's checksum is to be compared. */
  const readChunk = (offset: number): Promise<[number, number, bigint | undefined]> => {
    const length = Math.min(CHUNK, size - offset);
    const [a, b] = pairFor(offset);
    const index = offset / CHUNK;
    const sampled = index === 0 || index === lastChunk || Math.random() < readBackShare;
    const written = sampled ? undefined : actual.writtenChecksum?.(offset, length);
    if (written === undefined) bytesRead += length;
    const readActual = written === undefined ? actual.read(b, length, offset) : Promise.resolve(length);
    return handled(bothRead(expected.read(a, length, offset), readActual).then(([gotA, gotB]) => [gotA, gotB, written]));
  };
  let next = readChunk(0);
  try {
    for (let offset = 0; offset < size; ) {
      if (options.signal) throwIfAborted(options.signal);
      const length = Math.min(CHUNK, size - offset);
      const [gotA, gotB, written] = await next;
      if (gotA !== length || gotB !== length) return { difference: offset + Math.min(gotA, gotB), bytesRead };
      // Into the other pair, compared last time: free again.
      if (offset + length < size) next = readChunk(offset + length);
      const [pairA, pairB] = pairFor(offset);
      const a = pairA.subarray(0, length);
      if (written !== undefined) {
        if (checksum(a) !== written) {
          bytesRead += length;
          return { difference: offset + (await differenceAt(a, actual, pairB, offset)), bytesRead };
        }
      } else {
        const b = pairB.subarray(0, length);
        if (!a.equals(b)) return { difference: offset + firstDifference(a, b), bytesRead };
      }
      offset += length;
      options.onProgress?.(offset);
    }
    return { difference: null, bytesRead };
  } finally {
    // A comparison that ends early waits for the read ahead, so that no read
    // is still running when the caller closes the files.
    await next.catch(() => undefined);
  }
}

/**
 * Both reads' counts; when one fails, only once the other has settled too,
 * so that nothing still reads when the caller closes the files.
 */
async function bothRead(first: Promise<number>, second: Promise<number>): Promise<[number, number]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}

/** Where a chunk whose checksum differs differs: read back to tell the byte (or the chunk's start, should the disk agree after all). */
async function differenceAt(expected: Buffer, actual: ImageReader, buffer: Buffer, offset: number): Promise<number> {
  const got = await actual.read(buffer, expected.length, offset);
  const difference = firstDifference(expected.subarray(0, got), buffer.subarray(0, got));
  return difference < got ? difference : got < expected.length ? got : 0;
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
