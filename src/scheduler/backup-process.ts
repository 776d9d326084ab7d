import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { closeSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOG_FILE } from '../job/job-directory.js';
import { LIFELINE_ENV } from '../util/lifeline.js';
import { NotRegularFileError, openRegularFileSync } from '../util/regular-file.js';

/** The backup's descriptor for its end of the lifeline. */
const LIFELINE_FD = 3;

/**
 * Each scheduled backup is a `backy backup` subprocess (each scrub a `backy
 * verify`), so a crash or leak in one never takes the scheduler down, and
 * the kernel releases the job's lock when it dies. The spawner is a seam: tests can start a
 * stand-in program, and `BACKY_CMD` points the scheduler at another backy.
 */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started at all. */
  error: string | null;
}

export interface BackupProcess {
  readonly pid: number | null;
  kill(signal: NodeJS.Signals): void;
  readonly exit: Promise<ProcessExit>;
}

/** Starts `argv`, appending its stdout and stderr to `outputPath`. */
export type Spawner = (argv: readonly string[], outputPath: string) => BackupProcess;

/** The backy this installation runs: `BACKY_CMD` (split on blanks) or this very program. */
export function backyCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.BACKY_CMD?.trim();
  if (override) return override.split(/\s+/);
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

/** `backy -b JOBDIR -l JOBDIR/backy.log backup TAGS` */
export function backupArgv(command: readonly string[], jobPath: string, tags: readonly string[]): string[] {
  return [...command, '-b', jobPath, '-l', join(jobPath, LOG_FILE), 'backup', tags.join(',')];
}

/** `backy -b JOBDIR -l JOBDIR/backy.log verify -r ID`: a scrub of one revision. */
export function verifyArgv(command: readonly string[], jobPath: string, revision: string): string[] {
  return [...command, '-b', jobPath, '-l', join(jobPath, LOG_FILE), 'verify', '-r', revision];
}

export function describeExit(exit: ProcessExit): string {
  if (exit.error !== null) return `could not be started: ${exit.error}`;
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  return `exit status ${exit.code}`;
}

export function succeeded(exit: ProcessExit): boolean {
  return exit.error === null && exit.signal === null && exit.code === 0;
}

export const processSpawner: Spawner = (argv, outputPath) => {
  let output: number;
  try {
    // Never through a symlink planted as the job's backy.log.
    output = openRegularFileSync(outputPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return notStarted(`${outputPath} is a symbolic link; remove it`);
    if (err instanceof NotRegularFileError) return notStarted(`${outputPath}: ${err.message}; remove it`);
    return notStarted(`cannot open ${outputPath}: ${(err as Error).message}`);
  }
  try {
    // The lifeline: a pipe the backup sees end when this process is gone,
    // even by SIGKILL, so that no backup runs on without its scheduler.
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', output, output, 'pipe'],
      env: { ...process.env, [LIFELINE_ENV]: String(LIFELINE_FD) },
    });
    const lifeline = child.stdio[LIFELINE_FD] as Socket | null;
    lifeline?.on('error', () => undefined);
    lifeline?.resume();
    const exit = new Promise<ProcessExit>((resolve) => {
      child.once('error', (err) => resolve({ code: null, signal: null, error: err.message }));
      child.once('exit', (code, signal) => resolve({ code, signal, error: null }));
    }).finally(() => lifeline?.destroy());
    return {
      pid: child.pid ?? null,
      kill: (signal) => {
        child.kill(signal);
      },
      exit,
    };
  } catch (err) {
    return notStarted((err as Error).message);
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(output);
  }
};

function notStarted(error: string): BackupProcess {
  return { pid: null, kill: () => undefined, exit: Promise.resolve({ code: null, signal: null, error }) };
}
