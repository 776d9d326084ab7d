/**
 * `backy serve` as a real subprocess for tests: started, its one stdout
 * line (the NBD URI) awaited, and stopped by a signal with its exit status
 * and log collected. Plus jobs of any registered store holding a test
 * image, and the image itself.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN, backy } from './cli.js';

export const MiB = 1024 * 1024;

/**
 * Where `backy mount` keeps the state of a mount on `mountpoint`: named
 * after the mountpoint, so a test looks at its own mount only, whatever
 * runs beside it.
 */
export function mountStateDir(mountpoint: string): string {
  return join('/run/backy/mounts', createHash('sha256').update(realpathSync(mountpoint)).digest('hex').slice(0, 16));
}

export interface ServeProcess {
  uri: string;
  child: ChildProcessWithoutNullStreams;
  /** What it logged so far. */
  log(): string;
  /** Sends `signal` and resolves with the exit status once it ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `backy -b JOB serve ARGS` and waits for the URI on stdout. */
export function startServe(job: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BACKY_MAIN, '-b', job, 'serve', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!stdout.includes('\n')) return;
      resolve({
        uri: stdout.trim(),
        child,
        log: () => stderr,
        stop: async (signal = 'SIGTERM') => {
          child.kill(signal);
          return exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`backy serve exited (${code}) before listening: ${stderr}`)));
  });
}

/** Deterministic test bytes: AES-CTR keystream from `seed`. */
export function randomBytesFrom(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

/** The data regions of the test image: everything else is a hole. */
export const DATA_REGIONS: ReadonlyArray<[number, number]> = [
  [0, 1 * MiB],
  [4 * MiB, 6 * MiB + 192 * 1024],
  [24 * MiB - 64 * 1024, 24 * MiB],
];
export const IMAGE_SIZE = 24 * MiB;

/** Writes the 24 MiB test image (data in DATA_REGIONS, holes elsewhere) to `path`. */
export function writeTestImage(path: string, seed = 'serve'): Buffer {
  const content = Buffer.alloc(IMAGE_SIZE);
  for (const [from, to] of DATA_REGIONS) randomBytesFrom(`${seed}-${from}`, to - from).copy(content, from);
  writeFileSync(path, content);
  spawnSync('fallocate', ['--dig-holes', path]);
  return content;
}

/** A job of `store` backing up `source` with one complete revision; returns its id. */
export function jobWithRevision(job: string, source: string, store: string): string {
  mkdirSync(job, { recursive: true });
  writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: ${store}\n`, { mode: 0o440 });
  const result = backy(['-b', job, 'backup', 'test']);
  assert.equal(result.status, 0, `backup failed: ${result.stderr}${result.stdout}`);
  // `last.rev`: a chunked job has no image file for `last` to name.
  return readlinkSync(join(job, 'last.rev')).replace(/\.rev$/, '');
}

/** Runs a program to completion (nbdinfo, nbdcopy, qemu-img …) and returns what a user would see. */
export function runTool(program: string, args: string[], options: { timeout?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(program, args, { encoding: 'utf8', timeout: options.timeout ?? 120_000, maxBuffer: 64 * MiB });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
