import type { Chunk } from '../io/chunk-pipeline.js';
import { ENTRY_LENGTH, ZERO_ENTRY } from './block-hash.js';
import { hashBlocks } from './hash-pool.js';
import type { HashRecord } from './hash-record.js';

/** A block whose bytes do not match its recorded hash. */
export class DamageError extends Error {
  constructor(readonly offset: number) {
    super(`block at offset ${offset} does not match its recorded hash`);
  }
}

/**
 * A pipeline check stage that proves every chunk against `record`: the
 * blocks' SHA-256 (holes: zeros) must be their recorded entries. The first
 * bad block is a DamageError — or, with `onDamage`, reported there for
 * every bad block while the data goes on as it is.
 */
export function hashCheck(record: HashRecord, onDamage?: (offset: number) => void): (chunk: Chunk) => Promise<void> {
  const blockSize = record.blockSize;
  return async (chunk) => {
    const first = chunk.offset / blockSize;
    const count = Math.ceil(chunk.length / blockSize);
    const [expected, actual] = await Promise.all([
      record.read(first, count),
      chunk.data ? hashBlocks(chunk.data, blockSize) : Promise.resolve(null),
    ]);
    if (actual?.equals(expected)) return;
    for (let i = 0; i < count; i++) {
      const want = expected.subarray(i * ENTRY_LENGTH, (i + 1) * ENTRY_LENGTH);
      const got = actual ? actual.subarray(i * ENTRY_LENGTH, (i + 1) * ENTRY_LENGTH) : ZERO_ENTRY;
      if (want.equals(got)) continue;
      const offset = chunk.offset + i * blockSize;
      if (!onDamage) throw new DamageError(offset);
      onDamage(offset);
    }
  };
}
