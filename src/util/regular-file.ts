import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { readRegular } from '../io/native-io.js';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Files in a job directory are read without trusting what they are: a FIFO
 * there blocks an open or read forever (the scheduler's event loop with
 * it), a link to `/dev/zero` never ends. Opened with O_NONBLOCK (which
 * does nothing to a regular file) and checked with fstat, anything but a
 * regular file of a bounded size is a NotRegularFileError.
 */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
}

/** `.rev` files are a few hundred bytes; 1 MiB is far beyond anything backy writes. */
export const METADATA_LIMIT = 1024 * 1024;

const NONBLOCK = constants.O_NONBLOCK | constants.O_NOCTTY;

function kind(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFIFO:
      return 'a FIFO';
    case constants.S_IFCHR:
      return 'a character device';
    case constants.S_IFBLK:
      return 'a block device';
    case constants.S_IFDIR:
      return 'a directory';
    case constants.S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file';
  }
}

function notRegular(mode: number): NotRegularFileError {
  const what = kind(mode);
  return new NotRegularFileError(what.startsWith('not ') ? `it is ${what}` : `it is ${what}, not a regular file`);
}

/** Opens a regular file (flags as for open(2), O_NONBLOCK added) or fails with NotRegularFileError; never blocks on a FIFO. */
export async function openRegularFile(path: string, flags: number, mode?: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags | NONBLOCK, mode);
  } catch (err) {
    throw noReader(err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw notRegular(info.mode);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** openRegularFile, synchronously: a file descriptor. */
export function openRegularFileSync(path: string, flags: number, mode?: number): number {
  return openSizedSync(path, flags, mode).fd;
}

/** One fstat for both the check and the size: 10,000 `.rev` files are read per `status`. */
function openSizedSync(path: string, flags: number, mode?: number): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, flags | NONBLOCK, mode);
  } catch (err) {
    throw noReader(err);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw notRegular(info.mode);
    return { fd, size: info.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Opening a FIFO nobody reads for writing, without blocking, is ENXIO. */
function noReader(err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code === 'ENXIO' ? new NotRegularFileError('it is a FIFO or a device, not a regular file') : err;
}

function tooLarge(size: number, limit: number): NotRegularFileError {
  return new NotRegularFileError(`it has ${size} bytes, more than the ${limit} any such file can have`);
}

/** Reused by every read of the usual limit: 10,000 `.rev` files per `status` need no buffer each. */
let metadataBuffer: Buffer | undefined;

/** The text of a small regular file, synchronously (following symlinks). */
export function readSmallFileSync(path: string, limit = METADATA_LIMIT): string {
  // One byte more than the limit: a file read to the limit and past it is too large.
  const buffer = limit === METADATA_LIMIT ? (metadataBuffer ??= Buffer.allocUnsafe(METADATA_LIMIT + 1)) : Buffer.allocUnsafe(limit + 1);
  let done: number | null;
  try {
    done = readRegular(path, buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTREG') throw notRegular((err as { mode: number }).mode);
    throw err;
  }
  if (done === null) return readSmallFileByCalls(path, limit);
  if (done > limit) throw tooLarge(sizeOrRead(path, done), limit);
  return buffer.toString('utf8', 0, done);
}

/** The size a too-large file has now, for the message; what was read where it cannot be had. */
function sizeOrRead(path: string, read: number): number {
  try {
    return Math.max(read, statSync(path).size);
  } catch {
    return read;
  }
}

/** readSmallFileSync without the native helper: open, fstat, read, close. */
function readSmallFileByCalls(path: string, limit: number): string {
  const { fd, size } = openSizedSync(path, constants.O_RDONLY);
  try {
    if (size > limit) throw tooLarge(size, limit);
    // One byte more than stat said: a file that grew meanwhile is read to the limit, never past it.
    const buffer = Buffer.allocUnsafe(Math.min(limit, size) + 1);
    let done = 0;
    while (done < buffer.length) {
      const wanted = buffer.length - done;
      const got = readSync(fd, buffer, done, wanted, done);
      done += got;
      // A regular file reads short only at its end: no second read to hear it (10,000 `.rev` files per `status`).
      if (got < wanted) break;
    }
    if (done > limit) throw tooLarge(done, limit);
    return buffer.toString('utf8', 0, done);
  } finally {
    closeSync(fd);
  }
}

/** The text of a small regular file. */
export async function readSmallFile(path: string, limit = METADATA_LIMIT): Promise<string> {
  const handle = await openRegularFile(path, constants.O_RDONLY);
  try {
    const size = (await handle.stat()).size;
    if (size > limit) throw tooLarge(size, limit);
    const buffer = Buffer.allocUnsafe(Math.min(limit, size) + 1);
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await handle.read(buffer, done, buffer.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done > limit) throw tooLarge(done, limit);
    return buffer.toString('utf8', 0, done);
  } finally {
    await handle.close();
  }
}

/** A name that exists but leads nowhere: a symlink whose target is gone (ENOENT from open, yet lstat finds it). */
export function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
