import { constants } from 'node:fs';
import { openRegularFile } from '../util/regular-file.js';

/** The last line of a job's log: usually the one-line error of a failed backup, or what a verify found. */
export async function lastLogLine(path: string): Promise<string | null> {
  try {
    // Not blocking on a FIFO planted as the log; not through a symlink.
    const handle = await openRegularFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 4096);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
      return lines.at(-1) ?? null;
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}
