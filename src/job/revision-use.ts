import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import fsx from 'fs-native-extensions';
import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { openLockFile } from '../util/lock.js';

/**
 * Revisions in use: a command that reads a revision for a while (`serve`,
 * and with it `mount`; `restore`, `restore --rbd [--instant]`) holds a
 * shared lock on the revision's byte of this file, and retention takes
 * that byte exclusively before it removes the revision. A revision that
 * is being read is kept until a later run: a chunked revision's chunks
 * would otherwise go at the next garbage collection under a VM booted
 * from it. Open file description locks: the kernel drops them with the
 * process, so a killed server keeps nothing.
 */
export const IN_USE_FILE = '.backy.in-use';

/**
 * The revision's byte of the file: a hash of its ID, so no table is kept.
 * Two IDs on one byte (1 in 2^40) only keep a revision one run longer.
 */
function byteOf(id: string): number {
  return createHash('sha256').update(id).digest().readUIntBE(0, 5);
}

/** Gives up the mark again. */
export type ReleaseUse = () => Promise<void>;

/**
 * Marks the revision as being read; waits while retention is removing it
 * (the read then finds it gone). Where the mark cannot be made (a job
 * directory this user cannot write, a planted symlink), reading goes on
 * with a warning: the mark protects the read, it is no reason to refuse it.
 */
export async function markInUse(jobPath: string, id: string, logger: Logger): Promise<ReleaseUse> {
  let handle: FileHandle;
  try {
    handle = await openLockFile(join(jobPath, IN_USE_FILE));
  } catch (err) {
    logger.warn(`cannot mark revision ${id} as in use, so retention may remove it while it is read: ${(err as Error).message}`);
    return async () => {};
  }
  try {
    await fsx.waitForLock(handle.fd, byteOf(id), 1, { shared: true });
  } catch (err) {
    await handle.close();
    throw err;
  }
  return async () => {
    // Closing the description drops its locks.
    await handle.close();
  };
}

/** What retention may remove now, and what it keeps because a command is reading it. */
export interface RemovalClaim {
  claimed: string[];
  inUse: string[];
  /** Ends the claim; call it once the claimed revisions are gone. */
  release(): Promise<void>;
}

/**
 * Takes the bytes of the revisions retention wants to remove. Without the
 * file (a symlink in its place, a FIFO) nothing can be known to be unused,
 * so nothing is claimed: that is an error, never a removal.
 */
export async function claimForRemoval(jobPath: string, ids: readonly string[]): Promise<RemovalClaim> {
  if (ids.length === 0) return { claimed: [], inUse: [], release: async () => {} };
  let handle: FileHandle;
  try {
    handle = await openLockFile(join(jobPath, IN_USE_FILE));
  } catch (err) {
    throw new BackyError(`cannot tell which revisions are in use, so none is removed: ${(err as Error).message}`);
  }
  const claimed: string[] = [];
  const inUse: string[] = [];
  for (const id of ids) (fsx.tryLock(handle.fd, byteOf(id), 1) ? claimed : inUse).push(id);
  return { claimed, inUse, release: () => handle.close() };
}
