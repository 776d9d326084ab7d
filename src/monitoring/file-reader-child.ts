/**
 * `node file-reader-child.js PATH MAX_BYTES [WHAT]`: prints a regular file
 * of at most MAX_BYTES to stdout (exit 0); WHAT (default: status file)
 * names it in the message about its size. Anything else exits 3 with what it is
 * on stderr (`is a FIFO, not a regular file`), an error exits 2 with its
 * errno code. Run as a process of its own by bounded-read.ts, so that a
 * hung filesystem holds up this process, not the one waiting for it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';

function kindOf(info: Stats): string | null {
  if (info.isFile()) return null;
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a file';
}

function refuse(info: Stats, max: number, what: string): void {
  const kind = kindOf(info);
  if (kind) throw Object.assign(new Error(`is ${kind}, not a regular file`), { refused: true });
  if (info.size > max) {
    throw Object.assign(new Error(`is ${Math.round(info.size / 1024 / 1024)} MiB, more than any ${what} (${max / 1024 / 1024} MiB)`), { refused: true });
  }
}

const [path, maxText, what = 'status file'] = process.argv.slice(2);
const max = Number(maxText);
try {
  // Looked at before it is opened: opening a FIFO waits for a writer, a device may do things.
  refuse(statSync(path!), max, what);
  const fd = openSync(path!, constants.O_RDONLY | constants.O_NONBLOCK);
  const info = fstatSync(fd);
  refuse(info, max, what);
  const buffer = Buffer.alloc(info.size + 1);
  let length = 0;
  for (let read = -1; read !== 0; length += read) {
    read = readSync(fd, buffer, length, buffer.length - length, length);
    // Status files are replaced whole, never grow.
    if (length + read > info.size) throw Object.assign(new Error('grows while being read'), { refused: true });
  }
  closeSync(fd);
  writeSync(1, buffer.subarray(0, length));
  process.exitCode = 0;
} catch (err) {
  const error = err as NodeJS.ErrnoException & { refused?: boolean };
  process.stderr.write(error.refused ? error.message : (error.code ?? error.message));
  process.exitCode = error.refused ? 3 : 2;
}
