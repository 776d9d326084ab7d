import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobDirectory } from '../job/job-directory.js';
import { BackyError } from '../util/errors.js';
import { defaultStore } from '../store/default-store.js';
import { poolPath } from '../store/registry.js';
import { POOL_FILE } from '../store/chunked/pool-layout.js';

/**
 * The store keys a scheduler job's `config` is written with. The store
 * the scheduler configuration names (for the job, else globally) wins;
 * without one a job keeps what its config says, and a new job gets the
 * default for its filesystem (logged). A chunked job of the scheduler
 * shares the base directory's pool, unless it already had a pool of its
 * own (made by `backy init`), which it keeps; a job made cow keeps naming
 * the pool its chunked revisions are in.
 */
export async function storeKeys(directory: JobDirectory, named: string | undefined, log: (line: string) => void): Promise<Record<string, unknown>> {
  // A config that exists but cannot be read is never written over: it may name a pool of the job's own, whose revisions would then read as damaged.
  const existing = (await directory.hasConfig()) ? await directory.readConfig().catch((err: unknown) => unreadable(err)) : null;
  let store = named ?? existing?.store;
  if (store === undefined) {
    const chosen = await defaultStore(directory.path);
    log(chosen.reason);
    store = chosen.store;
  }
  // The pool stays named after a change of store: the job's chunked revisions are read from it, and only from it.
  const pool = existing?.pool === 'shared' ? { chunk_pool: 'shared' } : {};
  if (store !== 'chunked') return store === 'cow' ? pool : { store, ...pool };
  // A pool of the job's own, also where the job was made cow since (its config then names no pool: it is the default).
  const ownPool = existing?.pool === 'job' && (existing.store === 'chunked' || (await hasOwnPool(directory)));
  return { store, chunk_pool: ownPool ? 'job' : 'shared' };
}

async function hasOwnPool(directory: JobDirectory): Promise<boolean> {
  return (await lstat(join(poolPath(directory.path, 'job'), POOL_FILE)).catch(() => null)) !== null;
}

function unreadable(err: unknown): never {
  const reason = (err as Error).message.split('\n')[0]!;
  throw new BackyError(`${reason}; not rewritten, as it may name a store of the job's own: repair or remove it`);
}
