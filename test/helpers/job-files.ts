/**
 * What a user can see of a job directory and of the `backy` command, for
 * end-to-end tests: revision files, a fingerprint of everything in the
 * directory (to prove a failed command left it intact), one-line errors,
 * and `restore -` captured in a real file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { BACKY_MAIN, type CliResult } from './cli.js';

/** Overwrites `data.length` bytes of the file at `offset`, leaving the rest as it is. */
export function writeAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** IDs of the revisions whose `.rev` file exists, in directory order. */
export function revisionIds(job: string): string[] {
  return readdirSync(job)
    .filter((name) => name.endsWith('.rev') && name !== 'last.rev' && !name.startsWith('.'))
    .map((name) => name.slice(0, -'.rev'.length));
}

/** A `.rev` file as plain YAML data (not through backy's own parser). */
export function readRevisionYaml(job: string, id: string): Record<string, unknown> & { stats: Record<string, unknown> } {
  return YAML.parse(readFileSync(join(job, `${id}.rev`), 'utf8')) as Record<string, unknown> & { stats: Record<string, unknown> };
}

/**
 * Every entry of a job directory except the lock files: name → mode and
 * SHA-256 of the content, or the symlink's target.
 */
export function fingerprintJob(job: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of readdirSync(job).sort()) {
    if (name === '.backy.lock' || name === '.backy.rev.lock' || name === '.backy.in-use') continue;
    const path = join(job, name);
    const info = lstatSync(path);
    if (info.isSymbolicLink()) result[name] = `-> ${readlinkSync(path)}`;
    else if (info.isFile()) result[name] = `${(info.mode & 0o7777).toString(8)} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    else result[name] = 'other';
  }
  return result;
}

/** The command failed with exit status 1 and exactly one line on stderr matching `pattern`. */
export function assertOneLineError(result: CliResult, pattern: RegExp, what: string): void {
  assert.equal(result.status, 1, `${what}: exit status (stderr: ${result.stderr})`);
  const lines = result.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `${what}: expected one line on stderr, got ${JSON.stringify(result.stderr)}`);
  assert.match(lines[0]!, pattern, what);
}

/** Runs `backy ARGS` with stdout going into `outputPath` (a real file, as `> file` would). */
export function backyToFile(args: string[], outputPath: string, options: { cwd?: string } = {}): { status: number | null; stderr: string } {
  const fd = openSync(outputPath, 'w');
  try {
    const result = spawnSync(process.execPath, [BACKY_MAIN, ...args], {
      cwd: options.cwd,
      stdio: ['ignore', fd, 'pipe'],
      encoding: 'utf8',
    });
    return { status: result.status, stderr: result.stderr };
  } finally {
    closeSync(fd);
  }
}

/** Polls until `condition` holds (a safety limit only keeps a broken test from hanging). */
export async function waitUntil(condition: () => boolean, what: string, limitMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await sleep(2);
  }
}

/** Whether two files hold the same bytes (`cmp`, so big images need no memory). */
export function sameBytes(a: string, b: string): boolean {
  const result = spawnSync('cmp', ['-s', a, b]);
  if (result.status === 0) return true;
  if (result.status === 1) return false;
  throw new Error(`cmp ${a} ${b} failed: ${String(result.stderr)}`);
}

/**
 * Runs `body` with a new job (`backy init --store STORE file SOURCE`) of a
 * random source of `size` bytes in a temporary directory, removed after.
 */
export function withNewJob(store: string, size: number, body: (job: { dir: string; job: string; source: string }) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'backy-job-'));
  try {
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(size));
    const job = join(dir, 'job');
    const init = spawnSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', '--store', store, 'file', source], { encoding: 'utf8' });
    assert.equal(init.status, 0, init.stdout + init.stderr);
    body({ dir, job, source });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
