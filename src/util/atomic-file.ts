import { chown, link, lstat, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { syncDirectory } from './fsync.js';

/**
 * Replaces `path` with `content` so that readers see either the old or the
 * new file, never a partial one, also after a crash: write a temporary file
 * in the same directory, fsync it, rename it over the target, fsync the
 * directory.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  mode = 0o644,
  /** False when the caller flushes the directory once for many files. */
  flushDirectory = true,
): Promise<void> {
  await publish(path, content, mode, async (tmp) => {
    await keepOwner(tmp, path);
    await rename(tmp, path);
  });
  if (flushDirectory) await syncDirectory(dirname(path));
}

/**
 * As writeFileAtomic, but only where `path` does not exist yet: of two
 * processes creating it at once one fails with EEXIST, and neither
 * replaces what the other wrote.
 */
export async function createFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await publish(path, content, mode, async (tmp) => {
    await link(tmp, path);
    await unlink(tmp);
  });
  await syncDirectory(dirname(path));
}

/**
 * Root replacing another user's file (a `verify` of a job the scheduler
 * runs as its own user) gives the new one the old one's owner: a `.rev`
 * turned root's and 0440 would be unreadable to that user, and its
 * revision gone from what it sees.
 */
async function keepOwner(tmp: string, path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const old = await lstat(path).catch(() => null);
  if (old?.isFile() && (old.uid !== 0 || old.gid !== 0)) await chown(tmp, old.uid, old.gid);
}

const TEMPORARY_NAME = /^\.(.+)\.[0-9a-f]{8}\.tmp$/;

/** The name of the file whose temporary (as writeFileAtomic and createFileAtomic name it) `name` is, or undefined where it is none. */
export function atomicTemporaryOf(name: string): string | undefined {
  return TEMPORARY_NAME.exec(name)?.[1];
}

/** Writes and flushes a temporary file beside `path`, then hands it to `place`; it is removed if that fails. */
async function publish(path: string, content: string | Uint8Array, mode: number, place: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await place(tmp);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
