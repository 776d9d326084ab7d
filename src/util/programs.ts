import { spawn, type SpawnOptions } from 'node:child_process';
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
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout, stderr, exitCode, signal });
    });
    // A program that exits without reading its input closes the pipe (EPIPE):
    // that is its business, not a crash of ours.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}
