/**
 * Every tool starts a step with what it reads first in the page cache, and
 * nothing else: the source (and caches, a parent image) for a backup, the
 * revision or repository for a restore. The files are read twice (a
 * second access moves their pages to the kernel's active list, where the
 * step's own writes do not push them out first) and how much of them is
 * cached is measured and reported rather than assumed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Regular files at or below the paths; paths that do not exist yet (a cache before the first backup) have none. */
function filesUnder(paths: string[]): string[] {
  const existing = paths.filter((path) => existsSync(path));
  if (existing.length === 0) return [];
  const out = execFileSync('find', ['-L', ...existing, '-type', 'f', '-print0'], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  return out.split('\0').filter(Boolean);
}

export function warm(paths: string[]): void {
  // From an emptied page cache: otherwise a step pays for reclaiming the
  // memory earlier steps filled, more or less depending on what ran before.
  execFileSync('sh', ['-c', 'sync; echo 1 > /proc/sys/vm/drop_caches']);
  const files = filesUnder(paths);
  // One cat per batch of files: a chunk pool has tens of thousands.
  for (let pass = 0; pass < 2 && files.length > 0; pass++) {
    execFileSync('sh', ['-c', 'xargs -0 cat > /dev/null'], { input: files.join('\0') });
  }
}

/** The fraction of the files' bytes that is in the page cache (`fincore`). */
export function cachedFraction(paths: string[]): number {
  const files = filesUnder(paths);
  if (files.length === 0) return 1;
  let resident = 0;
  let size = 0;
  // Batches keep the argument list short for repositories with many files.
  for (let i = 0; i < files.length; i += 500) {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES,SIZE', ...files.slice(i, i + 500)], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const [res, total] = line.trim().split(/\s+/).map(Number);
      resident += res ?? 0;
      size += total ?? 0;
    }
  }
  return size === 0 ? 1 : Math.min(1, resident / size);
}
