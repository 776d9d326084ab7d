import { BackyError, describeIoError, isErrnoException } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { ProgressListener } from '../sources/source.js';
import { ChunkReadError, pipeChunks } from '../io/chunk-pipeline.js';
import { DamageError, hashCheck } from '../integrity/hash-check.js';
import { hashBlocks } from '../integrity/hash-pool.js';
import { HashRecordError, type RecordedHashes } from '../integrity/hash-record.js';
import type { RevisionReader, Store } from '../store/store.js';
import { JobDirectory } from './job-directory.js';
import { openData, requireRecordedSize } from './revision-data.js';
import { resolveRevisionSpec } from './revision-spec.js';
import { markInUse } from './revision-use.js';
import { isComplete, readRevisionFile, type Revision } from './revision.js';

export interface VerifyOptions {
  spec?: string;
  all?: boolean;
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  onProgress: ProgressListener;
}

/**
 * What a revision's verification found:
 * - `verified`: every block matches its recorded hash;
 * - `recorded`: it had no recorded hashes (made before backy kept them):
 *   they were taken now, from the data as it is, and nothing could be checked;
 * - `damaged`: a block does not match; the revision is now distrusted;
 * - `failed`: it could not be checked (data or hash record missing,
 *   unreadable, truncated): nothing was changed.
 */
export type VerifyOutcome =
  | { kind: 'verified'; revision: string; bytes: number; seconds: number }
  | { kind: 'recorded'; revision: string; bytes: number; seconds: number; hashes: RecordedHashes }
  | { kind: 'damaged'; revision: string; offset: number; unreadable?: string }
  | { kind: 'failed'; revision: string; reason: string };

/**
 * `backy verify`: reads revisions back through their store and proves every
 * block against its recorded hash. It takes no lock a backup takes, so
 * backups of the job go on meanwhile; only the final note in a `.rev`
 * (distrusted, or when it was verified) is written under the metadata
 * lock retention also takes, after the `.rev` was read again — retention
 * may have changed or removed it.
 */
export async function verifyJob(path: string, options: VerifyOptions): Promise<VerifyOutcome[]> {
  const job = new JobDirectory(path);
  await job.ensureJob();
  const store = await job.store();
  const scan = await job.scan(options.logger);
  const now = options.clock.now();
  let targets: Revision[];
  if (options.all) {
    targets = scan.revisions.filter(isComplete);
    if (targets.length === 0 && scan.unreadable.length === 0) throw new BackyError('no complete revision in this job to verify');
  } else {
    targets = [resolveRevisionSpec(options.spec, scan.revisions, { now, unreadable: scan.unreadable })];
  }
  const outcomes: VerifyOutcome[] = [];
  // "All" includes what cannot even be read: an unverifiable revision is never a silent success.
  if (options.all) {
    for (const broken of scan.unreadable) outcomes.push({ kind: 'failed', revision: broken.id, reason: `its .rev is unreadable (${broken.reason})` });
  }
  for (const revision of targets) {
    // Marked in use while it is read, as a restore is: retention removing it meanwhile made a verification fail (its
    // data or record gone halfway), and on a chunked store a collection after it took chunks the verification still read.
    const release = await markInUse(job.path, revision.uuid, options.logger);
    try {
      // What retention removed since the scan (it waits for no mark made after it started) is no failure of --all.
      if (options.all && !(await job.hasRevisionFile(revision.uuid))) {
        options.logger.info(`revision ${revision.uuid} was removed meanwhile (by retention); not verified`);
        continue;
      }
      const outcome = await verifyRevision(store, revision, options);
      if (outcome.kind !== 'failed') await noteOutcome(job, outcome, options);
      outcomes.push(outcome);
    } finally {
      await release();
    }
  }
  return outcomes;
}

export async function verifyRevision(store: Store, revision: Revision, options: Omit<VerifyOptions, 'spec' | 'all'>): Promise<VerifyOutcome> {
  const started = options.clock.now().getTime();
  const seconds = () => (options.clock.now().getTime() - started) / 1000;
  let reader: RevisionReader;
  try {
    reader = await openData(store, revision);
  } catch (err) {
    if (err instanceof BackyError) return { kind: 'failed', revision: revision.uuid, reason: err.message.replace(/^cannot read revision \S+: /, '') };
    throw err;
  }
  try {
    try {
      requireRecordedSize(revision, reader.size);
    } catch (err) {
      return { kind: 'failed', revision: revision.uuid, reason: (err as Error).message.replace(`revision ${revision.uuid} `, '') };
    }
    const progress = { signal: options.signal, onProgress: (done: number, total: number) => options.onProgress('verify', done, total) };
    if (!revision.hashes) {
      let hashes: RecordedHashes;
      try {
        hashes = await store.recordHashes(revision.uuid, reader.size, (record) =>
          pipeChunks(reader, {
            check: async (chunk) => {
              if (chunk.data) await record.write(chunk.offset / record.blockSize, await hashBlocks(chunk.data, record.blockSize));
            },
          }, progress),
        );
      } catch (err) {
        if (err instanceof ChunkReadError && err.code === 'EIO') {
          return { kind: 'damaged', revision: revision.uuid, offset: err.offset, unreadable: 'input/output error' };
        }
        // The record could not be put in place (a directory under its name, a full disk): this revision is not
        // verified, and the others of --all still are.
        if (isErrnoException(err) && err.syscall !== undefined && !(err instanceof ChunkReadError)) {
          return { kind: 'failed', revision: revision.uuid, reason: describeIoError(err, 'its hash record could not be written').message };
        }
        throw err;
      }
      return { kind: 'recorded', revision: revision.uuid, bytes: reader.size, seconds: seconds(), hashes };
    }
    let record;
    try {
      record = await reader.hashes(revision.hashes);
    } catch (err) {
      if (err instanceof HashRecordError) return { kind: 'failed', revision: revision.uuid, reason: err.message };
      throw err;
    }
    try {
      await pipeChunks(reader, reader.provesReads ? {} : { check: hashCheck(record) }, progress);
    } catch (err) {
      if (err instanceof DamageError) return { kind: 'damaged', revision: revision.uuid, offset: err.offset };
      // What the disk cannot give back is as lost as what it gives back wrong.
      if (err instanceof ChunkReadError && err.code === 'EIO') {
        return { kind: 'damaged', revision: revision.uuid, offset: err.offset, unreadable: 'input/output error' };
      }
      if (err instanceof HashRecordError) return { kind: 'failed', revision: revision.uuid, reason: err.message };
      throw err;
    } finally {
      await record.close();
    }
    return { kind: 'verified', revision: revision.uuid, bytes: reader.size, seconds: seconds() };
  } finally {
    await reader.close();
  }
}

/** Records what a verification found in the revision's `.rev`, unless retention took it meanwhile. */
async function noteOutcome(job: JobDirectory, outcome: VerifyOutcome, options: Pick<VerifyOptions, 'logger' | 'clock'>): Promise<void> {
  const lock = await job.metadataLock();
  try {
    let current: Revision;
    try {
      current = await readRevisionFile(job.revisionPath(outcome.revision), outcome.revision);
    } catch {
      options.logger.info(`revision ${outcome.revision} was removed or changed while it was verified; not noting the outcome`);
      return;
    }
    if (outcome.kind === 'recorded') {
      current.hashes ??= outcome.hashes;
      current.verified = null;
    } else if (outcome.kind === 'damaged') {
      if (current.trust !== 'distrusted') options.logger.warn(`revision ${outcome.revision} is now distrusted: ${damageText(outcome)}`);
      current.trust = 'distrusted';
    } else if (outcome.kind === 'verified') {
      current.verified = options.clock.now();
    }
    await job.writeRevision(current);
  } finally {
    await lock.release();
  }
}

/** What is wrong with a damaged revision, in the words `verify` prints. */
export function damageText(outcome: { offset: number; unreadable?: string }): string {
  return outcome.unreadable
    ? `the chunk at offset ${outcome.offset} cannot be read (${outcome.unreadable})`
    : `block at offset ${outcome.offset} does not match its recorded hash`;
}
