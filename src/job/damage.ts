import type { Logger } from '../util/logger.js';
import type { Store } from '../store/store.js';
import type { JobDirectory, JobScan } from './job-directory.js';
import { isComplete } from './revision.js';

/**
 * Distrusts the job's revisions whose data the store found damaged since
 * (a chunk shared with a revision of any job failed its hash), before a
 * backup chooses its parent: the backup then writes those blocks again
 * instead of inheriting the damage, and the pool heals. Caller holds the
 * job lock.
 */
export async function distrustDamaged(job: JobDirectory, scan: JobScan, store: Store, logger: Logger): Promise<void> {
  if (!store.damagedRevisions) return;
  const trusted = scan.revisions.filter((r) => isComplete(r) && r.trust !== 'distrusted');
  const damaged = new Set(await store.damagedRevisions(trusted.map((r) => r.uuid)));
  for (const revision of trusted) {
    if (!damaged.has(revision.uuid)) continue;
    logger.warn(`revision ${revision.uuid} is now distrusted: it shares a chunk that was found damaged`);
    revision.trust = 'distrusted';
    await job.writeRevision(revision);
  }
}
