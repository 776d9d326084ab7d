import { constants } from 'node:fs';
import { copyFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Whether files in `directory` can share blocks (a reflink clone works there). */
export async function supportsReflinks(directory: string): Promise<boolean> {
  const probe = join(directory, `.reflink-probe-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(probe, 'backy', { flag: 'wx' });
    await copyFile(probe, `${probe}.clone`, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await unlink(probe).catch(() => undefined);
    await unlink(`${probe}.clone`).catch(() => undefined);
  }
}

/**
 * The store of a new job in `directory` when nothing names one: `cow`
 * where revisions can share blocks by reflink, `chunked` where they
 * cannot (every cow revision would be a full copy), with the one log line
 * that says so.
 */
export async function defaultStore(directory: string): Promise<{ store: 'cow' | 'chunked'; reason: string }> {
  if (await supportsReflinks(directory)) {
    return { store: 'cow', reason: `${directory} supports reflinks: revisions are image files sharing unchanged blocks (store: cow)` };
  }
  return {
    store: 'chunked',
    reason: `${directory} cannot share blocks between files (no reflinks): revisions are kept as deduplicated, compressed chunks (store: chunked)`,
  };
}
