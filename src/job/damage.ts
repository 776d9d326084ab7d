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
 * meanwhile, so each is read again under the metadata lock and only its
 * trust changed.
 */
export async function distrustDamaged(job: JobDirectory, scan: JobScan, store: Store, logger: Logger): Promise<void> {
  if (!store.damagedRevisions) return;
  const trusted = scan.revisions.filter((r) => isComplete(r) && r.trust !== 'distrusted');
  const damaged = new Set(await store.damagedRevisions(trusted.map((r) => r.uuid)));
  const affected = trusted.filter((revision) => damaged.has(revision.uuid));
  if (affected.length === 0) return;
  const lock = await job.metadataLock();
  try {
    for (const revision of affected) {
      logger.warn(`revision ${revision.uuid} is now distrusted: it shares a chunk that was found damaged`);
      revision.trust = 'distrusted';
      let current;
      try {
        current = await readRevisionFile(job.revisionPath(revision.uuid), revision.uuid);
      } catch (err) {
        logger.warn(`revision ${revision.uuid}: its .rev can no longer be read (${(err as Error).message}); not writing over it`);
        continue;
      }
      await job.writeRevision({ ...current, trust: 'distrusted' });
    }
  } finally {
    await lock.release();
  }
}
