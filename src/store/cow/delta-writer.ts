import type { FileHandle } from 'node:fs/promises';
import fsx from 'fs-native-extensions';
import { readFully } from '../../io/read-fully.js';
import { RangeSet } from '../../io/range-set.js';
import type { ImageReader, ImageWriter, WriterStats } from '../../io/image.js';
import { isZero, ZERO_BLOCK } from '../../io/zero.js';
import { alignedBuffer, nativeChecksumAvailable, zeroFill } from '../../io/native-io.js';
import type { ImageFile } from '../../io/image-file.js';
import { ChunkChecksums } from '../../io/chunk-checksums.js';
import { handled } from '../../util/promises.js';
import type { RecordedHashes } from '../../integrity/hash-record.js';
import { ParentUnreadableError } from '../store.js';
import type { HashTracker } from './hash-tracker.js';

/**
 * Granularity of comparison and writing. On btrfs a rewritten block
 * unshares exactly its extent, so a small block keeps an incremental
 * revision's new space close to the bytes that really changed (64 KiB
 * allocated 1.0 x the changed bytes where 4 MiB allocated 46 x).
 */
export const DELTA_BLOCK_SIZE = 64 * 1024;
const HOLE_ALIGNMENT = 4096;

type Action = 'keep' | 'write' | 'punch';

/** What the image holds where the baseline has nothing: zeros, known without reading. */
const ZEROS = Symbol('zeros');

/**
 * What the new image held before the backup wrote to it:
 * - `empty`: nothing (a first backup, or a filesystem without reflinks);
 * - a parent image it shares all blocks with (reflink clone): reading the
 *   parent gives the same bytes, and its pages are likely cached already
 *   while the fresh clone's are not.
 */
export type Baseline = { kind: 'empty' } | { kind: 'parent'; id: string; handle: FileHandle; size: number };

/**
 * Writes a source's content over an image that starts out as its parent:
 * compares each chunk with the baseline block by block and writes or
 * punches only where they differ, coalescing adjacent blocks with the same
 * action into one system call. Remembers which ranges it changed so that
 * verification can read the rest from the parent.
 */
export class DeltaWriter implements ImageWriter {
  private bytesWritten = 0;
  private bytesPunched = 0;
  private bytesCompared = 0;
  private scratch: Buffer = alignedBuffer(0);
  private readonly changed = new RangeSet();
  /** Settles when the comparisons asked for so far are done. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Below this offset the baseline holds the parent's bytes; above it, zeros. */
  private baselineEnd: number;
  /**
   * Checksums of what was written, which verification compares with the
   * source instead of reading the image back whole (it still reads a
   * sample). Past the page cache, a read back would go to the disk; through
   * it (btrfs, which has no real direct I/O), it would come from the cache
   * just written — proving no more than the checksum does, at the cost of
   * copying the whole image once more (a 4 GiB full backup on btrfs: 3.5 s
   * of its 11 s). A native helper built without the xxHash header has
   * none; such images are then read back whole.
   */
  private readonly checksums: ChunkChecksums | null;

  private constructor(
    private readonly image: ImageFile,
    private readonly baseline: Baseline,
    private currentSize: number,
    private readonly hashes: HashTracker | null,
  ) {
    this.baselineEnd = baseline.kind === 'parent' ? baseline.size : 0;
    this.checksums = nativeChecksumAvailable() ? new ChunkChecksums() : null;
    this.checksums?.resize(currentSize);
  }

  /** With `hashes`, the image's hash record follows every change. */
  static async open(image: ImageFile, baseline: Baseline, hashes: HashTracker | null = null): Promise<DeltaWriter> {
    return new DeltaWriter(image, baseline, (await image.handle.stat()).size, hashes);
  }

  get holdsParent(): boolean {
    return this.baseline.kind !== 'empty';
  }

  get size(): number {
    return this.currentSize;
  }

  async resize(size: number): Promise<void> {
    if (size === this.currentSize) return;
    await this.image.handle.truncate(size);
    this.checksums?.resize(size);
    await this.hashes?.resized(size);
    // What a shrink cut off comes back as zeros if the image grows again.
    this.baselineEnd = Math.min(this.baselineEnd, size);
    this.currentSize = size;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await this.writeRuns(offset, data, true);
  }

  async overwrite(offset: number, data: Buffer): Promise<void> {
    await this.writeRuns(offset, data, false);
  }

  /**
   * Safe to call again before the previous call has settled (with another
   * buffer, for another range): the comparisons run one after another,
   * while the writes of one call may still be on their way to the disk when
   * the next one compares. Each range is meant to be written once: a second
   * write compares with the baseline, not with what the first one wrote
   * (its chunks get no checksum, so verification reads them back).
   */
  private async writeRuns(offset: number, data: Buffer, compare: boolean): Promise<void> {
    if (data.length === 0) return;
    const runs = await this.serially(async () => {
      const end = offset + data.length;
      if (end > this.currentSize) await this.resize(end);
      this.checksums?.record(offset, data);
      if (!compare) return plan(offset, data, null);
      // Past the parent's end (all of an image that starts empty) the image
      // holds zeros: nothing to read, a block is kept exactly when it is zero.
      const existing = offset >= this.baselineEnd ? ZEROS : await this.readBaseline(offset, data.length);
      this.bytesCompared += data.length;
      return plan(offset, data, existing);
    });
    // Awaited only after the writes: a failure meanwhile must not go unhandled.
    const hashing = handled(this.hash(offset, data, runs));
    try {
      for (const [action, start, end] of runs) await this.apply(action, start, end, data, offset);
    } finally {
      await hashing;
    }
  }

  /**
   * Hashes what `runs` wrote into the image (the blocks kept too, when the
   * parent's entries for them are unknown), at the same time as it is
   * written: the hash pool works on other cores.
   */
  private async hash(offset: number, data: Buffer, runs: Array<[Action, number, number]>): Promise<void> {
    const hashes = this.hashes;
    if (!hashes) return;
    if (hashes.keptNeedHashing) return hashes.written(offset, data, offset, offset + data.length);
    await Promise.all(
      runs.map(([action, start, end]) => (action === 'punch' ? hashes.zeroed(start, end) : hashes.written(offset, data, start, end))),
    );
  }

  /** Runs `task` after every task queued before it has settled. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async zero(offset: number, length: number): Promise<void> {
    if (length <= 0) return;
    const end = offset + length;
    if (end > this.currentSize) await this.resize(end);
    this.changed.add(offset, end);
    this.checksums?.spoil(offset, end);
    await this.hashes?.zeroed(offset, end);
    // Only the aligned middle can become a hole; the ragged edges are written.
    const holeStart = Math.ceil(offset / HOLE_ALIGNMENT) * HOLE_ALIGNMENT;
    const holeEnd = Math.floor(end / HOLE_ALIGNMENT) * HOLE_ALIGNMENT;
    if (holeEnd > holeStart) {
      await this.writeZeros(offset, holeStart);
      await this.punch(holeStart, holeEnd - holeStart);
      await this.writeZeros(holeEnd, end);
    } else {
      await this.writeZeros(offset, end);
    }
  }

  stats(): WriterStats {
    return { bytesWritten: this.bytesWritten, bytesPunched: this.bytesPunched, bytesCompared: this.bytesCompared };
  }

  async sync(): Promise<void> {
    await this.image.handle.datasync();
  }

  reader(): ImageReader {
    const baseline = this.baseline;
    const image = this.image;
    const changed = this.changed;
    const parentEnd = this.baselineEnd;
    const size = this.currentSize;
    const checksums = this.checksums;
    return {
      size,
      writtenChecksum: checksums ? (position, length) => checksums.get(position, length) : undefined,
      async read(buffer, length, position) {
        const end = Math.min(size, position + length);
        let at = position;
        const copyFrom = async (file: FileHandle | ImageFile, from: number, to: number) => {
          const got = await readFully(file, buffer.subarray(from - position), to - from, from);
          if (got < to - from) throw new Error(`image ended early at byte ${from + got}`);
        };
        const copyFromParent = async (from: number, to: number) => {
          if (baseline.kind !== 'parent') return;
          try {
            await copyFrom(baseline.handle, from, to);
          } catch (err) {
            throw new ParentUnreadableError(baseline.id, err);
          }
        };
        for (const [start, stop] of [...changed.within(position, end), [end, end] as [number, number]]) {
          // Unchanged bytes are the parent's up to where the parent ended, and
          // holes beyond it: reading those from the image would only make the
          // kernel fill fresh pages with zeros.
          const shared = Math.min(start, Math.max(at, parentEnd));
          if (shared > at) await copyFromParent(at, shared);
          if (start > shared) zeroFill(buffer, shared - position, start - position);
          if (stop > start) await copyFrom(image, start, stop);
          at = Math.max(at, stop);
        }
        return end - position;
      },
    };
  }

  /** Completes the hash record, hashing from the image what was written only in part. */
  async finishHashes(): Promise<RecordedHashes> {
    if (!this.hashes) throw new Error('this writer keeps no hash record');
    await this.queue;
    return this.hashes.finish((buffer, length, position) => readFully(this.image, buffer, length, position));
  }

  async close(): Promise<void> {
    await this.image.close();
    if (this.baseline.kind === 'parent') await this.baseline.handle.close();
  }

  private async readBaseline(offset: number, length: number): Promise<Buffer> {
    if (this.scratch.length < length) this.scratch = alignedBuffer(length);
    const buffer = this.scratch.subarray(0, length);
    const readable = Math.max(0, Math.min(length, this.baselineEnd - offset));
    let done = 0;
    // Only a parent baseline has bytes to read (baselineEnd is 0 otherwise).
    if (readable > 0 && this.baseline.kind === 'parent') {
      try {
        done = await readFully(this.baseline.handle, buffer, readable, offset);
      } catch (err) {
        throw new ParentUnreadableError(this.baseline.id, err);
      }
    }
    if (done < length) zeroFill(buffer, done);
    return buffer;
  }

  private async apply(action: Action, start: number, end: number, data: Buffer, dataOffset: number): Promise<void> {
    if (end <= start || action === 'keep') return;
    this.changed.add(start, end);
    if (action === 'punch') {
      await this.punch(start, end - start);
      return;
    }
    const slice = data.subarray(start - dataOffset, end - dataOffset);
    await this.image.write(slice, start);
    this.bytesWritten += slice.length;
  }

  private async punch(offset: number, length: number): Promise<void> {
    if (length <= 0) return;
    await fsx.trim(this.image.fd, offset, length);
    this.bytesPunched += length;
  }

  private async writeZeros(start: number, end: number): Promise<void> {
    for (let at = start; at < end; at += ZERO_BLOCK.length) {
      const length = Math.min(ZERO_BLOCK.length, end - at);
      await this.image.write(ZERO_BLOCK.subarray(0, length), at);
      this.bytesWritten += length;
    }
  }
}

/**
 * What to do with `data` at `offset`, block by block, adjacent blocks with
 * the same action coalesced into one run (kept blocks left out): unchanged
 * blocks (where `existing` is known, a buffer or ZEROS) are kept, zero
 * blocks punched, the rest written.
 */
function plan(offset: number, data: Buffer, existing: Buffer | typeof ZEROS | null): Array<[Action, number, number]> {
  const runs: Array<[Action, number, number]> = [];
  const end = offset + data.length;
  let runStart = offset;
  let runAction: Action = 'keep';
  // Blocks are aligned to absolute offsets so that repeated backups compare
  // the same ranges and holes line up with filesystem blocks.
  for (let blockStart = offset; blockStart < end; ) {
    const blockEnd = Math.min(end, (Math.floor(blockStart / DELTA_BLOCK_SIZE) + 1) * DELTA_BLOCK_SIZE);
    const action = classify(
      data.subarray(blockStart - offset, blockEnd - offset),
      existing === ZEROS || existing === null ? existing : existing.subarray(blockStart - offset, blockEnd - offset),
      blockStart,
      blockEnd,
    );
    if (action !== runAction) {
      if (runAction !== 'keep') runs.push([runAction, runStart, blockStart]);
      runStart = blockStart;
      runAction = action;
    }
    blockStart = blockEnd;
  }
  if (runAction !== 'keep') runs.push([runAction, runStart, end]);
  return runs;
}

/**
 * `have` null: what the image holds there is unknown (not compared), so the
 * block is written; ZEROS: the image reads as zeros there.
 */
function classify(wanted: Buffer, have: Buffer | typeof ZEROS | null, start: number, end: number): Action {
  if (have === ZEROS) return isZero(wanted) ? 'keep' : 'write';
  if (have && wanted.equals(have)) return 'keep';
  // A block can only become a hole when it covers whole filesystem blocks.
  if (start % HOLE_ALIGNMENT === 0 && end % HOLE_ALIGNMENT === 0 && isZero(wanted)) return 'punch';
  return 'write';
}
