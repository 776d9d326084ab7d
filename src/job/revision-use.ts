import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import fsx from 'fs-native-extensions';
import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { openLockFile } from '../util/lock.js';
import type { RemovalCheck } from './job-directory.js';

/**
 * Revisions in use: a command that reads a revision for a while (`serve`,
 * and with it `mount`; `restore`, `restore --rbd [--instant]`; `verify`) holds a
 * shared lock on the revision's byte of this file, and retention takes
 * that byte exclusively before it removes the revision. A revision that
 * is being read is kept until a later run: a chunked revision's chunks
 * would otherwise go at the next garbage collection under a VM booted
 * from it. Open file description locks: the kernel drops them with the
 * process, so a killed server keeps nothing.
 */
export const IN_USE_FILE = '.backy.in-use';

/**
 * The revision's byte of the file: a hash of its ID (FNV-1a; retention
 * hashes thousands at a time), so no table is kept. Two IDs on one byte
 * (1 in 2^32) only keep a revision one run longer.
 */
function byteOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
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

/**
 * Retention's side: the revision's byte is taken just before its files go
 * and let go just after, one at a time — the kernel checks a new lock
 * against every lock held on the file, so holding the bytes of 10,000
 * revisions at once cost 1 s here. Without the file (a symlink in its
 * place, a FIFO) nothing can be known to be unused, so nothing is
 * removed: that is an error, never a removal.
 */
export class RemovalGuard implements RemovalCheck {
  private constructor(private readonly handle: FileHandle) {}

  static async open(jobPath: string): Promise<RemovalGuard> {
    try {
      return new RemovalGuard(await openLockFile(join(jobPath, IN_USE_FILE)));
    } catch (err) {
      throw new BackyError(`cannot tell which revisions are in use, so none is removed: ${(err as Error).message}`);
    }
  }

  /** False while a command is reading the revision; otherwise it is ours until `removed`. */
  mayRemove(id: string): boolean {
    return fsx.tryLock(this.handle.fd, byteOf(id), 1);
  }

  removed(id: string): void {
    fsx.unlock(this.handle.fd, byteOf(id), 1);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
