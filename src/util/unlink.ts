import { lstat, unlink } from 'node:fs/promises';
import { errorCode } from './errors.js';

/** Removes a file; one that is gone already is fine, any other failure is not. */
export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * A temporary file outlives the command that writes it by no more than a
 * moment; one this old was left by a command killed while it wrote it.
 */
export const STALE_TEMPORARY_MS = 60 * 60 * 1000;

/**
 * Removes `path` where it is a file (or a link) last changed longer than
 * STALE_TEMPORARY_MS ago; whether it did. Tidying, never a failure of the
 * command that tidies: one it cannot remove stays.
 */
export async function unlinkIfStale(path: string, now = Date.now()): Promise<boolean> {
  const info = await lstat(path).catch(() => null);
  if (!info || info.isDirectory() || info.mtimeMs > now - STALE_TEMPORARY_MS) return false;
  return unlinkIfPresent(path).then(
    () => true,
    () => false,
  );
}
