import { RangeSet } from '../../io/range-set.js';
import { alignedBuffer } from '../../io/native-io.js';
import { ENTRY_LENGTH } from '../../integrity/block-hash.js';
import { hashBlocks } from '../../integrity/hash-pool.js';
import type { HashRecordWriter, RecordedHashes } from '../../integrity/hash-record.js';

/** Zero entries written at a time for a zeroed range (32 KiB of them cover 64 MiB of image). */
const ZERO_ENTRIES = Buffer.alloc(1024 * ENTRY_LENGTH);
const READ_CHUNK = 4 * 1024 * 1024;

/**
 * Keeps a new image's hash record in step with what its writer does. The
 * record starts out right for every block the backup leaves alone (the
 * parent's entries, or zero entries for an image that starts empty) —
 * except below `unknownBelow`, where a reflink clone's parent had no
 * record to copy. Blocks the writer hands over whole are hashed from those
 * very bytes; blocks it changes only in part are hashed at the end from
 * the image, and so are the unknown ones no write covered.
 */
export class HashTracker {
  private readonly stale = new RangeSet();
  private readonly fresh = new RangeSet();
  private readonly blockSize: number;

  constructor(
    private readonly record: HashRecordWriter,
    private size: number,
    private unknownBelow: number,
  ) {
    this.blockSize = record.blockSize;
  }

  /** Whether blocks the writer keeps unchanged still need hashing (their entries are not known). */
  get keptNeedHashing(): boolean {
    return this.unknownBelow > 0;
  }

  /** [start, end) of `data` (at image offset `offset`) now holds those bytes. */
  async written(offset: number, data: Buffer, start: number, end: number): Promise<void> {
    const [first, last] = this.wholeBlocks(start, end);
    if (last > first) {
      const from = first * this.blockSize;
      const to = Math.min(last * this.blockSize, this.size);
      await this.record.write(first, await hashBlocks(data.subarray(from - offset, to - offset), this.blockSize));
      this.fresh.add(from, last * this.blockSize);
    }
  }

  /** [start, end) now reads as zeros. */
  async zeroed(start: number, end: number): Promise<void> {
    const [first, last] = this.wholeBlocks(start, end);
    for (let block = first; block < last; block += ZERO_ENTRIES.length / ENTRY_LENGTH) {
      const count = Math.min(ZERO_ENTRIES.length / ENTRY_LENGTH, last - block);
      await this.record.write(block, ZERO_ENTRIES.subarray(0, count * ENTRY_LENGTH));
    }
    if (last > first) this.fresh.add(first * this.blockSize, last * this.blockSize);
  }

  async resized(size: number): Promise<void> {
    // A block the old or the new end cuts through now holds other bytes.
    for (const edge of [this.size, size]) {
      const start = Math.floor(edge / this.blockSize) * this.blockSize;
      if (edge % this.blockSize !== 0 && start < size) this.stale.add(start, Math.min(start + this.blockSize, size));
    }
    await this.record.resize(size);
    this.size = size;
    this.unknownBelow = Math.min(this.unknownBelow, size);
  }

  /** Hashes what is still unknown, reading it from the image, and seals the record. */
  async finish(read: (buffer: Buffer, length: number, position: number) => Promise<number>): Promise<RecordedHashes> {
    const pending = new RangeSet();
    for (const [start, end] of this.stale.within(0, this.size)) pending.add(start, end);
    let at = 0;
    for (const [start, end] of [...this.fresh.within(0, this.unknownBelow), [this.unknownBelow, this.unknownBelow] as const]) {
      if (start > at) pending.add(at, start);
      at = Math.max(at, end);
    }
    const buffer = alignedBuffer(READ_CHUNK);
    for (const [start, end] of pending.within(0, this.size)) {
      const first = Math.floor(start / this.blockSize);
      const stop = Math.min(this.size, Math.ceil(end / this.blockSize) * this.blockSize);
      for (let offset = first * this.blockSize; offset < stop; offset += READ_CHUNK) {
        const length = Math.min(READ_CHUNK, stop - offset);
        const got = await read(buffer, length, offset);
        if (got < length) throw new Error(`image ended early at byte ${offset + got} while hashing it`);
        await this.record.write(offset / this.blockSize, await hashBlocks(buffer.subarray(0, length), this.blockSize));
      }
    }
    return this.record.finish();
  }

  /**
   * The blocks [first, last) that [start, end) covers whole (the last block
   * of the image counts whole up to the image's end); the rest of the range
   * is stale.
   */
  private wholeBlocks(start: number, end: number): [number, number] {
    const first = Math.ceil(start / this.blockSize);
    const last = end >= this.size ? Math.ceil(this.size / this.blockSize) : Math.floor(end / this.blockSize);
    if (last <= first) {
      this.stale.add(start, end);
      return [first, first];
    }
    if (start < first * this.blockSize) this.stale.add(start, first * this.blockSize);
    if (end < this.size && end > last * this.blockSize) this.stale.add(last * this.blockSize, end);
    return [first, last];
  }
}
