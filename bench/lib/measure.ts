/**
 * Runs a command under GNU time and reports wall time, CPU time and peak
 * memory (max RSS) — of the command and its children, like an operator
 * would see it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measurement {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  stdout: string;
  stderr: string;
}

export async function measure(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Measurement> {
  const dir = mkdtempSync(join(tmpdir(), 'backy-bench-time-'));
  const timeFile = join(dir, 'time');
  try {
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', command, ...args], {
        env: options.env ?? process.env,
        cwd: options.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d.length < 1e6 ? d : ''));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const fields = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    return { wallSeconds, cpuSeconds: fields[1]! + fields[2]!, maxRssBytes: fields[3]! * 1024, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `sh -c` for baselines written as shell pipelines. */
export function measureShell(script: string): Promise<Measurement> {
  return measure('sh', ['-c', script]);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
