import { BackyError } from '../util/errors.js';
import { dirname, join } from 'node:path';
import { ChunkedStore } from './chunked/chunked-store.js';
import { CowStore } from './cow/cow-store.js';
import { StoreSet } from './store-set.js';
import type { Store } from './store.js';

/**
 * Where a chunked job's chunks are: `job`, a pool of its own in the job
 * directory (`backy init`); `shared`, the pool of the scheduler's base
 * directory that all its jobs share.
 */
export type PoolChoice = 'job' | 'shared';
export const POOL_CHOICES: readonly PoolChoice[] = ['job', 'shared'];

/** The chunk pool of a job directory, for either choice. */
export function poolPath(jobPath: string, pool: PoolChoice): string {
  return pool === 'shared' ? join(dirname(jobPath), '.chunks') : join(jobPath, 'chunks');
}

/** A kind of store, selected by the `store` key of a job's `config`. */
interface StoreType {
  readonly name: string;
  /** The store of the job directory at `jobPath`. */
  open(jobPath: string, pool: PoolChoice): Store;
}

const STORE_TYPES: readonly StoreType[] = [
  { name: 'cow', open: (jobPath) => new CowStore(jobPath) },
  { name: 'chunked', open: (jobPath, pool) => new ChunkedStore(jobPath, poolPath(jobPath, pool)) },
];

/** Without a `store` key a job is what backy 2.0 made: a cow job. */
export const DEFAULT_STORE = 'cow';

export function storeTypeNames(): string[] {
  return STORE_TYPES.map((t) => t.name);
}

export function openStore(name: string, jobPath: string, pool: PoolChoice = 'job'): Store {
  const type = STORE_TYPES.find((t) => t.name === name);
  if (!type) throw new BackyError(`unknown store ${JSON.stringify(name)}; known stores: ${storeTypeNames().join(', ')}`);
  return type.open(jobPath, pool);
}

/**
 * The stores of the job directory at `jobPath`: `name`'s for new
 * revisions, the others for revisions made before the job changed store.
 */
export function openJobStores(name: string, jobPath: string, pool: PoolChoice = 'job'): StoreSet {
  const primary = openStore(name, jobPath, pool);
  return new StoreSet(primary, STORE_TYPES.filter((type) => type.name !== name).map((type) => type.open(jobPath, pool)));
}
