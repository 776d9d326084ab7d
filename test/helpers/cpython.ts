/**
 * Real CPython as the reference for what backy 2.x computed: runs a Python 3
 * script that reads JSON on stdin and prints JSON. Tests that use it also
 * keep literal values, so they never pass only because python3 is missing.
 */
import { spawnSync } from 'node:child_process';

/** The script's JSON answer; null when python3 is not installed. */
export function runPython(script: string, input: unknown): unknown {
  const result = spawnSync('python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`python3 failed (exit ${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}
