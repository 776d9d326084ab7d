/**
 * How much disk a repository really takes: the filesystem's used bytes
 * (what `df` shows) before and after a step, on a loop filesystem that holds
 * nothing else at the time, and `du` of the repository as a cross-check.
 */
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import type { LoopFilesystem } from '../../../test/helpers/loop-fs.js';

/** Flushes dirty pages; on btrfs also commits the transaction so freed extents count as free. */
export function settle(fs?: LoopFilesystem): void {
  execFileSync('sync');
  if (fs?.type === 'btrfs') execFileSync('btrfs', ['filesystem', 'sync', fs.path]);
}

/**
 * Bytes in use on the filesystem. On btrfs: `btrfs filesystem usage`'s
 * "Used" — data plus metadata as stored (metadata is DUP, so twice), which
 * is what reflinked revisions really cost, shared extents counted once.
 * On ext4: statfs (blocks − free blocks), as `df` shows it.
 */
export function usedBytes(fs: LoopFilesystem): number {
  if (fs.type === 'btrfs') {
    const out = execFileSync('btrfs', ['filesystem', 'usage', '--raw', fs.path], { encoding: 'utf8' });
    const match = /^\s*Used:\s+(\d+)/m.exec(out);
    if (!match) throw new Error(`no "Used:" in btrfs filesystem usage of ${fs.path}`);
    return Number(match[1]);
  }
  const stats = statfsSync(fs.path);
  return (stats.blocks - stats.bfree) * stats.bsize;
}

/**
 * Used bytes once they stop moving: btrfs frees a deleted file's extents
 * in the background, so a measurement right after a cleanup could still
 * fall while the next step runs.
 */
export function settledUsedBytes(fs: LoopFilesystem): number {
  let previous = -1;
  for (let attempt = 0; attempt < 20; attempt++) {
    settle(fs);
    const now = usedBytes(fs);
    if (now === previous) return now;
    previous = now;
    execFileSync('sleep', ['0.5']);
  }
  return previous;
}

/**
 * Bytes allocated to a directory's files: btrfs counts each shared extent
 * once (`btrfs filesystem du -s`: exclusive + set shared, data only); ext4
 * `du -s` (allocated blocks, holes excluded).
 */
export function directoryBytes(fs: LoopFilesystem, path: string): number {
  if (fs.type === 'btrfs') {
    const out = execFileSync('btrfs', ['filesystem', 'du', '-s', '--raw', path], { encoding: 'utf8' });
    const fields = out.trim().split('\n').at(-1)!.trim().split(/\s+/);
    return Number(fields[1]) + Number(fields[2]);
  }
  return Number(execFileSync('du', ['-s', '-B1', path], { encoding: 'utf8' }).split(/\s/)[0]);
}
