import { spawn, type SpawnOptions } from 'node:child_process';
import { basename } from 'node:path';
import type { Stream } from 'node:stream';

/**
 * External programs backy runs, each overridable by an environment variable
 * in backy 2.0's fashion (BACKY_RBD=/opt/ceph/bin/rbd), so that operators
 * can point at their own builds and tests at wrappers.
 */
export function programPath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[`BACKY_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  return override && override.length > 0 ? override : name;
}

/**
 * Far beyond anything the programs backy runs print (rbd's JSON of
 * thousands of snapshots): a program printing without end (a broken
 * BACKY_RBD wrapper) is stopped there. Collected without a limit, its
 * output grew until the string could not, and the RangeError in the
 * stream's handler ended the process with a stack trace.
 */
export const OUTPUT_LIMIT_BYTES = 64 * 1024 * 1024;
/** Of stderr the end is kept: that is where a program says why it failed. */
const STDERR_KEPT = 1024 * 1024;

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs a program to completion and collects its output (small outputs
 * only); `inherit` are streams it gets as descriptors 3 and on.
 */
export function runProgram(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { timeoutMs?: number; input?: string; inherit?: readonly Stream[] } = {},
): Promise<RunResult> {
  const { inherit = [], ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe', ...inherit] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    }
    let overflowed = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (overflowed) return;
      if (stdout.length + d.length > OUTPUT_LIMIT_BYTES) {
        overflowed = true;
        child.kill('SIGKILL');
        return;
      }
      stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 2 * STDERR_KEPT) stderr = stderr.slice(-STDERR_KEPT);
    });
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      if (overflowed) reject(new Error(`${basename(command)} printed more than ${OUTPUT_LIMIT_BYTES / 1024 / 1024} MiB; it was stopped`));
      else resolve({ stdout, stderr, exitCode, signal });
    });
    // A program that exits without reading its input closes the pipe (EPIPE):
    // that is its business, not a crash of ours.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}
