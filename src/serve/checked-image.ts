import type { Chunk } from '../io/chunk-pipeline.js';
import { ENTRY_LENGTH, HASH_BLOCK_SIZE, ZERO_ENTRY } from '../integrity/block-hash.js';
import { DamageError, hashCheck } from '../integrity/hash-check.js';
import type { HashRecord } from '../integrity/hash-record.js';
import type { RevisionReader } from '../store/store.js';
import { extentsFromRanges, type ExportedImage, type Extent, type Piece } from './exported-image.js';

/** The read window (and pool buffer) size: 16 hash blocks, enough for the hash workers to pay. */
export const READ_WINDOW = 1024 * 1024;
/** Hash blocks larger than this cannot be checked within a pool buffer. */
const LARGEST_BLOCK = 16 * 1024 * 1024;
/** Record entries read at a time for a status query (128 KiB of the record, 256 MiB of image at 64 KiB blocks). */
const ENTRIES_READ = 4096;
/** Without a record, the image asked for its data ranges this much at a time (a 4 GiB query of a fragmented file lists thousands). */
const RANGES_SPAN = 64 * 1024 * 1024;

interface Run {
  start: number;
  end: number;
  data: boolean;
}

/**
 * A revision read through its store and proven against its recorded
 * hashes on the way: every read is widened to whole hash blocks, data
 * blocks are hashed (on the hash workers) and holes must be recorded as
 * zero blocks. A block that fails is reported to `onDamage` and the read
 * is a DamageError. Read-only; see OverlayImage for writes.
 */
export class CheckedImage implements ExportedImage {
  readonly writable = false;
  readonly window: number;
  private readonly blockSize: number;

  private readonly checkChunk: ((chunk: Chunk) => Promise<void>) | null;

  constructor(
    private readonly reader: RevisionReader,
    private readonly record: HashRecord | null,
    private readonly onDamage: (offset: number) => void,
  ) {
    this.checkChunk = record ? hashCheck(record) : null;
    this.blockSize = record?.blockSize ?? HASH_BLOCK_SIZE;
    if (this.blockSize > LARGEST_BLOCK) throw new Error(`hash blocks of ${this.blockSize} bytes are too large to serve`);
    this.window = Math.ceil(READ_WINDOW / this.blockSize) * this.blockSize;
  }

  get size(): number {
    return this.reader.size;
  }

  async readWindow(offset: number, length: number, buffer: Buffer): Promise<Piece[]> {
    const windowStart = Math.floor(offset / this.window) * this.window;
    const bs = this.blockSize;
    const start = Math.floor(offset / bs) * bs;
    const end = Math.min(this.size, Math.ceil((offset + length) / bs) * bs);
    // The record says where the data is, without asking the filesystem (a SEEK_DATA walk on btrfs costs tens of
    // microseconds a request); a data block the file lost still reads, as zeros, and fails its hash.
    const ranges = this.record ? await this.recordedData(this.record, start, end, Number.MAX_SAFE_INTEGER) : await this.reader.dataRanges(start, end);
    const runs = this.runs(start, end, ranges);
    const pieces: Piece[] = [];
    for (const run of runs) {
      const bytes = buffer.subarray(run.start - windowStart, run.end - windowStart);
      await this.checked(async () => {
        if (run.data) {
          const got = await this.reader.read(bytes, bytes.length, run.start);
          if (got < bytes.length) throw new Error(`the revision's data ends early, at byte ${run.start + got} of ${this.size}`);
        }
        await this.checkChunk?.({ offset: run.start, length: bytes.length, data: run.data ? bytes : null });
      });
      const from = Math.max(run.start, offset);
      const to = Math.min(run.end, offset + length);
      if (to > from) pieces.push({ offset: from, length: to - from, data: run.data ? buffer.subarray(from - windowStart, to - windowStart) : null });
    }
    return pieces;
  }

  /**
   * From the recorded hashes where there are some: a data block whose
   * bytes are gone from the store (a hole punched into the image file)
   * must be read, and fail there, not be skipped by a client as zeros.
   */
  async extents(offset: number, length: number, limit: number): Promise<Extent[]> {
    const end = Math.min(this.size, offset + length);
    const ranges = this.record ? await this.recordedData(this.record, offset, end, limit) : await this.storedData(offset, end, limit);
    return extentsFromRanges(ranges, offset, end, limit);
  }

  write(): Promise<void> {
    return Promise.reject(new Error('the export is read-only'));
  }

  zero(): Promise<void> {
    return this.write();
  }

  async flush(): Promise<void> {}

  /**
   * The ranges of [start, end) whose blocks the record has as data (not
   * zero blocks), up to limit + 1 of them: they make more than `limit`
   * extents, so what lies after them is never reported.
   */
  private async recordedData(record: HashRecord, start: number, end: number, limit: number): Promise<Array<[number, number]>> {
    const bs = this.blockSize;
    const ranges: Array<[number, number]> = [];
    const last = Math.ceil(end / bs);
    for (let block = Math.floor(start / bs); block < last; block += ENTRIES_READ) {
      const count = Math.min(ENTRIES_READ, last - block);
      const entries = await record.read(block, count);
      for (let i = 0; i < count; i++) {
        if (entries.subarray(i * ENTRY_LENGTH, (i + 1) * ENTRY_LENGTH).equals(ZERO_ENTRY)) continue;
        const from = Math.max(start, (block + i) * bs);
        const to = Math.min(end, (block + i + 1) * bs);
        const previous = ranges.at(-1);
        if (previous && previous[1] === from) previous[1] = to;
        else if (ranges.length > limit) return ranges;
        else ranges.push([from, to]);
      }
    }
    return ranges;
  }

  /** The store's data ranges of [start, end), up to limit + 1 of them (as recordedData). */
  private async storedData(start: number, end: number, limit: number): Promise<Array<[number, number]>> {
    const ranges: Array<[number, number]> = [];
    for (let at = start; at < end && ranges.length <= limit; at += RANGES_SPAN) {
      for (const [from, to] of await this.reader.dataRanges(at, Math.min(end, at + RANGES_SPAN))) {
        const previous = ranges.at(-1);
        if (previous && previous[1] === from) previous[1] = to;
        else ranges.push([from, to]);
      }
    }
    return ranges;
  }

  /** [start, end) in runs of whole blocks that hold data or do not. */
  private runs(start: number, end: number, ranges: Array<[number, number]>): Run[] {
    const bs = this.blockSize;
    const runs: Run[] = [];
    const add = (from: number, to: number, data: boolean) => {
      if (to <= from) return;
      const last = runs.at(-1);
      if (last && last.data === data && last.end === from) last.end = to;
      else runs.push({ start: from, end: to, data });
    };
    let at = start;
    for (const [from, to] of ranges) {
      const a = Math.max(at, Math.floor(from / bs) * bs);
      const b = Math.min(end, Math.ceil(to / bs) * bs);
      if (b <= a) continue;
      add(at, a, false);
      add(a, b, true);
      at = b;
    }
    add(at, end, false);
    return runs;
  }

  /**
   * Damage found by the hash check (holes too: a block recorded with data
   * that reads as a hole is damage like any other) or by the store's own
   * reads (a chunked store proves each chunk as it reads it) is reported.
   */
  private async checked(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (err instanceof DamageError) this.onDamage(err.offset);
      throw err;
    }
  }
}
