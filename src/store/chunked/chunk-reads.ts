import { ENTRY_LENGTH, ZERO_ENTRY } from '../../integrity/block-hash.js';
import { DamageError } from '../../integrity/hash-check.js';
import { alignedBuffer } from '../../io/native-io.js';
import type { ChunkPool } from './chunk-pool.js';
import type { ChunkFailure } from './chunk-protocol.js';
import { chunkWorkers } from './chunk-workers.js';

/** Blocks per read request to a worker: 1 MiB of 64 KiB chunks, so that a 4 MiB read keeps four workers busy. */
const BLOCKS_PER_REQUEST = 16;
/** Entries read at a time when mapping data ranges (1 MiB of index covers 2 GiB of 64 KiB blocks). */
const ENTRIES_PER_SCAN = 32 * 1024;
/** Scratch buffers kept for the next reads: as many as a restore reads at once. */
const SPARE_LIMIT = 4;

/** A block whose chunk is missing from the pool or does not hold what its name says. */
export class ChunkDamageError extends DamageError {
  constructor(
    offset: number,
    readonly chunk: string,
    kind: ChunkFailure,
  ) {
    super(offset);
    this.message =
      kind === 'missing'
        ? `block at offset ${offset}: its chunk ${chunk} is missing from the pool`
        : kind === 'other-length'
          ? `block at offset ${offset}: the index names chunk ${chunk}, which holds a block of another length (the index is damaged)`
          : `block at offset ${offset} does not match its recorded hash (chunk ${chunk} is damaged)`;
  }
}

/** Where a revision's entries come from: its index, complete or being written. */
export type EntrySource = (firstBlock: number, count: number) => Promise<Buffer>;

/**
 * Reads an image that an index describes: zero entries read as zeros,
 * every other block from its chunk, proven against its name by the worker
 * that read it. A chunk that fails is quarantined (see ChunkPool), unless
 * it proves itself as a block of another length (the index is what is
 * wrong), and the read fails with a DamageError: never are bytes returned
 * that are not the block's.
 */
export class IndexedImage {
  /** Scratch buffers not in use: reads run at once (a restore reads ahead), and each needs its own. */
  private readonly spare: Buffer[] = [];

  constructor(
    private readonly pool: ChunkPool,
    private readonly entries: EntrySource,
    private readonly blockSize: number,
    private readonly size: () => number,
  ) {}

  async read(buffer: Buffer, length: number, position: number): Promise<number> {
    const size = this.size();
    const bs = this.blockSize;
    length = Math.max(0, Math.min(length, size - position));
    if (length === 0) return 0;
    const first = Math.floor(position / bs);
    const last = Math.ceil((position + length) / bs);
    const entries = await this.entries(first, last - first);
    const direct = position % bs === 0 && buffer.buffer instanceof SharedArrayBuffer && (length % bs === 0 || position + length === size);
    const target = direct ? buffer : this.takeScratch((last - first) * bs);
    const requests: Array<Array<{ at: number; length: number; name: string; block: number }>> = [];
    for (let i = 0; i < last - first; i++) {
      const block = first + i;
      const blockLength = Math.min(bs, size - block * bs);
      const entry = entries.subarray(i * ENTRY_LENGTH, (i + 1) * ENTRY_LENGTH);
      if (entry.equals(ZERO_ENTRY)) {
        target.fill(0, i * bs, i * bs + blockLength);
        continue;
      }
      if (requests.length === 0 || requests.at(-1)!.length >= BLOCKS_PER_REQUEST) requests.push([]);
      requests.at(-1)!.push({ at: target.byteOffset + i * bs, length: blockLength, name: entry.toString('hex'), block });
    }
    const replies = await Promise.all(
      requests.map((blocks) => chunkWorkers.read({ pool: this.pool.path, chunkSize: this.pool.chunkSize, memory: target.buffer as SharedArrayBuffer, blocks })),
    );
    for (const [r, reply] of replies.entries()) {
      const failure = reply.failed[0];
      if (!failure) continue;
      const bad = requests[r]![failure.index]!;
      if (failure.kind !== 'other-length') await this.pool.quarantine(bad.name);
      throw new ChunkDamageError(bad.block * bs, bad.name, failure.kind);
    }
    if (!direct) {
      target.copy(buffer, 0, position - first * bs, position - first * bs + length);
      if (this.spare.length < SPARE_LIMIT) this.spare.push(target);
    }
    return length;
  }

  /** The ranges of blocks with data within [start, end). */
  async dataRanges(start: number, end: number): Promise<Array<[number, number]>> {
    const size = this.size();
    const bs = this.blockSize;
    const stop = Math.min(end, size);
    const ranges: Array<[number, number]> = [];
    for (let block = Math.floor(start / bs); block * bs < stop; ) {
      const count = Math.min(ENTRIES_PER_SCAN, Math.ceil(stop / bs) - block);
      const entries = await this.entries(block, count);
      for (let i = 0; i < count; i++, block++) {
        if (entries.subarray(i * ENTRY_LENGTH, (i + 1) * ENTRY_LENGTH).equals(ZERO_ENTRY)) continue;
        const from = Math.max(start, block * bs);
        const to = Math.min(stop, (block + 1) * bs);
        const previous = ranges.at(-1);
        if (previous && previous[1] === from) previous[1] = to;
        else ranges.push([from, to]);
      }
    }
    return ranges;
  }

  private takeScratch(size: number): Buffer {
    const fits = this.spare.findIndex((spare) => spare.length >= size);
    if (fits >= 0) return this.spare.splice(fits, 1)[0]!;
    const aligned = alignedBuffer(size);
    // Without the native helper that is no shared memory: the workers would read the chunks into a copy of it, never into it.
    return aligned.buffer instanceof SharedArrayBuffer ? aligned : Buffer.from(new SharedArrayBuffer(size));
  }
}
