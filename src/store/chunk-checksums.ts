import { nativeChecksum, nativeChecksumAvailable } from './native-io.js';

/** Chunks a checksum covers: the size in which sources write and verification compares. */
export const CHECKSUM_CHUNK = 4 * 1024 * 1024;

/**
 * Checksums come from the native helper (XXH3, at memory speed). Without
 * it there is no direct I/O either, so verification reads the page cache.
 */
export function checksumsAvailable(): boolean {
  return nativeChecksumAvailable();
}

export function checksum(data: Buffer): bigint {
  const sum = nativeChecksum(data);
  if (sum === null) throw new Error('checksums need the native helper built with xxHash');
  return sum;
}

/**
 * Checksums of what a writer put into an image, one per aligned chunk
 * that a single write covered exactly. An image written past the page
 * cache can then be verified against the re-read source without reading
 * all of it back from the disk. Nine bytes per 4 MiB: 9 MiB for a 4 TiB
 * image.
 */
export class ChunkChecksums {
  private sums = new BigUint64Array(0);
  private known = new Uint8Array(0);
  private size = 0;

  /** The image is now `size` bytes long: the chunk that ended it changes its length either way. */
  resize(size: number): void {
    this.forget(Math.min(size, this.size), Infinity);
    this.size = size;
  }

  /** Records `data` as the content of [offset, offset + data.length) if that is one whole chunk of the image. */
  record(offset: number, data: Buffer): void {
    this.forget(offset, offset + data.length);
    if (!this.isChunk(offset, data.length)) return;
    const index = offset / CHECKSUM_CHUNK;
    this.grow(index + 1);
    this.sums[index] = checksum(data);
    this.known[index] = 1;
  }

  /** Forgets every chunk that overlaps [start, end): its content changed otherwise. */
  forget(start: number, end: number): void {
    const last = Math.min(this.known.length, Math.ceil(end / CHECKSUM_CHUNK));
    for (let index = Math.floor(start / CHECKSUM_CHUNK); index < last; index++) this.known[index] = 0;
  }

  /** The checksum of exactly [offset, offset + length), if one was recorded. */
  get(offset: number, length: number): bigint | undefined {
    if (!this.isChunk(offset, length)) return undefined;
    const index = offset / CHECKSUM_CHUNK;
    return this.known[index] === 1 ? this.sums[index] : undefined;
  }

  private isChunk(offset: number, length: number): boolean {
    return offset % CHECKSUM_CHUNK === 0 && length > 0 && length === Math.min(CHECKSUM_CHUNK, this.size - offset);
  }

  private grow(count: number): void {
    if (count <= this.known.length) return;
    const capacity = Math.max(count, this.known.length * 2, 64);
    const sums = new BigUint64Array(capacity);
    const known = new Uint8Array(capacity);
    sums.set(this.sums);
    known.set(this.known);
    this.sums = sums;
    this.known = known;
  }
}
