import { open, rename, unlink } from 'node:fs/promises';
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
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (flushDirectory) await syncDirectory(dirname(path));
}
