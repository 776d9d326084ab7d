import { constants } from 'node:fs';
import { lstat, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import fsx from 'fs-native-extensions';
import { BackyError, errorCode } from '../../util/errors.js';
import { FileLock } from '../../util/lock.js';
import type { Logger } from '../../util/logger.js';
import { ENTRY_LENGTH, ZERO_ENTRY } from '../../integrity/block-hash.js';
import { HEADER_LENGTH } from '../../integrity/hash-record.js';
import type { ChunkPool } from './chunk-pool.js';
import { DAMAGED_DIR, isChunkName, LOCK_FILE, STRIPES, stripeDirectory, stripeOf, TEMPORARY_PREFIX, WRITERS_DIR } from './pool-layout.js';

/**
 * Chunks newer than this before the collection (or its oldest live
 * writer) started are kept: the kernel stamps files from a clock coarser
 * than Date.now() (by a few milliseconds).
 */
export const MARGIN_MS = 1000;
/** Names held in memory at once (about 100 MiB); a larger pool is collected in several passes over its stripes. */
const NAMES_PER_PASS = 1_000_000;
/** Listings of the roots until no new index appears (revisions come and go while we read). */
const MAX_ROUNDS = 100;
const ENTRIES_PER_READ = 32 * 1024;

export interface GcOutcome {
  chunksDeleted: number;
  bytesFreed: number;
  chunksKept: number;
  temporariesDeleted: number;
  indexesRead: number;
}

/** Another process collects the pool now. */
export class GcInProgressError extends BackyError {
  constructor(readonly poolPath: string) {
    super(`a garbage collection of ${poolPath} is already in progress`);
  }
}

/**
 * Deletes the chunks of `pool` that no index in `roots()` (the
 * directories of every job that may use the pool) names.
 *
 * Why no chunk a backup needs is lost, even with backups running:
 * - a chunk a backup writes, or finds and reuses, gets an mtime after the
 *   backup registered as a writer (it touches the ones it reuses, under
 *   the shared lock of their stripe); only chunks older than the oldest
 *   live writer and than the collection's start are deleted, under the
 *   exclusive lock of their stripe, so a touch is either seen or comes
 *   after the chunk is gone (and the backup writes it again);
 * - a chunk a backup takes over from its parent's index without looking
 *   is named by the parent (which retention cannot remove while the job is
 *   locked by the backup), or by the parent's parent, and so on back to a
 *   revision that was there when this collection listed the job: the
 *   listing is repeated until an index that vanished meanwhile was seen
 *   through its successor.
 * Killed at any point, it leaves only chunks it had not got to delete.
 */
export async function collectGarbage(pool: ChunkPool, roots: () => Promise<string[]>, logger: Logger): Promise<GcOutcome> {
  const lock = await FileLock.tryAcquire(join(pool.path, 'gc.lock'));
  if (!lock) throw new GcInProgressError(pool.path);
  try {
    pool.checkLayout(false);
    const started = Date.now();
    const oldestWriter = await pool.oldestWriter().catch((err: unknown) => {
      // Deleted by hand, maybe with the registration of a backup running now: nothing is known to be unused.
      if (errorCode(err) !== 'ENOENT') throw err;
      throw new BackyError(`garbage collection stopped, nothing deleted: the pool's writers directory ${join(pool.path, WRITERS_DIR)} is missing (the next backup makes it again)`);
    });
    const cutoff = Math.min(started, oldestWriter ?? started) - MARGIN_MS;
    const outcome: GcOutcome = { chunksDeleted: 0, bytesFreed: 0, chunksKept: 0, temporariesDeleted: 0, indexesRead: 0 };
    const passes = Math.min(STRIPES, Math.max(1, Math.ceil((await countEntries(await listIndexes(await roots()))) / NAMES_PER_PASS)));
    for (let pass = 0; pass < passes; pass++) {
      const low = Math.floor((pass * STRIPES) / passes);
      const high = Math.floor(((pass + 1) * STRIPES) / passes);
      const marked = await markReferenced(roots, low, high, outcome);
      await sweep(pool, low, high, marked, cutoff, outcome);
      await forgetDamage(pool, low, high, marked, cutoff);
    }
    logger.info(
      `garbage collection of ${pool.path}: ${outcome.chunksDeleted} chunks deleted (${outcome.bytesFreed} bytes), ` +
        `${outcome.chunksKept} kept, ${outcome.indexesRead} indexes read`,
    );
    return outcome;
  } finally {
    await lock.release();
  }
}

/** Index files (complete or being written) in the given directories. */
async function listIndexes(directories: string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const directory of directories) {
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (err) {
      if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') continue;
      throw new BackyError(`garbage collection stopped, nothing deleted: cannot list ${directory}: ${(err as Error).message}`);
    }
    for (const name of names) if (name.endsWith('.index') || /^\..+\.index\.tmp$/.test(name)) paths.push(join(directory, name));
  }
  return paths;
}

async function countEntries(paths: string[]): Promise<number> {
  let total = 0;
  for (const path of paths) {
    try {
      total += Math.max(0, ((await stat(path)).size - HEADER_LENGTH) / ENTRY_LENGTH);
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** The names of stripes [low, high) that any index names, read until the listing is stable. */
async function markReferenced(roots: () => Promise<string[]>, low: number, high: number, outcome: GcOutcome): Promise<Set<string>> {
  const marked = new Set<string>();
  /** Each index read, and how it looked just before. */
  const read = new Map<string, string>();
  for (let round = 0; ; round++) {
    if (round >= MAX_ROUNDS) throw new BackyError('garbage collection stopped, nothing more deleted: revisions kept changing while their indexes were read');
    let vanished = false;
    for (const path of await listIndexes(await roots())) {
      // Read again where it changed since: its successor may have been read
      // while it was still being copied from the index that vanished.
      const looks = await appearance(path);
      if (looks !== null && read.get(path) === looks) continue;
      read.set(path, looks ?? '');
      const found = await markIndex(path, low, high, marked);
      if (found === 'read') outcome.indexesRead += 1;
      else if (found === 'gone') vanished = true;
    }
    // An index that vanished was removed after its job's next revision was committed: listed next round.
    if (!vanished) return marked;
  }
}

/** What changes when a file is written or replaced; null when there is none. */
async function appearance(path: string): Promise<string | null> {
  const info = await lstat(path).catch(() => null);
  return info ? `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}` : null;
}

/**
 * Adds the index's chunk names within the stripes to `marked`; 'gone' when
 * the index is gone, 'other' when it is no regular file: the store opens
 * indexes neither through a link nor as any other kind of file, so such a
 * name holds no revision, and opening or reading it (a FIFO, a link to
 * /dev/zero) would hang the collection or fail it.
 */
async function markIndex(path: string, low: number, high: number, marked: Set<string>): Promise<'read' | 'gone' | 'other'> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'gone';
    if (errorCode(err) === 'ELOOP') return 'other';
    throw new BackyError(`garbage collection stopped, nothing more deleted: cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    if (!(await handle.stat()).isFile()) return 'other';
    const buffer = Buffer.alloc(ENTRIES_PER_READ * ENTRY_LENGTH);
    for (let at = HEADER_LENGTH; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      for (let i = 0; i + ENTRY_LENGTH <= bytesRead; i += ENTRY_LENGTH) {
        const stripe = buffer[i]!;
        if (stripe < low || stripe >= high) continue;
        const entry = buffer.subarray(i, i + ENTRY_LENGTH);
        if (!entry.equals(ZERO_ENTRY)) marked.add(entry.toString('hex'));
      }
    }
    return 'read';
  } finally {
    await handle.close();
  }
}

const DAMAGED_ENTRY = /^(?:([0-9a-f]{64})|\.([0-9a-f]{64})\.[0-9a-f]{8})$/;

/**
 * Deletes what the damaged directory holds for chunks of stripes [low,
 * high) that no index names (but directories, moved aside whole, and
 * files newer than `cutoff`: a backup moving a directory aside may have
 * moved a chunk just written, which it puts back): a chunk noted there and
 * never written again would otherwise have every backup of every job of
 * the pool read all its revisions' indexes in full, for good, to find
 * those that name it.
 */
async function forgetDamage(pool: ChunkPool, low: number, high: number, marked: Set<string>, cutoff: number): Promise<void> {
  const directory = join(pool.path, DAMAGED_DIR);
  for (const entry of await entriesOf(directory)) {
    const match = DAMAGED_ENTRY.exec(entry);
    const name = match?.[1] ?? match?.[2];
    if (!name || stripeOf(name) < low || stripeOf(name) >= high || marked.has(name)) continue;
    const path = join(directory, entry);
    const info = await lstat(path).catch(() => null);
    if (!info || info.isDirectory() || info.mtimeMs >= cutoff) continue;
    await unlink(path).catch((err: unknown) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
  }
}

/** Deletes, stripe by stripe under its exclusive lock, the unmarked chunks and temporaries older than `cutoff`. */
async function sweep(pool: ChunkPool, low: number, high: number, marked: Set<string>, cutoff: number, outcome: GcOutcome): Promise<void> {
  const locks = await open(join(pool.path, LOCK_FILE), 'r+').catch((err: unknown) => {
    if (errorCode(err) !== 'ENOENT') throw err;
    throw new BackyError(`garbage collection stopped, nothing more deleted: the pool's lock file ${join(pool.path, LOCK_FILE)} is missing (the next backup makes it again)`);
  });
  try {
    for (let stripe = low; stripe < high; stripe++) {
      await fsx.waitForLock(locks.fd, stripe, 1);
      try {
        const directory = stripeDirectory(pool.path, stripe);
        // A stripe deleted by hand holds nothing to collect (the next backup makes it again).
        for (const name of await entriesOf(directory)) {
          const isTemporary = name.startsWith(TEMPORARY_PREFIX);
          if (!isTemporary && !(isChunkName(name) && stripeOf(name) === stripe)) continue;
          if (!isTemporary && marked.has(name)) {
            outcome.chunksKept += 1;
            continue;
          }
          const path = join(directory, name);
          const info = await lstat(path).catch(() => null);
          if (!info || !info.isFile() || info.mtimeMs >= cutoff) {
            if (info && !isTemporary) outcome.chunksKept += 1;
            continue;
          }
          await unlink(path).catch((err: unknown) => {
            if (errorCode(err) !== 'ENOENT') throw err;
          });
          if (isTemporary) outcome.temporariesDeleted += 1;
          else {
            outcome.chunksDeleted += 1;
            outcome.bytesFreed += info.blocks * 512;
          }
        }
      } finally {
        fsx.unlock(locks.fd, stripe, 1);
      }
    }
  } finally {
    await locks.close();
  }
}

/** The names in `directory`; none where it is gone. */
async function entriesOf(directory: string): Promise<string[]> {
  return readdir(directory).catch((err: unknown) => {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  });
}
