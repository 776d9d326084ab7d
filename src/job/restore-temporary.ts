import { constants } from 'node:fs';
import { open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import fsx from 'fs-native-extensions';
import type { Logger } from '../util/logger.js';

/**
 * The file a restore writes beside its target and renames over it when
 * complete. Its writer holds a kernel lock on it, so that a later restore
 * to the same target can tell one a killed restore left (no lock: removed)
 * from one another restore is writing (locked: left alone).
 */

/** Linux filesystems' NAME_MAX, in bytes. */
const NAME_MAX = 255;
const RANDOM_LENGTH = 8;
const SUFFIX = '.tmp';
const MARK = '.restore-';

/** `.{target}.restore-`, the target's name shortened (on a character boundary) so that the whole name fits NAME_MAX. */
function prefixOf(target: string): string {
  const room = NAME_MAX - 1 - MARK.length - RANDOM_LENGTH - SUFFIX.length;
  let name = '';
  let bytes = 0;
  for (const character of basename(target)) {
    bytes += Buffer.byteLength(character);
    if (bytes > room) break;
    name += character;
  }
  return `.${name}${MARK}`;
}

export function temporaryPath(target: string): string {
  return join(dirname(target), `${prefixOf(target)}${randomBytes(RANDOM_LENGTH / 2).toString('hex')}${SUFFIX}`);
}

function isTemporaryOf(name: string, prefix: string): boolean {
  if (!name.startsWith(prefix) || !name.endsWith(SUFFIX)) return false;
  return /^[0-9a-f]+$/.test(name.slice(prefix.length, -SUFFIX.length)) && name.length === prefix.length + RANDOM_LENGTH + SUFFIX.length;
}

/** Whether `handle` is (still) the file at `path`: a cleaner may have removed it between its creation and our lock. */
async function stillAt(handle: FileHandle, path: string): Promise<boolean> {
  const [held, named] = await Promise.all([handle.stat(), stat(path).catch(() => null)]);
  return named !== null && named.ino === held.ino && named.dev === held.dev;
}

/**
 * Locks the temporary file just made at `path` for as long as the restore
 * writes it; null when it was removed before the lock was taken (then the
 * restore starts again under another name).
 */
export async function lockTemporary(path: string): Promise<FileHandle | null> {
  // Read-write: the kernel's exclusive record locks need a descriptor open for writing.
  const handle = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    await fsx.waitForLock(handle.fd);
    if (await stillAt(handle, path)) return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
  await handle.close();
  return null;
}

/**
 * Removes the temporary files earlier restores to `target` left when they
 * were killed: those no process holds locked. A file of another restore
 * running now is locked by it, and stays.
 */
export async function removeStaleTemporaries(target: string, logger: Logger): Promise<void> {
  const prefix = prefixOf(target);
  const names = await readdir(dirname(target)).catch(() => [] as string[]);
  for (const name of names) {
    if (!isTemporaryOf(name, prefix)) continue;
    const path = join(dirname(target), name);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      continue; // gone meanwhile, or a link planted in its place: not ours to remove
    }
    try {
      if (!(await handle.stat()).isFile() || !fsx.tryLock(handle.fd)) continue;
      if (!(await stillAt(handle, path))) continue;
      logger.info(`removing ${path}, left by an earlier restore to ${target} that did not finish`);
      await unlink(path).catch(() => undefined);
    } finally {
      await handle.close();
    }
  }
}
