import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { formatBytes } from '../util/units.js';
import { createSource } from '../sources/registry.js';
import type { ProgressListener, Source } from '../sources/source.js';
import { ParentUnreadableError, type Store } from '../store/store.js';
import { newRevisionId } from '../store/revision-id.js';
import { believable, JobDirectory, type JobScan } from './job-directory.js';
import { distrustDamaged } from './damage.js';
import { isComplete, type Revision } from './revision.js';
import { DamageError } from '../integrity/hash-check.js';

export interface BackupOptions {
  tags: string[];
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  onProgress: ProgressListener;
  /** Defaults to the store the job's `config` names. */
  store?: Store;
}

interface Context {
  job: JobDirectory;
  store: Store;
  source: Source;
  options: BackupOptions;
}

/**
 * `backy backup`: one new revision, complete and verified, or nothing.
 *
 * Under the job lock: clear out what an interrupted backup left, choose the
 * parent, let the source write into the store what differs, flush, verify,
 * record the hashes, and only then record the stats that mark the revision
 * complete. Any failure removes the new revision; earlier revisions are
 * never touched. A parent whose data turns out unreadable, or whose blocks
 * the new revision kept fail their hashes, is given up for a full backup,
 * so that one bad revision never wedges a job.
 */
export async function backupJob(path: string, options: BackupOptions): Promise<Revision> {
  const { logger } = options;
  const job = new JobDirectory(path);
  const config = await job.readConfig();
  const source = createSource(config.source, job.configPath);
  const store = options.store ?? job.openStore(config.store, config.pool);
  const lock = await job.lock();
  try {
    const scan = await job.scan(logger);
    await job.removeIncomplete(scan, store, logger);
    await distrustDamaged(job, scan, store, logger);
    const context = { job, store, source, options };
    const parent = await chooseParent(scan, store, options.clock.now(), logger);
    let revision: Revision;
    try {
      revision = await makeRevision(context, parent);
    } catch (err) {
      if (!parent) throw err;
      if (err instanceof ParentUnreadableError) {
        logger.warn(`${err.message}; making a full backup from the source instead`);
      } else if (causedByDamage(err)) {
        // A block the revision kept from its parent (a chunk deleted by hand, or gone bad) failed its
        // hash when read back: the parent shares it. A full backup writes every block from the source,
        // the damaged chunk among them, instead of failing until someone looks.
        await distrustDamaged(job, scan, store, logger);
        logger.warn(`${(err as Error).message}; making a full backup from the source instead`);
      } else {
        throw err;
      }
      revision = await makeRevision(context, null);
    }
    const newest = believable([...scan.revisions, revision], options.clock.now()).filter(isComplete).at(-1) ?? null;
    await job.updateLastLinks(newest, logger);
    logger.info(
      `backup of revision ${revision.uuid} complete: ${formatBytes(Number(revision.stats.bytes_written))} written ` +
        `in ${revision.stats.duration?.toFixed(1)} s, verified (${String(revision.stats.verification)})`,
    );
    return revision;
  } finally {
    await lock.release();
  }
}

/**
 * The newest complete revision, if its data is there and trusted. One with
 * missing data is passed over for the one before; a distrusted one means a
 * full backup, so that nothing of the damage is shared or inherited.
 */
async function chooseParent(scan: JobScan, store: Store, now: Date, logger: Logger): Promise<Revision | null> {
  const complete = believable(scan.revisions, now).filter(isComplete);
  for (const candidate of [...complete].reverse()) {
    const data = await store.stat(candidate.uuid);
    if (data.state !== 'present') {
      const why = data.state === 'missing' ? 'its data is missing' : `its data is unreadable (${data.reason})`;
      logger.warn(`revision ${candidate.uuid} cannot be the parent: ${why}; looking at the one before`);
      continue;
    }
    if (candidate.trust === 'distrusted') {
      logger.warn(`revision ${candidate.uuid} is distrusted (damaged): this backup is a full one`);
      return null;
    }
    // Cut short or grown since: what a source writes on top (a Ceph diff) would not make the image it means.
    const recorded = candidate.stats.size;
    if (typeof recorded === 'number' && recorded !== data.size) {
      logger.warn(`revision ${candidate.uuid} cannot be the parent: its data has ${data.size} bytes, its .rev records ${recorded}; this backup is a full one`);
      return null;
    }
    return candidate;
  }
  return null;
}

async function makeRevision({ job, store, source, options }: Context, parent: Revision | null): Promise<Revision> {
  const { logger, clock } = options;
  const started = clock.now();
  const revision: Revision = {
    uuid: newRevisionId(),
    timestamp: started,
    parent: parent?.uuid ?? null,
    tags: options.tags,
    stats: {},
    trust: 'trusted',
    hashes: null,
    verified: null,
  };
  logger.info(`backup of ${source.describe()} started: revision ${revision.uuid}, tags ${revision.tags.join(',')}`);
  // The metadata comes first: if we die from here on, the next backup
  // finds an incomplete revision and removes it with its data.
  await job.writeRevision(revision).catch((err: unknown) => {
    throw describeIoError(err, `cannot create revision ${revision.uuid} in ${job.path}`);
  });
  try {
    const { stats, hashes } = await writeData(store, source, revision, parent, options);
    revision.stats = { ...stats, duration: (clock.now().getTime() - started.getTime()) / 1000 };
    revision.hashes = hashes;
    await job.writeRevision(revision);
    return revision;
  } catch (err) {
    await job.removeRevisions([revision.uuid], store).catch((cleanupError: unknown) => {
      logger.error(`could not remove failed revision ${revision.uuid}: ${String(cleanupError)}`);
    });
    if (err instanceof ParentUnreadableError) throw err;
    // Failing system calls (a full disk) get a sentence; a source's own errors pass as they are.
    throw errorCode(err) ? describeIoError(err, `cannot complete revision ${revision.uuid} in ${job.path}`) : err;
  }
}

async function writeData(store: Store, source: Source, revision: Revision, parent: Revision | null, options: BackupOptions) {
  const { logger, signal, onProgress } = options;
  const action = `backup of revision ${revision.uuid}`;
  const sourceBackup = await source.begin({ revision, parent, logger, signal, onProgress });
  let success = false;
  try {
    const writer = await store.create(revision.uuid, parent ? { id: parent.uuid, hashes: parent.hashes } : null, logger).catch((err: unknown) => {
      if (err instanceof ParentUnreadableError) throw err;
      throw describeIoError(err, parent ? `${action} failed while copying the parent's data` : `${action} failed while creating its data in the store`);
    });
    logger.debug(`data of ${revision.uuid} created by ${writer.clone}`);
    let sourceStats: Record<string, unknown>;
    let verification;
    let committed;
    try {
      try {
        sourceStats = await sourceBackup.transfer(writer);
      } catch (err) {
        if (err instanceof ParentUnreadableError) throw err;
        throw describeIoError(err, `${action} failed`);
      }
      // Verification reads the source again (and the image where it has no
      // checksums of what was written) while the flush goes to disk; the
      // revision is complete only when both have succeeded.
      const [flushed, verified] = await Promise.allSettled([writer.sync(), sourceBackup.verify(writer.reader())]);
      if (flushed.status === 'rejected') throw describeIoError(flushed.reason, `${action} failed`);
      if (verified.status === 'rejected') throw verified.reason;
      verification = verified.value;
      committed = await writer.commit();
    } finally {
      await writer.close();
    }
    const written = writer.stats();
    success = true;
    return {
      hashes: committed.hashes,
      stats: {
        bytes_written: written.bytesWritten,
        bytes_punched: written.bytesPunched,
        size: sourceBackup.size,
        clone: writer.clone,
        verification: verification.kind,
        bytes_verified: verification.bytesVerified,
        ...(verification.bytesReadBack !== undefined ? { bytes_read_back: verification.bytesReadBack } : {}),
        ...sourceStats,
        ...committed.stats,
      },
    };
  } catch (err) {
    if (err instanceof BackyError || err instanceof ParentUnreadableError) throw err;
    throw describeIoError(err, `${action} failed`);
  } finally {
    await sourceBackup.finish({ success });
  }
}

/** Whether `err` is, or was caused by, a block failing its hash. */
function causedByDamage(err: unknown): boolean {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++) {
    if (cause instanceof DamageError) return true;
  }
  return false;
}
