import { BackyError } from '../util/errors.js';
import { CowStore } from './cow/cow-store.js';
import type { Store } from './store.js';

/** A kind of store, selected by the `store` key of a job's `config`. */
interface StoreType {
  readonly name: string;
  /** The store of the job directory at `jobPath`. */
  open(jobPath: string): Store;
}

const STORE_TYPES: readonly StoreType[] = [{ name: 'cow', open: (jobPath) => new CowStore(jobPath) }];

/** Without a `store` key a job is what backy 2.0 made: a cow job. */
export const DEFAULT_STORE = 'cow';

export function storeTypeNames(): string[] {
  return STORE_TYPES.map((t) => t.name);
}

export function openStore(name: string, jobPath: string): Store {
  const type = STORE_TYPES.find((t) => t.name === name);
  if (!type) throw new BackyError(`unknown store ${JSON.stringify(name)}; known stores: ${storeTypeNames().join(', ')}`);
  return type.open(jobPath);
}
