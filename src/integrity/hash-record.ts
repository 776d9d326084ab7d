import { constants } from 'node:fs';
import { chmod, copyFile, open, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { NotRegularFileError, openRegularFile } from '../util/regular-file.js';
import { ENTRY_LENGTH, HASH_ALGORITHM } from './block-hash.js';

/**
 * A revision's recorded block hashes on disk: a 32-byte header (magic,
 * version, block size, image size) and one 32-byte entry per block, entry
 * i at offset 32 × (i + 1). Zero blocks have all-zero entries, so the file
 * of a sparse image is sparse too. The root hash, SHA-256 over the whole
 * file, goes into the revision's `.rev`: it proves the record itself.
 */
const MAGIC = Buffer.from('backyhsh');
const VERSION = 1;
export const HEADER_LENGTH = 32;

/** What a `.rev` records about its hashes (`hashes:`). */
export interface RecordedHashes {
  algorithm: typeof HASH_ALGORITHM;
  blockSize: number;
  /** SHA-256 of the record file, hex. */
  root: string;
}

/** The record exists but cannot be used: it is not the revision's damage, its metadata's. */
export class HashRecordError extends Error {
  constructor(
    message: string,
    readonly kind: 'missing' | 'truncated' | 'damaged',
  ) {
    super(message);
  }
}

export function blockCount(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

export function recordHeader(blockSize: number, size: number): Buffer {
  const buffer = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(buffer, 0);
  buffer.writeUInt32LE(VERSION, 8);
  buffer.writeUInt32LE(blockSize, 12);
  buffer.writeBigUInt64LE(BigInt(size), 16);
  return buffer;
}

/**
 * The block size and image size a finished record's header states; null
 * when it has none (a record still being written, or not a record).
 */
export async function readRecordHeader(handle: FileHandle): Promise<{ blockSize: number; size: number } | null> {
  const head = Buffer.alloc(HEADER_LENGTH);
  const { bytesRead } = await handle.read(head, 0, HEADER_LENGTH, 0);
  if (bytesRead < HEADER_LENGTH || !head.subarray(0, MAGIC.length).equals(MAGIC) || head.readUInt32LE(8) !== VERSION) return null;
  const blockSize = head.readUInt32LE(12);
  const size = Number(head.readBigUInt64LE(16));
  if (blockSize === 0 || !Number.isSafeInteger(size) || !head.equals(recordHeader(blockSize, size))) return null;
  return { blockSize, size };
}

/** SHA-256 of the file's first `length` bytes, read in pieces. */
async function fileRoot(handle: FileHandle, length: number): Promise<string> {
  const digest = createHash(HASH_ALGORITHM);
  const buffer = Buffer.allocUnsafe(Math.min(length, 4 * 1024 * 1024));
  for (let at = 0; at < length; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - at), at);
    if (bytesRead === 0) break;
    digest.update(buffer.subarray(0, bytesRead));
    at += bytesRead;
  }
  return digest.digest('hex');
}

/**
 * The record of a revision being written. Entries are written in place as
 * blocks are hashed; a revision of 1 TiB has a 512 MiB record, which never
 * has to fit in memory.
 */
export class HashRecordWriter {
  private constructor(
    private readonly handle: FileHandle,
    readonly blockSize: number,
    private size: number,
  ) {}

  /**
   * A new record at `path` for an image of `size` bytes, all blocks zero;
   * or, with `from`, a copy of that record (shared by reflink where the
   * filesystem can): the parent's entries for the blocks a backup keeps.
   */
  static async create(path: string, blockSize: number, size: number, from?: string): Promise<HashRecordWriter> {
    if (from) {
      await copyFile(from, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      // The copy has the complete record's mode (0440): a backup not run as root could not write it.
      await chmod(path, 0o640);
      const handle = await open(path, 'r+');
      return new HashRecordWriter(handle, blockSize, size);
    }
    const handle = await open(path, 'wx+', 0o640);
    const writer = new HashRecordWriter(handle, blockSize, 0);
    await writer.resize(size);
    return writer;
  }

  /** A record at `path` that the caller made as a copy of another (a parent's, copied sparsely). */
  static async adopt(path: string, blockSize: number, size: number): Promise<HashRecordWriter> {
    return new HashRecordWriter(await open(path, 'r+'), blockSize, size);
  }

  get imageSize(): number {
    return this.size;
  }

  /**
   * The image is now `size` bytes: entries past its blocks go, new blocks
   * are zero. The entry of a block the new size cuts into or extends is the
   * caller's to rewrite.
   */
  async resize(size: number): Promise<void> {
    await this.handle.truncate(HEADER_LENGTH + blockCount(size, this.blockSize) * ENTRY_LENGTH);
    this.size = size;
  }

  async write(firstBlock: number, entries: Buffer): Promise<void> {
    if (entries.length === 0) return;
    await this.handle.write(entries, 0, entries.length, HEADER_LENGTH + firstBlock * ENTRY_LENGTH);
  }

  async read(firstBlock: number, count: number): Promise<Buffer> {
    return readEntries(this.handle, firstBlock, count);
  }

  /** Writes the header, flushes, and returns what the `.rev` records. */
  async finish(): Promise<RecordedHashes> {
    await this.handle.write(recordHeader(this.blockSize, this.size), 0, HEADER_LENGTH, 0);
    await this.handle.datasync();
    const length = HEADER_LENGTH + blockCount(this.size, this.blockSize) * ENTRY_LENGTH;
    return { algorithm: HASH_ALGORITHM, blockSize: this.blockSize, root: await fileRoot(this.handle, length) };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readEntries(handle: FileHandle, firstBlock: number, count: number): Promise<Buffer> {
  const buffer = Buffer.alloc(count * ENTRY_LENGTH);
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, HEADER_LENGTH + firstBlock * ENTRY_LENGTH + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  if (done < buffer.length) throw new HashRecordError(`the hash record ends at block ${firstBlock + done / ENTRY_LENGTH}`, 'truncated');
  return buffer;
}

/** A complete revision's record, checked against what its `.rev` says before anything relies on it. */
export class HashRecord {
  private spans: Array<{ first: number; count: number; entries: Promise<Buffer> }> = [];

  private constructor(
    private readonly handle: FileHandle,
    readonly blockSize: number,
    readonly size: number,
  ) {}

  /**
   * Opens the record of an image of `size` bytes and proves it against
   * `recorded` (its length, header and root hash): a record that does not
   * prove itself is a HashRecordError, never a reason to call the image
   * damaged.
   */
  static async open(path: string, size: number, recorded: RecordedHashes): Promise<HashRecord> {
    let handle: FileHandle;
    try {
      handle = await openRegularFile(path, constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HashRecordError('its hash record is missing', 'missing');
      if (err instanceof NotRegularFileError) throw new HashRecordError(`its hash record cannot be used: ${err.message}`, 'damaged');
      throw err;
    }
    try {
      const length = HEADER_LENGTH + blockCount(size, recorded.blockSize) * ENTRY_LENGTH;
      const actual = (await handle.stat()).size;
      if (actual < length) {
        throw new HashRecordError(`its hash record is truncated (${actual} of ${length} bytes)`, 'truncated');
      }
      const head = Buffer.alloc(HEADER_LENGTH);
      await handle.read(head, 0, HEADER_LENGTH, 0);
      if (actual !== length || !head.equals(recordHeader(recorded.blockSize, size)) || (await fileRoot(handle, length)) !== recorded.root) {
        throw new HashRecordError('its hash record is damaged (it does not match the root hash in its .rev)', 'damaged');
      }
      return new HashRecord(handle, recorded.blockSize, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get blocks(): number {
    return blockCount(this.size, this.blockSize);
  }

  /**
   * The entries of `count` blocks from `firstBlock`. Readers ask for a
   * window's few entries at a time, in order: a span of the record is read
   * at once and kept (a few, for clients reading in several places), which
   * saves a read per request on the thread that serves them. A complete
   * record never changes, so what is kept stays true.
   */
  async read(firstBlock: number, count: number): Promise<Buffer> {
    if (count > SPAN_ENTRIES) return readEntries(this.handle, firstBlock, count);
    let span = this.spans.find((s) => s.first <= firstBlock && firstBlock + count <= s.first + s.count);
    if (!span) {
      const spanCount = Math.max(count, Math.min(SPAN_ENTRIES, this.blocks - firstBlock));
      span = { first: firstBlock, count: spanCount, entries: readEntries(this.handle, firstBlock, spanCount) };
      this.spans.unshift(span);
      this.spans.length = Math.min(this.spans.length, SPANS_KEPT);
      // A failed read is not kept: the next asks again (and fails again with the reason).
      span.entries.catch(() => (this.spans = this.spans.filter((s) => s !== span)));
    }
    const entries = await span.entries;
    const at = (firstBlock - span.first) * ENTRY_LENGTH;
    return Buffer.from(entries.subarray(at, at + count * ENTRY_LENGTH));
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Entries read at once by a complete record's reads (128 KiB: 256 MiB of image at 64 KiB blocks), and spans kept. */
const SPAN_ENTRIES = 4096;
const SPANS_KEPT = 4;
