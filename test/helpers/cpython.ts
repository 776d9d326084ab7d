/**
 * Real CPython as the reference for what backy 2.x computed: runs a Python 3
 * script that reads JSON on stdin and prints JSON. Tests that use it also
 * keep literal values, so they never pass only because python3 is missing.
 */
import { spawnSync } from 'node:child_process';

/** The script's JSON answer; null when python3 is not installed. */
export function runPython(script: string, input: unknown, python = 'python3'): unknown {
  const result = spawnSync(python, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`python3 failed (exit ${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

/**
 * The first Python 3 that can import `modules`: the one on PATH, else the
 * distribution's, where Debian packages (python3-yaml) install them. Null
 * when there is none.
 */
export function pythonWith(modules: string[]): string | null {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('\n')], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  return null;
}
