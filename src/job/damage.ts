import type { Logger } from '../util/logger.js';
import type { Store } from '../store/store.js';
import type { JobDirectory, JobScan } from './job-directory.js';
import { isComplete, readRevisionFile } from './revision.js';

/**
 * Distrusts the job's revisions whose data the store found damaged since
 * (a chunk shared with a revision of any job failed its hash), before a
 * backup chooses its parent: the backup then writes those blocks again
 * instead of inheriting the damage, and the pool heals. Caller holds the
 * job lock; a `verify` may be noting its outcome in the same `.rev` files
 * meanwhile (see distrustRevision).
 */
export async function distrustDamaged(job: JobDirectory, scan: JobScan, store: Store, logger: Logger): Promise<void> {
  if (!store.damagedRevisions) return;
  const trusted = scan.revisions.filter((r) => isComplete(r) && r.trust !== 'distrusted');
  const damaged = new Set(await store.damagedRevisions(trusted.map((r) => r.uuid)));
  for (const revision of trusted) {
    if (!damaged.has(revision.uuid)) continue;
    // In the scan too: the backup chooses its parent from it.
    revision.trust = 'distrusted';
    await distrustRevision(job, revision.uuid, 'it shares a chunk that was found damaged', logger);
  }
}

/**
 * Marks a revision distrusted in its `.rev` once a read (restore, serve)
 * found a block that fails its hash, or a chunk it shares did, so that no
 * backup takes it for a parent and `status`, `check` and telnet show it.
 * Under the metadata lock, read again first, as verify notes its
 * outcomes; a revision removed or unreadable meanwhile is left alone.
 * Never fails the command that found the damage: that command's own error
 * says what happened.
 */
export async function distrustRevision(job: JobDirectory, id: string, reason: string, logger: Logger): Promise<void> {
  try {
    const lock = await job.metadataLock();
    try {
      const current = await readRevisionFile(job.revisionPath(id), id);
      if (current.trust === 'distrusted') return;
      logger.warn(`revision ${id} is now distrusted: ${reason}`);
      await job.writeRevision({ ...current, trust: 'distrusted' });
    } finally {
      await lock.release();
    }
  } catch (err) {
    logger.warn(`revision ${id} was found damaged, but could not be marked distrusted: ${(err as Error).message}`);
  }
}
