import { mkdir } from 'node:fs/promises';
import { BackyError, describeIoError } from '../util/errors.js';
import { findSourceType } from '../sources/registry.js';
import { defaultStore } from '../store/default-store.js';
import { storeTypeNames } from '../store/registry.js';
import { JobDirectory } from './job-directory.js';

export interface InitOutcome {
  job: JobDirectory;
  store: string;
  /** Why this store, when none was asked for. */
  storeReason: string | null;
}

/**
 * `backy init [--store STORE] TYPE SOURCE`: creates the job directory and
 * writes its config. Without `--store` the store suits the filesystem
 * (see defaultStore); a chunked job keeps its own pool in the directory.
 */
export async function initJob(path: string, typeName: string, argument: string, options: { store?: string } = {}): Promise<InitOutcome> {
  const type = findSourceType(typeName);
  const config = type.fromInitArgument(argument);
  if (options.store !== undefined && !storeTypeNames().includes(options.store)) {
    throw new BackyError(`unknown store ${JSON.stringify(options.store)}; known stores: ${storeTypeNames().join(', ')}`);
  }
  const job = new JobDirectory(path);
  try {
    await mkdir(job.path, { recursive: true });
  } catch (err) {
    throw describeIoError(err, `cannot create job directory ${job.path}`);
  }
  const exists = () => new BackyError(`${job.configPath} already exists; refusing to overwrite the job's configuration`);
  if (await job.hasConfig()) throw exists();
  const chosen = options.store !== undefined ? { store: options.store, reason: null } : await defaultStore(job.path);
  // Without a `store` key a job is a cow job, as backy 2.x wrote them.
  try {
    await job.createConfig(chosen.store === 'cow' ? config : { ...config, store: chosen.store });
  } catch (err) {
    // Another init of the same directory wrote its config first.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw exists();
    throw describeIoError(err, `cannot write ${job.configPath}`);
  }
  return { job, store: chosen.store, storeReason: chosen.reason };
}
