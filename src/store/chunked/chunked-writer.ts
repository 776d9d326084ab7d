import { chmod } from 'node:fs/promises';
import { ENTRY_LENGTH, ZERO_ENTRY } from '../../integrity/block-hash.js';
import type { HashRecordWriter } from '../../integrity/hash-record.js';
import { ChunkChecksums } from '../../io/chunk-checksums.js';
import type { ImageReader, WriterStats } from '../../io/image.js';
import { alignedBuffer } from '../../io/native-io.js';
import type { CloneMethod, CommittedData, RevisionWriter } from '../store.js';
import type { ChunkPool, WriterRegistration } from './chunk-pool.js';
import { IndexedImage } from './chunk-reads.js';
import { chunkWorkers } from './chunk-workers.js';
import { handled } from '../../util/promises.js';

/** Blocks hashed and stored by one worker request: 1 MiB of 64 KiB blocks, four to a source's 4 MiB write. */
const BLOCKS_PER_PUT = 16;
/** Blocks changed only in part, kept in memory until complete or flushed (4 MiB of 64 KiB blocks). */
const PARTIAL_LIMIT = 64;
const ZERO_ENTRIES = Buffer.alloc(1024 * ENTRY_LENGTH);
/** New chunks' bytes after which the writer flushes them on its own, while it goes on. */
const BACKGROUND_FLUSH = 64 * 1024 * 1024;

/**
 * A chunked revision being written. Its index starts as the parent's
 * entries (or all zero); every block the source hands over is hashed on a
 * worker, compared with the entry the index holds, and where it differs
 * stored in the pool (unless a chunk of that name is there) and its entry
 * replaced. Blocks written only in part are completed in memory from their
 * current chunk first. The source's buffer is handed back when its blocks
 * are in temporary files; the chunks get their names at the next flush.
 */
export class ChunkedRevisionWriter implements RevisionWriter {
  private readonly checksums = new ChunkChecksums();
  private readonly partial = new Map<number, Buffer>();
  private readonly blockSize: number;
  private readonly deathsAtStart = chunkWorkers.deaths;
  /** Chunks written since the last flush: not yet readable under their names. */
  private unflushed = false;
  private syncing: Promise<void> | null = null;
  /** A flush started by the writer itself, and the bytes stored since the last one. */
  private background: Promise<void> | undefined;
  private sinceFlush = 0;
  private readonly counts = { bytesWritten: 0, bytesPunched: 0, bytesCompared: 0, newChunks: 0, storedBytes: 0 };

  constructor(
    private readonly pool: ChunkPool,
    private readonly record: HashRecordWriter,
    private readonly registration: WriterRegistration,
    private readonly indexPath: string,
    private currentSize: number,
    readonly clone: CloneMethod,
  ) {
    this.blockSize = record.blockSize;
    this.checksums.resize(currentSize);
  }

  get size(): number {
    return this.currentSize;
  }

  get holdsParent(): boolean {
    return this.clone === 'chunks';
  }

  async resize(size: number): Promise<void> {
    const old = this.currentSize;
    if (size === old) return;
    const bs = this.blockSize;
    this.checksums.resize(size);
    let touched: number | null = null;
    if (size > old && old % bs !== 0) {
      // The old last block grows: its chunk held fewer bytes.
      touched = Math.floor(old / bs);
      await this.partialBlock(touched);
    } else if (size < old) {
      for (const block of this.partial.keys()) if (block * bs >= size) this.partial.delete(block);
      if (size % bs !== 0) {
        touched = Math.floor(size / bs);
        (await this.partialBlock(touched)).fill(0, size - touched * bs);
      }
    }
    await this.record.resize(size);
    this.currentSize = size;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.checksums.record(offset, data);
    await this.place(offset, data);
  }

  /** Every block is hashed anyway: comparing with the index costs nothing more. */
  async overwrite(offset: number, data: Buffer): Promise<void> {
    await this.write(offset, data);
  }

  async zero(offset: number, length: number): Promise<void> {
    const end = Math.min(offset + length, this.currentSize);
    if (end <= offset) return;
    this.checksums.spoil(offset, end);
    const [first, last] = this.wholeBlocks(offset, end);
    if (last <= first) {
      await this.patch(offset, end, null);
      return;
    }
    await this.patch(offset, first * this.blockSize, null);
    await this.patch(last * this.blockSize, end, null);
    for (let block = first; block < last; block += ZERO_ENTRIES.length / ENTRY_LENGTH) {
      const count = Math.min(ZERO_ENTRIES.length / ENTRY_LENGTH, last - block);
      for (let i = 0; i < count; i++) this.partial.delete(block + i);
      await this.record.write(block, ZERO_ENTRIES.subarray(0, count * ENTRY_LENGTH));
    }
    this.counts.bytesPunched += Math.min(end, last * this.blockSize) - first * this.blockSize;
  }

  stats(): WriterStats {
    const { bytesWritten, bytesPunched, bytesCompared } = this.counts;
    return { bytesWritten, bytesPunched, bytesCompared };
  }

  /** Completes the blocks written in part, and flushes every chunk this revision added, names included. */
  sync(): Promise<void> {
    this.syncing = (async () => {
      await this.flushPartial();
      await this.background;
      await chunkWorkers.flush(this.registration.id, this.pool.path, true);
      this.unflushed = false;
      if (chunkWorkers.deaths !== this.deathsAtStart) throw new Error('a chunk worker failed during the backup; its chunks are lost');
    })();
    return this.syncing;
  }

  /**
   * Reads the revision as written so far; the job verifies while the flush
   * runs, and chunks are readable under their names only once it is done.
   */
  reader(): ImageReader {
    const image = new IndexedImage(this.pool, (first, count) => this.record.read(first, count), this.blockSize, () => this.currentSize);
    return {
      size: this.currentSize,
      read: async (buffer, length, position) => {
        if (this.syncing) await this.syncing;
        else if (this.unflushed || this.partial.size > 0) await this.sync();
        return image.read(buffer, length, position);
      },
      writtenChecksum: (position, length) => this.checksums.get(position, length),
    };
  }

  async commit(): Promise<CommittedData> {
    await this.sync();
    const hashes = await this.record.finish();
    await chmod(this.indexPath, 0o440);
    return { hashes, stats: { chunks_added: this.counts.newChunks, bytes_added: this.counts.storedBytes } };
  }

  async close(): Promise<void> {
    try {
      await this.record.close();
    } finally {
      await chunkWorkers.forget(this.registration.id).catch(() => undefined);
      await this.registration.release();
    }
  }

  /** Makes [offset, offset + data.length) hold `data`. */
  private async place(offset: number, data: Buffer): Promise<void> {
    const end = offset + data.length;
    if (end > this.currentSize) throw new Error(`write of [${offset}, ${end}) past the end of the image (${this.currentSize} bytes)`);
    const [first, last] = this.wholeBlocks(offset, end);
    if (last <= first) {
      await this.patch(offset, end, data.subarray(0));
      return;
    }
    const from = first * this.blockSize;
    const to = Math.min(last * this.blockSize, this.currentSize);
    await this.patch(offset, from, data.subarray(0, from - offset));
    await this.patch(to, end, data.subarray(to - offset));
    for (let block = first; block < last; block++) this.partial.delete(block);
    await this.putBlocks(first, data.subarray(from - offset, to - offset));
  }

  /** Hashes and stores whole blocks from `firstBlock` on, on several workers at once. */
  private async putBlocks(firstBlock: number, data: Buffer): Promise<void> {
    const shared = data.buffer instanceof SharedArrayBuffer ? data : copyToShared(data);
    const piece = BLOCKS_PER_PUT * this.blockSize;
    const puts: Array<Promise<void>> = [];
    for (let at = 0; at < shared.length; at += piece) {
      const length = Math.min(piece, shared.length - at);
      const block = firstBlock + at / this.blockSize;
      puts.push(this.put(block, shared.subarray(at, at + length)));
    }
    const outcomes = await Promise.allSettled(puts);
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private async put(firstBlock: number, data: Buffer): Promise<void> {
    const count = Math.ceil(data.length / this.blockSize);
    const base = await this.record.read(firstBlock, count);
    const reply = await chunkWorkers.put({
      writer: this.registration.id,
      pool: this.pool.path,
      memory: data.buffer as SharedArrayBuffer,
      byteOffset: data.byteOffset,
      length: data.length,
      blockSize: this.blockSize,
      base,
    });
    this.counts.bytesCompared += data.length;
    this.counts.bytesWritten += reply.changedBytes;
    this.counts.newChunks += reply.newChunks;
    this.counts.storedBytes += reply.storedBytes;
    if (reply.newChunks > 0) this.unflushed = true;
    this.sinceFlush += reply.storedBytes;
    // The disk writes back while the workers go on hashing, instead of all of it at the end.
    if (this.sinceFlush >= BACKGROUND_FLUSH && this.background === undefined) {
      this.sinceFlush = 0;
      this.background = handled(chunkWorkers.flush(this.registration.id, this.pool.path, false).finally(() => (this.background = undefined)));
    }
    if (!reply.entries.equals(base)) await this.record.write(firstBlock, reply.entries);
  }

  /** Writes [start, end) (within blocks not covered whole) into their in-memory blocks; null: zeros. */
  private async patch(start: number, end: number, data: Buffer | null): Promise<void> {
    const bs = this.blockSize;
    for (let at = start; at < end; ) {
      const block = Math.floor(at / bs);
      const stop = Math.min(end, (block + 1) * bs);
      const target = await this.partialBlock(block);
      if (data) data.copy(target, at - block * bs, at - start, stop - start);
      else target.fill(0, at - block * bs, stop - block * bs);
      at = stop;
    }
    if (this.partial.size > PARTIAL_LIMIT) await this.flushPartial();
  }

  /** The block in memory, loaded from its chunk (as long as the image now says) the first time. */
  private async partialBlock(block: number): Promise<Buffer> {
    const held = this.partial.get(block);
    if (held) return held;
    const buffer = alignedBuffer(this.blockSize);
    const [entry] = [await this.record.read(block, 1)];
    if (!entry!.equals(ZERO_ENTRY)) {
      // A chunk this backup wrote gets its name only at a flush.
      if (this.unflushed) {
        await this.background;
        await chunkWorkers.flush(this.registration.id, this.pool.path, false);
        this.unflushed = false;
      }
      const image = new IndexedImage(this.pool, async () => entry!, this.blockSize, () => this.currentSize);
      const length = Math.min(this.blockSize, this.currentSize - block * this.blockSize);
      await image.read(buffer, length, block * this.blockSize);
    }
    this.partial.set(block, buffer);
    return buffer;
  }

  private async flushPartial(): Promise<void> {
    const blocks = [...this.partial.entries()].sort(([a], [b]) => a - b);
    this.partial.clear();
    for (const [block, buffer] of blocks) {
      const length = Math.min(this.blockSize, this.currentSize - block * this.blockSize);
      if (length > 0) await this.put(block, buffer.subarray(0, length));
    }
  }

  /** The blocks [first, last) that [start, end) covers whole (the last block counts whole up to the image's end). */
  private wholeBlocks(start: number, end: number): [number, number] {
    const first = Math.ceil(start / this.blockSize);
    const last = end >= this.currentSize ? Math.ceil(this.currentSize / this.blockSize) : Math.floor(end / this.blockSize);
    return [first, Math.max(first, last)];
  }
}

function copyToShared(data: Buffer): Buffer {
  const copy = alignedBuffer(data.length);
  data.copy(copy);
  return copy;
}
