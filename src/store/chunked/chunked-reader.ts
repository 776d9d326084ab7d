import type { FileHandle } from 'node:fs/promises';
import { ENTRY_LENGTH } from '../../integrity/block-hash.js';
import { HashRecord, HEADER_LENGTH, type RecordedHashes } from '../../integrity/hash-record.js';
import type { RevisionReader } from '../store.js';
import type { ChunkPool } from './chunk-pool.js';
import { IndexedImage } from './chunk-reads.js';

/** Reads `count` entries from `firstBlock` of an index file; past its end they read as zero entries. */
export async function readIndexEntries(handle: FileHandle, firstBlock: number, count: number): Promise<Buffer> {
  const buffer = Buffer.alloc(count * ENTRY_LENGTH);
  for (let done = 0; done < buffer.length; ) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, HEADER_LENGTH + firstBlock * ENTRY_LENGTH + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer;
}

/** A complete chunked revision: its index (a hash record) and the pool its chunks are in. */
export class ChunkedRevisionReader implements RevisionReader {
  readonly provesReads = true;
  private readonly image: IndexedImage;

  constructor(
    private readonly handle: FileHandle,
    private readonly indexPath: string,
    readonly size: number,
    blockSize: number,
    pool: ChunkPool,
  ) {
    this.image = new IndexedImage(pool, (first, count) => readIndexEntries(handle, first, count), blockSize, () => size);
  }

  read(buffer: Buffer, length: number, position: number): Promise<number> {
    return this.image.read(buffer, length, position);
  }

  dataRanges(start: number, end: number): Promise<Array<[number, number]>> {
    return this.image.dataRanges(start, end);
  }

  hashes(recorded: RecordedHashes): Promise<HashRecord> {
    return HashRecord.open(this.indexPath, this.size, recorded);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
