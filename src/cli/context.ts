import { resolve } from 'node:path';
import { createLogger, deviceSink, fdSink, fileSink, type Logger, type LogSink } from '../util/logger.js';
import { BackyError, describeIoError } from '../util/errors.js';

/** Options that apply to every action (manual: "Global options"). */
export interface GlobalOptions {
  logfile?: string;
  verbose?: boolean;
  backupdir?: string;
  config?: string;
}

export interface ActionContext {
  options: GlobalOptions;
  /** The job directory (`-b`, default: the current directory). */
  jobPath: string;
  logger: Logger;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

let activeSink: LogSink | undefined;
let activeLogger: Logger | undefined;
let activeLogIsFile = false;

/**
 * Sets up logging for an action: `-l FILE` appends to the file, otherwise
 * stdout — or stderr when the action's stdout carries data (find, status,
 * restore to `-`).
 */
export function createContext(options: GlobalOptions, stdoutCarriesData: boolean): ActionContext {
  let sink: LogSink;
  if (options.logfile) {
    try {
      const path = resolve(options.logfile);
      sink = deviceSink(path) ?? fileSink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
        throw new BackyError(`log file ${options.logfile} is a symbolic link; refusing to follow it`);
      }
      throw describeIoError(err, `cannot open log file ${options.logfile}`);
    }
  } else {
    sink = fdSink(stdoutCarriesData ? 2 : 1);
  }
  activeSink = sink;
  activeLogIsFile = Boolean(options.logfile);
  activeLogger = createLogger(sink, { verbose: options.verbose });
  return {
    options,
    jobPath: resolve(options.backupdir ?? '.'),
    logger: activeLogger,
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

/** The logger of the running action, if one was set up (for the final error line). */
export function currentLogger(): Logger | undefined {
  return activeLogger;
}

/** Whether the running action logs into a file (`-l`), rather than to stdout/stderr. */
export function logsToFile(): boolean {
  return activeLogIsFile;
}

export function closeLog(): void {
  activeSink?.close();
  activeSink = undefined;
}

export function requireArgument(value: string | undefined, what: string): string {
  if (value === undefined || value.length === 0) throw new BackyError(`missing ${what}`);
  return value;
}
