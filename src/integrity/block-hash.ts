import { createHash } from 'node:crypto';

/**
 * Every revision records a SHA-256 of each block of its data, taken from
 * the bytes the source handed over, so that whatever reads it back later
 * can prove it gets those very bytes.
 */
export const HASH_ALGORITHM = 'sha256';
export const ENTRY_LENGTH = 32;

/**
 * 64 KiB: the block in which backups compare and write (DELTA_BLOCK_SIZE),
 * so an incremental hashes exactly the blocks it wrote, a Ceph diff of
 * 64 KiB extents never needs the rest of a block read back to hash it, and
 * damage is named to the block the filesystem would have to repair. It
 * costs 32 bytes per 64 KiB of image (0.05 %: 2 MiB for a 4 GiB image).
 */
export const HASH_BLOCK_SIZE = 64 * 1024;

/**
 * The block sizes backy records hashes in: HASH_BLOCK_SIZE, or a chunk
 * pool's chunk size (a power of two from 4 KiB to 4 MiB). Any other is a
 * damaged `.rev`, and would not divide the chunks a restore proves a root
 * hash in.
 */
export function isRecordedBlockSize(size: unknown): size is number {
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 4096 && size <= 4 * 1024 * 1024 && (size & (size - 1)) === 0;
}

/**
 * The entry of a block that reads as zeros: all-zero bytes instead of the
 * block's SHA-256 (which is never all zeros in practice). Zero blocks, the
 * holes of a sparse image, then need no hashing and their entries are the
 * holes of a sparse hash file.
 */
export const ZERO_ENTRY = Buffer.alloc(ENTRY_LENGTH);

const ZEROS = Buffer.alloc(HASH_BLOCK_SIZE);

export function isZeroBlock(block: Buffer): boolean {
  for (let at = 0; at < block.length; at += ZEROS.length) {
    const piece = block.subarray(at, Math.min(block.length, at + ZEROS.length));
    if (!piece.equals(ZEROS.subarray(0, piece.length))) return false;
  }
  return true;
}

/** The entries of `data`'s blocks (the last may be short), hashed here on the calling thread. */
export function hashBlocksHere(data: Buffer, blockSize: number): Buffer {
  const count = Math.ceil(data.length / blockSize);
  const entries = Buffer.alloc(count * ENTRY_LENGTH);
  for (let i = 0; i < count; i++) {
    const block = data.subarray(i * blockSize, Math.min(data.length, (i + 1) * blockSize));
    if (!isZeroBlock(block)) createHash(HASH_ALGORITHM).update(block).digest().copy(entries, i * ENTRY_LENGTH);
  }
  return entries;
}

/** Index of the first entry in `actual` that differs from `expected`, or -1. */
export function firstMismatch(expected: Buffer, actual: Buffer): number {
  if (expected.equals(actual)) return -1;
  for (let i = 0; i * ENTRY_LENGTH < expected.length; i++) {
    const at = i * ENTRY_LENGTH;
    if (!expected.subarray(at, at + ENTRY_LENGTH).equals(actual.subarray(at, at + ENTRY_LENGTH))) return i;
  }
  return -1;
}
