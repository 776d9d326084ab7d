import { lstat, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BackyError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { ChunkPool } from '../store/chunked/chunk-pool.js';
import { collectGarbage, type GcOutcome } from '../store/chunked/garbage-collection.js';
import { poolPath } from '../store/registry.js';
import { JobDirectory } from './job-directory.js';

/** The job directories of a base directory: every directory in it but hidden ones (the shared pool among them). */
export async function baseDirectoryJobs(baseDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(baseDir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const directories: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const path = join(baseDir, name);
    // Followed through symbolic links: marking more than needed is always safe.
    const info = await stat(path).catch(async (err: unknown) => {
      // Deleted meanwhile: its chunks are garbage, as the manual promises. A link whose directory cannot be reached now
      // (an unmounted filesystem, a disk error) may hold revisions that name chunks of this pool: nothing is collected.
      if (errorCode(err) === 'ENOENT' && (await lstat(path).catch(() => null)) === null) return null;
      throw new BackyError(`garbage collection stopped, nothing deleted: cannot reach ${path}: ${(err as Error).message}; mount or remove it`);
    });
    if (info?.isDirectory()) directories.push(path);
  }
  return directories;
}

/** The pool shared by the jobs in `baseDir`, collected against every job directory there. */
export async function gcSharedPool(baseDir: string, logger: Logger): Promise<GcOutcome> {
  const path = poolPath(join(baseDir, 'job'), 'shared');
  const pool = await ChunkPool.open(path, { create: false });
  return collectGarbage(pool, () => baseDirectoryJobs(baseDir), logger);
}

/**
 * `backy -b JOB gc`: collects the job's pool, its own (against its own
 * indexes) or the one its base directory shares (against all of them).
 */
export async function gcJobPool(jobPath: string, logger: Logger): Promise<GcOutcome> {
  const job = new JobDirectory(jobPath);
  await job.ensureJob();
  const { store, pool } = await job.readConfig();
  if (pool === 'shared') return gcSharedPool(dirname(job.path), logger);
  let chunkPool: ChunkPool;
  try {
    chunkPool = await ChunkPool.open(poolPath(job.path, 'job'), { create: false });
  } catch (err) {
    if (store !== 'chunked') throw new BackyError(`job ${job.path} keeps no chunks (its store is ${store}): nothing to collect`);
    throw err;
  }
  return collectGarbage(chunkPool, async () => [job.path], logger);
}
