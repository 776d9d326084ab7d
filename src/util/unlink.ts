import { unlink } from 'node:fs/promises';
import { errorCode } from './errors.js';

/** Removes a file; one that is gone already is fine, any other failure is not. */
export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}
