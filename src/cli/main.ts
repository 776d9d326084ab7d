#!/usr/bin/env node
import { CommanderError } from 'commander';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { closeLog, currentLogger, logsToFile } from './context.js';
import { buildProgram } from './program.js';

/**
 * The one place that ends the process: runs the action, turns errors into
 * one line on stderr (a stack trace only with -v) and the exit status.
 */
async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with a "success" CommanderError.
      return err.exitCode === 0 ? 0 : 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    const isUserError = err instanceof BackyError;
    // With -l the failure is also recorded in the log; otherwise stderr is the log.
    // Last resort: nothing here may throw again, or the error becomes a stack trace.
    try {
      if (logsToFile()) currentLogger()?.error(message);
    } catch {
      // The line on stderr below still tells.
    }
    process.stderr.write(`backy: ${isUserError ? '' : 'error: '}${message}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return isUserError ? err.exitCode : 1;
  } finally {
    closeLog();
  }
}

// A reader that went away (EPIPE) is reported to the write that hit it; the
// stream's 'error' event that follows must not crash the process.
let stdoutFailure: unknown;
process.stdout.on('error', (err) => {
  stdoutFailure ??= err;
});
let code = await main(process.argv);
// Let stdout drain (restore -) before ending the process.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
// A reader that stopped reading (`| head`) had what it wanted; a full disk under `> FILE` leaves the
// output cut short, and a script must not take it for the whole.
if (code === 0 && stdoutFailure !== undefined && errorCode(stdoutFailure) !== 'EPIPE') {
  process.stderr.write(`backy: ${describeIoError(stdoutFailure, 'cannot write to standard output').message}\n`);
  code = 1;
}
process.exit(code);
