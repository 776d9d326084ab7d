import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { copySparse } from './index-copy.js';
import { join } from 'node:path';
import { errorCode } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { ENTRY_LENGTH, ZERO_ENTRY } from '../../integrity/block-hash.js';
import { blockCount, HashRecord, HashRecordWriter, HEADER_LENGTH, readRecordHeader, type RecordedHashes } from '../../integrity/hash-record.js';
import { assertRevisionId, isRevisionId } from '../revision-id.js';
import type { DataState, DirectoryListing, HashRecordSink, RevisionWriter, Store } from '../store.js';
import { entriesOf } from '../directory-listing.js';
import { StoreError } from '../store.js';
import { PendingRecords } from '../pending-records.js';
import { ChunkPool } from './chunk-pool.js';
import { ChunkedRevisionReader, readIndexEntries } from './chunked-reader.js';
import { ChunkedRevisionWriter } from './chunked-writer.js';
import { chunkPath } from './pool-layout.js';
import { unlinkIfPresent } from '../../util/unlink.js';

export const INDEX_SUFFIX = '.index';
/** Entries read at a time when looking through an index for damaged chunks. */
const SCAN_ENTRIES = 32 * 1024;
/** Distinct chunks `usage` counts (those of a 128 GiB image) before it gives up for an estimate. */
const USAGE_LIMIT = 2_000_000;
/**
 * Indexes and index bytes `usage` reads at most, so that `status` stays
 * well under a second (2,000 indexes: about 0.2 s; 256 MiB: 128 revisions
 * of a 4 GiB image).
 */
const USAGE_INDEX_LIMIT = 2_000;
const USAGE_READ_LIMIT = 256 * 1024 * 1024;
/** Indexes read between turns of the event loop. */
const USAGE_BATCH = 250;

/**
 * Revisions as indexes of chunks: `{job}/{id}.index` is the revision's hash
 * record (header, then the SHA-256 of each block, zeros for zero blocks),
 * and each entry names the chunk in the pool that holds the block. The
 * pool is shared by every job that names it; the index is the job's.
 */
export class ChunkedStore implements Store {
  readonly name = 'chunked';

  private readonly pendingIndexes: PendingRecords;

  constructor(
    private readonly directory: string,
    readonly poolPath: string,
  ) {
    this.pendingIndexes = new PendingRecords(directory, INDEX_SUFFIX);
  }

  indexPath(id: string): string {
    return join(this.directory, `${assertRevisionId(id)}${INDEX_SUFFIX}`);
  }

  pool(create = false): Promise<ChunkPool> {
    return ChunkPool.open(this.poolPath, { create });
  }

  async create(id: string, parent: { id: string; hashes: RecordedHashes | null } | null, logger: Logger): Promise<RevisionWriter> {
    const pool = await this.pool(true);
    const path = this.indexPath(id);
    const inherited = parent ? await this.provenParent(parent.id, parent.hashes, pool.chunkSize, logger) : null;
    let record: HashRecordWriter;
    if (inherited) {
      // A copy of the parent's index: its entries for every block kept.
      await copySparse(this.indexPath(inherited.id), path);
      record = await HashRecordWriter.adopt(path, pool.chunkSize, inherited.size);
    } else {
      record = await HashRecordWriter.create(path, pool.chunkSize, 0);
    }
    try {
      const registration = await pool.registerWriter();
      return new ChunkedRevisionWriter(pool, record, registration, path, inherited?.size ?? 0, inherited ? 'chunks' : 'empty');
    } catch (err) {
      await record.close();
      throw err;
    }
  }

  /** The parent's index, if it is in this store, of this pool's chunk size, and proves itself. */
  private async provenParent(id: string, hashes: RecordedHashes | null, chunkSize: number, logger: Logger) {
    if (!hashes) return null;
    if (hashes.blockSize !== chunkSize) {
      logger.info(`parent revision ${id} has ${hashes.blockSize}-byte blocks, the pool ${chunkSize}-byte chunks: this backup is a full one`);
      return null;
    }
    let handle: FileHandle;
    try {
      handle = await open(this.indexPath(id), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') {
        logger.info(`parent revision ${id} is not in the chunked store: this backup is a full one into it`);
        return null;
      }
      throw err;
    }
    try {
      const header = await readRecordHeader(handle);
      if (!header) throw new Error('its index has no valid header');
      await (await HashRecord.open(this.indexPath(id), header.size, hashes)).close();
      return { id, size: header.size };
    } catch (err) {
      logger.warn(`not using the index of parent revision ${id}: ${(err as Error).message}; this backup is a full one`);
      return null;
    } finally {
      await handle.close();
    }
  }

  async open(id: string): Promise<ChunkedRevisionReader> {
    let handle: FileHandle;
    try {
      handle = await open(this.indexPath(id), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw storeError(err, id);
    }
    try {
      const header = await this.checkedHeader(handle, id);
      const pool = await this.pool().catch((err: unknown) => {
        throw new StoreError(`the chunks of revision ${id} cannot be read: ${(err as Error).message}`, 'unreadable');
      });
      if (pool.chunkSize !== header.blockSize) {
        throw new StoreError(`the index of revision ${id} has ${header.blockSize}-byte blocks, its pool ${pool.chunkSize}-byte chunks`, 'unreadable');
      }
      return new ChunkedRevisionReader(handle, this.indexPath(id), header.size, header.blockSize, pool);
    } catch (err) {
      await handle.close();
      throw storeError(err, id);
    }
  }

  /** The index's header, if it is a complete index of exactly the length it says. */
  private async checkedHeader(handle: FileHandle, id: string): Promise<{ blockSize: number; size: number }> {
    const info = await handle.stat();
    if (!info.isFile()) throw new StoreError(`the index of revision ${id} is not a regular file`, 'unreadable');
    const header = await readRecordHeader(handle);
    if (!header) throw new StoreError(`the index of revision ${id} is incomplete or not an index`, 'unreadable');
    const length = HEADER_LENGTH + blockCount(header.size, header.blockSize) * ENTRY_LENGTH;
    if (info.size !== length) throw new StoreError(`the index of revision ${id} has ${info.size} bytes, not ${length}`, 'unreadable');
    return header;
  }

  async stat(id: string): Promise<DataState> {
    let handle: FileHandle;
    try {
      handle = await open(this.indexPath(id), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { state: 'missing' };
      return { state: 'unreadable', reason: storeError(err, id).message };
    }
    try {
      const header = await this.checkedHeader(handle, id);
      const info = await handle.stat();
      return { state: 'present', size: header.size, allocated: info.blocks * 512 };
    } catch (err) {
      return { state: 'unreadable', reason: (err as Error).message };
    } finally {
      await handle.close();
    }
  }

  async recordHashes(id: string, size: number, fill: (record: HashRecordSink) => Promise<void>): Promise<RecordedHashes> {
    const pool = await this.pool();
    return this.pendingIndexes.write(id, this.indexPath(id), pool.chunkSize, size, fill);
  }

  async remove(id: string): Promise<void> {
    for (const path of [this.indexPath(id), ...(await this.pendingIndexes.take(id))]) {
      // A directory under an index's name is none of ours (list() never names one): left alone, not a failed backup.
      await unlinkIfPresent(path).catch((err: unknown) => {
        if (errorCode(err) !== 'EISDIR') throw err;
      });
    }
  }

  async present(listing?: DirectoryListing): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const entry of await entriesOf(this.directory, listing)) {
      if (!entry.isFile() || !entry.name.endsWith(INDEX_SUFFIX)) continue;
      const id = entry.name.slice(0, -INDEX_SUFFIX.length);
      if (isRevisionId(id)) ids.add(id);
    }
    return ids;
  }

  async list(listing?: DirectoryListing): Promise<string[]> {
    const ids = new Set<string>();
    // Regular files only, as the cow store's: a directory or a link under an index's name is none of ours, and never removed.
    for (const entry of await entriesOf(this.directory, listing)) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      const candidate = name.endsWith(INDEX_SUFFIX) ? name.slice(0, -INDEX_SUFFIX.length) : this.pendingIndexes.owner(name);
      if (candidate && isRevisionId(candidate)) ids.add(candidate);
    }
    return [...ids];
  }

  /**
   * What the revisions `ids` really take in the pool: their distinct
   * chunks and the bytes those take on disk (shared with other jobs or
   * not); null where that is more than `status` should read (more
   * distinct chunks than are worth counting one by one, or indexes beyond
   * USAGE_INDEX_LIMIT and USAGE_READ_LIMIT: 10,000 revisions of a 4 GiB image have 20 GiB).
   *
   * Revisions of one job name mostly the same chunk at the same block: each
   * index is read beside the one before it, and only entries that differ
   * from the previous revision's at the same block are looked at (an entry
   * equal to it was counted with that revision). An index whose recorded
   * root is the previous one's (an idle VM's hourly backups) holds the same
   * entries and is not read at all.
   */
  async usage(revisions: ReadonlyArray<{ id: string; root: string | null }>, listing?: DirectoryListing): Promise<PoolUsage | null> {
    // One listing instead of a failed open per revision of another store (10,000 cow revisions: 0.3 s).
    const held = await this.present(listing).catch(() => new Set<string>());
    if (revisions.filter(({ id }) => held.has(id)).length > USAGE_INDEX_LIMIT) return null;
    const names = new Set<string>();
    // Only the previous index is held open beside the next. Read
    // synchronously, a batch of revisions between turns of the event loop:
    // four thread-pool round trips per index cost 10,000 revisions 1.5 s.
    let previous: IndexFile | undefined;
    let previousRoot: string | null = null;
    try {
      let total = 0;
      for (const [number, { id, root }] of revisions.entries()) {
        if (!held.has(id)) continue;
        if (previous && root !== null && root === previousRoot) continue;
        previousRoot = root;
        if (number % USAGE_BATCH === USAGE_BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
        const index = openIndexSync(this.indexPath(id));
        if (!index) continue;
        total += index.size;
        const counted = total <= USAGE_READ_LIMIT && addChangedNames(index, previous, names);
        if (!counted) {
          closeSync(index.fd);
          return null;
        }
        if (previous) closeSync(previous.fd);
        previous = index;
      }
    } finally {
      if (previous) closeSync(previous.fd);
    }
    let pool: ChunkPool;
    try {
      pool = await this.pool();
    } catch (err) {
      if (names.size === 0) return { chunks: 0, bytes: 0 };
      return { chunks: names.size, bytes: 0, unreadable: (err as Error).message };
    }
    let bytes = 0;
    // Synchronously and without an exception for a chunk that is gone: a thread-pool round trip and a thrown error each cost more than the lstat.
    for (const name of names) bytes += chunkBytes(pool.chunkPath(name));
    return { chunks: names.size, bytes };
  }

  /** Revisions whose index names a chunk that a read found damaged (or missing) and that no backup wrote again since. */
  async damagedRevisions(ids: readonly string[]): Promise<string[]> {
    let pool: ChunkPool;
    try {
      pool = await this.pool();
    } catch {
      return [];
    }
    const lost = new Set((await pool.damaged()).filter((name) => !existsSync(chunkPath(pool.path, name))));
    if (lost.size === 0) return [];
    const found: string[] = [];
    for (const id of ids) if (!(await this.eachChunkName(id, (name) => !lost.has(name)))) found.push(id);
    return found;
  }

  /**
   * Hands every chunk name of the revision's index to `visit` until it
   * returns false (then false); a revision without an index names none.
   */
  private async eachChunkName(id: string, visit: (name: string) => boolean): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.indexPath(id), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return true;
    }
    try {
      const blocks = Math.max(0, ((await handle.stat()).size - HEADER_LENGTH) / ENTRY_LENGTH);
      for (let block = 0; block < blocks; block += SCAN_ENTRIES) {
        const entries = await readIndexEntries(handle, block, Math.min(SCAN_ENTRIES, blocks - block));
        for (let at = 0; at < entries.length; at += ENTRY_LENGTH) {
          if (entries.subarray(at, at + ENTRY_LENGTH).equals(ZERO_ENTRY)) continue;
          if (!visit(entries.toString('hex', at, at + ENTRY_LENGTH))) return false;
        }
      }
      return true;
    } finally {
      await handle.close();
    }
  }
}

/** The distinct chunks a job's revisions name and their bytes in the pool; `unreadable` says why the pool could not be looked at. */
export interface PoolUsage {
  chunks: number;
  bytes: number;
  unreadable?: string;
}

interface IndexFile {
  fd: number;
  size: number;
  blocks: number;
  /** Its batches as read, kept for the next revision's comparison where the index is small enough (images up to 32 GiB). */
  batches: Buffer[] | null;
}

const KEPT_INDEX = 16 * 1024 * 1024;

/** A revision's index opened for reading; null where there is none, or it is no regular file. */
function openIndexSync(path: string): IndexFile | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    if (info.isFile()) return { fd, size: info.size, blocks: Math.max(0, Math.floor((info.size - HEADER_LENGTH) / ENTRY_LENGTH)), batches: info.size <= KEPT_INDEX ? [] : null };
  } catch {
    // Unreadable: not counted, as a missing one.
  }
  closeSync(fd);
  return null;
}

/** Batch `first / SCAN_ENTRIES` of the index: `count` entries from `first` on (fewer at the end of the file). */
function readEntriesSync(index: IndexFile, first: number, count: number): Buffer {
  const kept = index.batches?.[first / SCAN_ENTRIES];
  if (kept) return kept;
  const buffer = Buffer.allocUnsafe(count * ENTRY_LENGTH);
  let done = 0;
  while (done < buffer.length) {
    const got = readSync(index.fd, buffer, done, buffer.length - done, HEADER_LENGTH + first * ENTRY_LENGTH + done);
    if (got === 0) break;
    done += got;
  }
  const entries = buffer.subarray(0, done - (done % ENTRY_LENGTH));
  if (index.batches) index.batches[first / SCAN_ENTRIES] = entries;
  return entries;
}

/**
 * Adds to `names` the chunks `index` names where `previous` (the revision
 * before it, if any) names another at the same block; false once `names`
 * holds more than USAGE_LIMIT.
 */
function addChangedNames(index: IndexFile, previous: IndexFile | undefined, names: Set<string>): boolean {
  for (let block = 0; block < index.blocks; block += SCAN_ENTRIES) {
    const count = Math.min(SCAN_ENTRIES, index.blocks - block);
    const entries = readEntriesSync(index, block, count);
    const before = previous && block < previous.blocks ? readEntriesSync(previous, block, Math.min(count, previous.blocks - block)) : null;
    // Nothing changed in these 32,768 blocks: one comparison for all of them.
    if (before && before.equals(entries)) continue;
    // Compared in place (no views made): spans of 32 entries first, then the entries of a span that differs.
    const span = 32 * ENTRY_LENGTH;
    for (let start = 0; start < entries.length; start += span) {
      const end = Math.min(entries.length, start + span);
      if (before && end <= before.length && entries.compare(before, start, end, start, end) === 0) continue;
      for (let at = start; at < end; at += ENTRY_LENGTH) {
        if (ZERO_ENTRY.compare(entries, at, at + ENTRY_LENGTH) === 0) continue;
        if (before && at + ENTRY_LENGTH <= before.length && entries.compare(before, at, at + ENTRY_LENGTH, at, at + ENTRY_LENGTH) === 0) continue;
        names.add(entries.toString('hex', at, at + ENTRY_LENGTH));
        if (names.size > USAGE_LIMIT) return false;
      }
    }
  }
  return true;
}

/** The bytes a chunk takes on disk; none where it is gone, or its stripe is a file of another kind (ENOTDIR: not a failed status). */
function chunkBytes(path: string): number {
  try {
    return (lstatSync(path, { throwIfNoEntry: false })?.blocks ?? 0) * 512;
  } catch (err) {
    if (errorCode(err) === 'ENOTDIR') return 0;
    throw err;
  }
}

function storeError(err: unknown, id: string): Error {
  if (err instanceof StoreError) return err;
  const code = errorCode(err);
  if (code === 'ENOENT') return new StoreError(`the index of revision ${id} is missing`, 'missing');
  if (code === 'ELOOP') return new StoreError(`the index of revision ${id} is a symbolic link, not an index`, 'unreadable');
  return new StoreError(`the index of revision ${id} cannot be read: ${(err as Error).message}`, 'unreadable');
}
