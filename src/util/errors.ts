/**
 * A mistake the user can fix (bad input, missing file, lock held): printed as
 * one line without a stack trace. Everything else is a bug or an unexpected
 * environment failure and is reported with more detail under `-v`.
 */
export class BackyError extends Error {
  /** Process exit status the CLI should use (Nagios `check` uses 2 and 3). */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackyError';
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Thrown when an operation was interrupted by a signal (SIGTERM, SIGINT). */
export class AbortedError extends BackyError {
  constructor(message = 'interrupted') {
    super(message);
    this.name = 'AbortedError';
  }
}

export function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

export function errorCode(err: unknown): string | undefined {
  return isErrnoException(err) ? err.code : undefined;
}

/** Turns low-level errno failures into a sentence naming what was being done. */
export function describeIoError(err: unknown, what: string): BackyError {
  if (err instanceof BackyError) return err;
  const code = errorCode(err);
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    EROFS: 'read-only file system',
    EIO: 'input/output error',
  };
  const reason = (code && reasons[code]) ?? (err instanceof Error ? err.message : String(err));
  return new BackyError(`${what}: ${reason}`, { cause: err });
}
