import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import fsx from 'fs-native-extensions';
import { BackyError, describeIoError } from './errors.js';

/**
 * An exclusive kernel lock (open file description lock) on a lock file. The
 * kernel releases it when the process dies, so a killed backup never leaves a
 * stale lock behind. The holder's pid is written into the file so that the
 * "already in progress" message can name it.
 */
export class FileLock {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Takes the lock or returns null when another process holds it. */
  static async tryAcquire(path: string): Promise<FileLock | null> {
    const handle = await openLockFile(path);
    if (!fsx.tryLock(handle.fd)) {
      await handle.close();
      return null;
    }
    return FileLock.held(path, handle);
  }

  /** Waits until the lock is free, then takes it. */
  static async acquire(path: string): Promise<FileLock> {
    const handle = await openLockFile(path);
    await fsx.waitForLock(handle.fd);
    return FileLock.held(path, handle);
  }

  /** Takes the lock or fails with a message naming the current holder. */
  static async acquireOrFail(path: string, what: string): Promise<FileLock> {
    const lock = await FileLock.tryAcquire(path);
    if (lock) return lock;
    const holder = await readHolder(path);
    throw new BackyError(`${what} is already in progress${holder ? ` (pid ${holder})` : ''}`);
  }

  private static async held(path: string, handle: FileHandle): Promise<FileLock> {
    try {
      await handle.truncate(0);
      await handle.write(`${process.pid}\n`, 0);
    } catch {
      // The pid only improves the "in progress" message; a full disk must
      // not turn a lock we hold into a failure.
    }
    return new FileLock(path, handle);
  }

  async release(): Promise<void> {
    fsx.unlock(this.handle.fd);
    await this.handle.close();
  }
}

/** Never through a symlink: one planted in place of the lock file would have us truncate what it points to. */
export async function openLockFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO in its place must not hang us; it is refused below.
    handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new BackyError(`lock file ${path} is a symbolic link; refusing to follow it (remove it)`);
    }
    throw describeIoError(err, `cannot open lock file ${path}`);
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new BackyError(`lock file ${path} is not a regular file; remove it`);
  }
  return handle;
}

async function readHolder(path: string): Promise<string | null> {
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const text = (await handle.readFile('utf8')).trim();
      return /^\d+$/.test(text) ? text : null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}
