import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { HashRecordError, type HashRecord } from '../integrity/hash-record.js';
import { StoreError, type RevisionReader, type Store } from '../store/store.js';
import { JobDirectory, type JobScan } from './job-directory.js';
import { resolveRevisionSpec } from './revision-spec.js';
import type { Revision } from './revision.js';
import { markInUse } from './revision-use.js';

/** A revision a command was asked for, with where it lives. */
export interface SelectedRevision {
  job: JobDirectory;
  store: Store;
  scan: JobScan;
  revision: Revision;
}

/** Resolves a revision spec in the job at `path` (no lock: reading only). */
export async function selectRevision(path: string, spec: string | undefined, logger: Logger, now: Date): Promise<SelectedRevision> {
  const job = new JobDirectory(path);
  await job.ensureJob();
  const store = await job.store();
  const scan = await job.scan(logger);
  const revision = resolveRevisionSpec(spec, scan.revisions, { now, unreadable: scan.unreadable });
  if (revision.trust === 'distrusted') {
    logger.warn(`revision ${revision.uuid} is distrusted: a read found it differs from its recorded hashes`);
  }
  return { job, store, scan, revision };
}

/** A revision's data opened for reading, and its recorded hashes where it has them. */
export interface OpenedRevision {
  reader: RevisionReader;
  /** Null for a revision made before hashes were recorded, or whose record cannot be used (then with a warning). */
  record: HashRecord | null;
  close(): Promise<void>;
}

/**
 * Opens the revision's data for a full read, refusing data that cannot be
 * the revision: missing, unreadable, or not the size its `.rev` records.
 * Until closed, the revision is marked in use, so retention keeps it.
 */
export async function openRevision(selected: SelectedRevision, logger: Logger, withoutRecord = 'reading it unchecked'): Promise<OpenedRevision> {
  const { revision, store } = selected;
  // Before the data is opened: retention either removed it already (the open fails) or keeps it until we are done.
  const release = await markInUse(selected.job.path, revision.uuid, logger);
  let reader: RevisionReader | undefined;
  try {
    const opened = await openData(store, revision);
    reader = opened;
    requireRecordedSize(revision, opened.size);
    let record: HashRecord | null = null;
    if (revision.hashes) {
      try {
        record = await opened.hashes(revision.hashes);
      } catch (err) {
        if (!(err instanceof HashRecordError)) throw err;
        logger.warn(`cannot check revision ${revision.uuid} against its recorded hashes: ${err.message}; ${withoutRecord}`);
      }
    }
    return {
      reader: opened,
      record,
      close: async () => {
        try {
          await record?.close();
          await opened.close();
        } finally {
          await release();
        }
      },
    };
  } catch (err) {
    await reader?.close();
    await release();
    throw err;
  }
}

export async function openData(store: Store, revision: Revision): Promise<RevisionReader> {
  try {
    return await store.open(revision.uuid);
  } catch (err) {
    if (err instanceof StoreError) throw new BackyError(`cannot read revision ${revision.uuid}: ${err.message}`);
    throw err;
  }
}

/** A `.rev` records its data's size (backy 2.0's do not): data of another size is not that revision whole. */
export function requireRecordedSize(revision: Revision, actual: number): void {
  const recorded = revision.stats.size;
  if (typeof recorded === 'number' && recorded !== actual) {
    throw new BackyError(
      `revision ${revision.uuid} has ${actual} bytes of data, but its .rev records ${recorded}: it is damaged and not read as if it were whole`,
    );
  }
}
