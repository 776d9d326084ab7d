import { randomBytes } from 'node:crypto';
import { nativeChecksum } from './native-io.js';

/** Chunks a checksum covers: the size in which sources write and verification compares. */
export const CHECKSUM_CHUNK = 4 * 1024 * 1024;

/**
 * Seeded per process, so that a guest who controls a source cannot prepare
 * a chunk that swaps for another with the same checksum (XXH3 is fast, not
 * collision-resistant).
 */
const SEED = randomBytes(8).readBigUInt64LE();

export function checksum(data: Buffer): bigint {
  const sum = nativeChecksum(data, SEED);
  if (sum === null) throw new Error('checksums need the native helper built with xxHash');
  return sum;
}

const UNTOUCHED = 0;
const KNOWN = 1;
/** Written more than once, or other than whole: what the image holds is not what one write handed over. */
const SPOILED = 2;

/**
 * Checksums of what a writer put into an image, one per aligned chunk that
 * a single write covered exactly and nothing else touched. An image written
 * past the page cache can then be verified against the re-read source
 * without reading all of it back from the disk. Nine bytes per 4 MiB: 9 MiB
 * for a 4 TiB image.
 */
export class ChunkChecksums {
  private sums = new BigUint64Array(0);
  private states = new Uint8Array(0);
  private size = 0;

  /** The image is now `size` bytes long: a recorded chunk that ended it changes its length either way. */
  resize(size: number): void {
    const [low, high] = size < this.size ? [size, this.size] : [this.size, size];
    const last = Math.min(this.states.length, Math.ceil(high / CHECKSUM_CHUNK));
    for (let index = Math.floor(low / CHECKSUM_CHUNK); index < last; index++) {
      if (this.states[index] === KNOWN) this.states[index] = SPOILED;
    }
    this.size = size;
  }

  /**
   * Notes that [offset, offset + data.length) is made to hold `data`. Its
   * checksum is kept if that is one whole chunk of the image touched for the
   * first time: a writer that compares with the parent would leave a second
   * write's unchanged blocks as the first one made them.
   */
  record(offset: number, data: Buffer): void {
    const index = offset / CHECKSUM_CHUNK;
    if (this.isChunk(offset, data.length) && this.state(index) === UNTOUCHED) {
      this.grow(index + 1);
      this.sums[index] = checksum(data);
      this.states[index] = KNOWN;
    } else {
      this.spoil(offset, offset + data.length);
    }
  }

  /** [start, end) was changed other than by `record`: no checksum for the chunks it overlaps. */
  spoil(start: number, end: number): void {
    const last = Math.ceil(end / CHECKSUM_CHUNK);
    this.grow(last);
    for (let index = Math.floor(start / CHECKSUM_CHUNK); index < last; index++) this.states[index] = SPOILED;
  }

  /** The checksum of exactly [offset, offset + length), if one was kept. */
  get(offset: number, length: number): bigint | undefined {
    if (!this.isChunk(offset, length)) return undefined;
    const index = offset / CHECKSUM_CHUNK;
    return this.state(index) === KNOWN ? this.sums[index] : undefined;
  }

  private state(index: number): number {
    return index < this.states.length ? this.states[index]! : UNTOUCHED;
  }

  private isChunk(offset: number, length: number): boolean {
    return offset % CHECKSUM_CHUNK === 0 && length > 0 && length === Math.min(CHECKSUM_CHUNK, this.size - offset);
  }

  private grow(count: number): void {
    if (count <= this.states.length) return;
    const capacity = Math.max(count, this.states.length * 2, 64);
    const sums = new BigUint64Array(capacity);
    const states = new Uint8Array(capacity);
    sums.set(this.sums);
    states.set(this.states);
    this.sums = sums;
    this.states = states;
  }
}
