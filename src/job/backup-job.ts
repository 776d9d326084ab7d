import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { formatBytes } from '../util/units.js';
import { createSource } from '../sources/registry.js';
import type { ProgressListener } from '../sources/source.js';
import type { Store } from '../store/store.js';
import { CowStore } from '../store/cow/cow-store.js';
import { JobDirectory } from './job-directory.js';
import { isComplete, type Revision } from './revision.js';
import { newRevisionId } from './revision-id.js';

export interface BackupOptions {
  tags: string[];
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  onProgress: ProgressListener;
  /** Defaults to the reflink image store in the job directory. */
  store?: Store;
}

/**
 * `backy backup`: one new revision, complete and verified, or nothing.
 *
 * Under the job lock: clear out what an interrupted backup left, copy the
 * parent's image, let the source write what differs, flush, verify, and
 * only then record the stats that mark the revision complete. Any failure
 * removes the new revision; earlier revisions are never touched.
 */
export async function backupJob(path: string, options: BackupOptions): Promise<Revision> {
  const { logger, clock, signal, onProgress } = options;
  const job = new JobDirectory(path);
  const source = createSource(await job.readConfig(), job.configPath);
  const lock = await job.lock();
  try {
    await job.removeIncomplete(logger);
    const revisions = await job.revisions(logger);
    const parent = revisions.filter(isComplete).at(-1) ?? null;
    const store = options.store ?? new CowStore(job.path);
    const started = clock.now();
    const revision: Revision = {
      uuid: newRevisionId(),
      timestamp: started,
      parent: parent?.uuid ?? null,
      tags: options.tags,
      stats: {},
    };
    logger.info(`backup of ${source.describe()} started: revision ${revision.uuid}, tags ${revision.tags.join(',')}`);
    // The metadata comes first: if we die from here on, the next backup
    // finds an incomplete revision and removes it with its image.
    await job.writeRevision(revision).catch((err: unknown) => {
      throw describeIoError(err, `cannot create revision ${revision.uuid} in ${job.path}`);
    });
    try {
      const stats = await writeRevision(job, store, source, revision, parent, { logger, signal, onProgress });
      revision.stats = { ...stats, duration: (clock.now().getTime() - started.getTime()) / 1000 };
      await store.seal(revision.uuid);
      await job.writeRevision(revision);
      await job.updateLastLinks();
    } catch (err) {
      await job.removeRevision(revision.uuid).catch((cleanupError: unknown) => {
        logger.error(`could not remove failed revision ${revision.uuid}: ${String(cleanupError)}`);
      });
      // Failing system calls (a full disk) get a sentence; a source's own errors pass as they are.
      throw errorCode(err) ? describeIoError(err, `cannot complete revision ${revision.uuid} in ${job.path}`) : err;
    }
    logger.info(
      `backup of revision ${revision.uuid} complete: ${formatBytes(Number(revision.stats.bytes_written))} written ` +
        `in ${revision.stats.duration?.toFixed(1)} s, verified (${String(revision.stats.verification)})`,
    );
    return revision;
  } finally {
    await lock.release();
  }
}

async function writeRevision(
  job: JobDirectory,
  store: Store,
  source: ReturnType<typeof createSource>,
  revision: Revision,
  parent: Revision | null,
  context: { logger: Logger; signal: AbortSignal; onProgress: ProgressListener },
): Promise<Record<string, unknown>> {
  const action = `backup of revision ${revision.uuid} to ${job.imagePath(revision.uuid)}`;
  const sourceBackup = await source.begin({ revision, parent, ...context });
  let success = false;
  try {
    const clone = await store.create(revision.uuid, parent?.uuid ?? null, context.logger).catch((err: unknown) => {
      throw describeIoError(err, `${action} failed while copying the parent image`);
    });
    context.logger.debug(`image for ${revision.uuid} created by ${clone}`);
    const writer = await store.openWriter(revision.uuid, parent?.uuid ?? null, clone);
    let sourceStats: Record<string, unknown>;
    let verification;
    try {
      try {
        sourceStats = await sourceBackup.transfer(writer);
      } catch (err) {
        throw describeIoError(err, `${action} failed`);
      }
      // Verification reads the source again (and the image where it has no
      // checksums of what was written) while the flush goes to disk; the
      // revision is complete only when both have succeeded.
      const [flushed, verified] = await Promise.allSettled([
        writer.sync(),
        sourceBackup.verify(store.imagePath(revision.uuid), writer.reader()),
      ]);
      if (flushed.status === 'rejected') throw describeIoError(flushed.reason, `${action} failed`);
      if (verified.status === 'rejected') throw verified.reason;
      verification = verified.value;
    } finally {
      await writer.close();
    }
    const written = writer.stats();
    success = true;
    return {
      bytes_written: written.bytesWritten,
      bytes_punched: written.bytesPunched,
      size: sourceBackup.size,
      clone,
      verification: verification.kind,
      bytes_verified: verification.bytesVerified,
      ...(verification.bytesReadBack !== undefined ? { bytes_read_back: verification.bytesReadBack } : {}),
      ...sourceStats,
    };
  } catch (err) {
    if (err instanceof BackyError) throw err;
    throw describeIoError(err, `${action} failed`);
  } finally {
    await sourceBackup.finish({ success });
  }
}
