import { closeSync, constants, fstatSync, lstatSync, openSync, statSync, writeSync } from 'node:fs';
import { openRegularFileSync } from './regular-file.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the engine logs through; the CLI decides where the lines go. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface LogSink {
  write(line: string): void;
  close(): void;
}

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** `YYYY-MM-DD HH:MM:SS` in UTC, the format of every time backy prints. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Messages name files of job directories, which anyone may create: a name
 * holding a carriage return or an escape sequence hid the start of its
 * line on a terminal (`WARN ignoring …\r… INFO all good`). Line breaks
 * start a line of their own, with its own prefix, and tabs stay; every
 * other control character is written escaped, as util/printable writes them.
 */
// eslint-disable-next-line no-control-regex -- control characters are what this finds
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

function escapeControl(c: string): string {
  return c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export function createLogger(sink: LogSink, options: { verbose?: boolean; now?: () => Date } = {}): Logger {
  const threshold = options.verbose ? LEVEL_ORDER.debug : LEVEL_ORDER.info;
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string): void => {
    if (LEVEL_ORDER[level] < threshold) return;
    for (const text of message.split('\n')) {
      sink.write(`${formatTimestamp(now())} [${process.pid}] ${level.toUpperCase()} ${text.replace(CONTROL, escapeControl)}\n`);
    }
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

/** Writes to an inherited descriptor (1 for stdout, 2 for stderr). */
export function fdSink(fd: number): LogSink {
  const reader = { gone: false };
  return {
    write: (line) => {
      try {
        writeFully(fd, Buffer.from(line), reader);
      } catch {
        // A closed pipe (e.g. `backy ... | head`) must not turn into a crash.
      }
    },
    close: () => undefined,
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Node makes a pipe or socket on stdout or stderr non-blocking once
 * `process.stdout` is used (main does at once), so a reader that is slower
 * than the log (journald, `| logger`) got EAGAIN or a short write, and the
 * rest of the line was dropped: 640 of 5,000 lines arrived. Waiting for
 * room, as a blocking write would, loses nothing. A reader that takes
 * nothing for STALL_LIMIT_MS (a hung journald) is given up on until it
 * takes a line again: it must not stop the scheduler's backups with it.
 */
function writeFully(fd: number, data: Buffer, reader: { gone: boolean }): void {
  let done = 0;
  let stalledSince = 0;
  while (done < data.length) {
    try {
      done += writeSync(fd, data, done);
      stalledSince = 0;
      reader.gone = false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      const now = Date.now();
      if (stalledSince === 0) stalledSince = now;
      if (reader.gone || now - stalledSince > STALL_LIMIT_MS) {
        reader.gone = true;
        return;
      }
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

/** How long a line waits for a reader that takes nothing at all. */
const STALL_LIMIT_MS = 2000;

/**
 * Appends to a log file and reopens it when it was renamed or removed, so
 * that logrotate can move it away without a signal: before each line the
 * path's inode is compared with the open descriptor's. A line that cannot
 * be written (a full disk) is lost, never the work's end: a backup on a
 * full disk must still get to remove the revision that filled it. The
 * first loss is said once on `warnTo` (stderr).
 */
export function fileSink(path: string, warnTo = 2): LogSink {
  let fd = openLog(path);
  let inode = fstatSync(fd).ino;
  const reopenIfMoved = (): void => {
    let current: number | undefined;
    try {
      current = statSync(path).ino;
    } catch {
      current = undefined;
    }
    if (current === inode) return;
    let reopened: number;
    try {
      reopened = openLog(path);
    } catch {
      return; // e.g. a symlink put in its place: keep writing where we were
    }
    closeSync(fd);
    fd = reopened;
    inode = fstatSync(fd).ino;
  };
  let warned = false;
  return {
    write: (line) => {
      try {
        reopenIfMoved();
        writeSync(fd, line);
      } catch (err) {
        if (warned) return;
        warned = true;
        const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
        fdSink(warnTo).write(`backy: warning: cannot write to log file ${path} (${reason}); lines are lost until it can be written again\n`);
      }
    },
    close: () => {
      try {
        closeSync(fd);
      } catch {
        // Nothing is left to lose: the lines were written or already warned about.
      }
    },
  };
}

/**
 * `-l` naming a character device itself (`-l /dev/null` in a crontab, a
 * console): written to as it is, with nothing to rotate. Only where the
 * operator named the device on the command line; never through a link.
 */
export function deviceSink(path: string): LogSink | null {
  if (!lstatSync(path, { throwIfNoEntry: false })?.isCharacterDevice()) return null;
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NOCTTY);
  const sink = fdSink(fd);
  return { write: sink.write, close: () => closeSync(fd) };
}

/**
 * Opens a log file for appending, never through a symlink: the scheduler's
 * backups log into their job directories, where a link planted as
 * `backy.log` would have them append to whatever it points to.
 */
function openLog(path: string): number {
  return openRegularFileSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
}

export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
