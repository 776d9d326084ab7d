/**
 * What the Ceph tests share: running the CLI without blocking this
 * process (the Consul and VM-host stand-ins live in it), exporting
 * snapshots to compare restores with, and the snapshot list of an image.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createCipheriv } from 'node:crypto';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { BACKY_MAIN, type CliResult } from '../helpers/cli.js';
import { startCephCluster, type CephCluster } from '../helpers/ceph-cluster.js';
import { readRevisionYaml, sameBytes } from '../helpers/job-files.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';

export const MiB = 1024 * 1024;

export interface CephTestSetup {
  cluster: CephCluster;
  /** A btrfs for job directories: only a reflink clone holds the parent's content for a differential backup. */
  fs: LoopFilesystem;
  /** For exports, restores and wrapper scripts. */
  scratch: string;
  /** `backy -b FS/NAME init TYPE SOURCE`; returns the job directory. */
  initJob(name: string, type: string, source: string, env?: NodeJS.ProcessEnv): Promise<string>;
}

/** Registers `before`/`after` hooks of the enclosing suite that set up and tear down a cluster, a btrfs and a scratch directory. */
export function useCephCluster(): CephTestSetup {
  const setup = {
    async initJob(name: string, type: string, source: string, env?: NodeJS.ProcessEnv): Promise<string> {
      const job = join(setup.fs.path, name);
      const result = await backyAsync(['-b', job, 'init', type, source], env ?? setup.cluster.env);
      assert.equal(result.status, 0, result.stderr);
      return job;
    },
  } as CephTestSetup;
  before(async () => {
    setup.scratch = mkdtempSync(join(tmpdir(), 'backy-ceph-test-'));
    setup.fs = mountLoopFilesystem('btrfs', '1G');
    setup.cluster = await startCephCluster();
  });
  after(async () => {
    await setup.cluster?.stop();
    setup.fs?.dispose();
    if (setup.scratch) rmSync(setup.scratch, { recursive: true, force: true });
  });
  return setup;
}

/** `backy ARGS` as a subprocess, awaited (the event loop keeps running). */
export function backyAsync(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BACKY_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** Runs `backy -b JOB backup TAGS` and asserts it succeeded; returns the new revision's id. */
export async function backupOk(job: string, env: NodeJS.ProcessEnv, tags = 'daily'): Promise<string> {
  const result = await backyAsync(['-b', job, 'backup', tags], env);
  assert.equal(result.status, 0, `backup failed: ${result.stderr}${result.stdout}`);
  return readlinkSync(join(job, 'last'));
}

export function revisionStats(job: string, id: string): Record<string, unknown> {
  return readRevisionYaml(job, id).stats;
}

/** Names of the image's snapshots, sorted. */
export function snapshotNames(cluster: CephCluster, image: string): string[] {
  const list = JSON.parse(cluster.rbdText(['snap', 'ls', '--format', 'json', image])) as Array<{ name: string }>;
  return list.map((s) => s.name).sort();
}

/** `rbd export POOL/IMAGE@SNAP FILE`: the bytes a restore must reproduce. */
export function exportSnapshot(cluster: CephCluster, spec: string, file: string): string {
  cluster.rbd(['export', '--no-progress', spec, file]);
  return file;
}

/** Restores revision `id` to `file` and asserts it holds exactly the bytes of `expectedFile`. */
export async function assertRestoresTo(job: string, id: string, expectedFile: string, dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const target = join(dir, `restore-${id}.img`);
  const result = await backyAsync(['-b', job, 'restore', '-r', id, target], env);
  assert.equal(result.status, 0, `restore failed: ${result.stderr}`);
  assert.ok(sameBytes(target, expectedFile), `revision ${id} restores to bytes that differ from ${expectedFile}`);
}

/** Deterministic pseudo-random bytes (AES-CTR), with zero runs, for image content. */
export function imageContent(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const data = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
  // Every fourth MiB stays zero, as unused space in a disk would.
  for (let at = 3 * MiB; at < size; at += 4 * MiB) data.fill(0, at, Math.min(size, at + MiB));
  return data;
}

/** Creates `POOL/IMAGE` holding `content` (via `rbd import`). */
export function createImage(cluster: CephCluster, spec: string, content: Buffer, dir: string): void {
  const file = join(dir, `import-${spec.replace('/', '_')}.img`);
  writeFileSync(file, content);
  cluster.rbd(['import', '--no-progress', file, spec]);
}

/** Random 64 KiB writes, as a running VM would make. */
export function scribble(cluster: CephCluster, spec: string, total = '2M'): void {
  cluster.rbd(['bench', '--io-type', 'write', '--io-pattern', 'rand', '--io-size', '64K', '--io-total', total, spec]);
}
