import { createHash } from 'node:crypto';
import type { Chunk } from '../io/chunk-pipeline.js';
import { ENTRY_LENGTH, HASH_ALGORITHM } from './block-hash.js';
import { hashBlocks } from './hash-pool.js';
import { blockCount, recordHeader, type RecordedHashes } from './hash-record.js';

/**
 * Proves a revision's bytes as a whole when its hash record cannot be used
 * (gone, damaged, or another revision's): the root hash in its `.rev` is
 * SHA-256 over the record, so the record is rebuilt from the bytes as they
 * stream by, and its digest must be that root. It cannot say which block
 * is wrong, only whether the data is the revision's — which is what a
 * restore must not get wrong.
 *
 * `check` hashes chunks out of order (ahead, on the hash workers); `take`
 * sees them in order and feeds the digest, so at most the pipeline's depth
 * of entries waits here.
 */
export class RootProof {
  private readonly pending = new Map<number, Buffer>();
  private readonly digest = createHash(HASH_ALGORITHM);
  private taken = 0;

  constructor(
    private readonly recorded: RecordedHashes,
    private readonly size: number,
  ) {
    this.digest.update(recordHeader(recorded.blockSize, size));
  }

  readonly check = async (chunk: Chunk): Promise<void> => {
    const count = blockCount(chunk.length, this.recorded.blockSize);
    this.pending.set(chunk.offset, chunk.data ? await hashBlocks(chunk.data, this.recorded.blockSize) : Buffer.alloc(count * ENTRY_LENGTH));
  };

  readonly take = (chunk: Chunk): void => {
    const entries = this.pending.get(chunk.offset);
    if (!entries || chunk.offset !== this.taken) throw new Error(`root proof: chunk at offset ${chunk.offset} taken out of order`);
    this.pending.delete(chunk.offset);
    this.digest.update(entries);
    this.taken += chunk.length;
  };

  /** Whether every byte was seen and the rebuilt record's digest is the recorded root. Once. */
  proves(): boolean {
    return this.taken === this.size && this.digest.digest('hex') === this.recorded.root;
  }
}
