import type { JobDirectory } from '../job/job-directory.js';
import { isComplete } from '../job/revision.js';
import { planRetention, type RetentionPlan } from '../schedule/retention.js';
import type { Schedule } from '../schedule/schedule.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';

/**
 * Applies the retention rules to a job directory under the job's lock, so
 * that no backup (scheduled or manual) runs meanwhile: plan from what is on
 * disk now, then rewrite the `.rev` files of revisions that lose tags and
 * delete those left without any.
 */
export async function expireRevisions(directory: JobDirectory, schedule: Schedule, clock: Clock, logger: Logger): Promise<RetentionPlan> {
  const lock = await directory.waitForLock();
  try {
    const revisions = await directory.revisions(logger);
    const plan = planRetention(
      revisions.map((r) => ({ uuid: r.uuid, timestamp: r.timestamp, tags: r.tags, complete: isComplete(r) })),
      schedule,
      clock.now(),
    );
    const byId = new Map(revisions.map((r) => [r.uuid, r]));
    for (const change of plan.retag) {
      logger.info(`${directory.path}: revision ${change.uuid} expired from ${change.expired.join(',')}, keeps ${change.tags.join(',')}`);
      await directory.writeRevision({ ...byId.get(change.uuid)!, tags: change.tags });
    }
    for (const change of plan.remove) {
      logger.info(`${directory.path}: removing revision ${change.uuid} (${change.expired.length > 0 ? `expired from ${change.expired.join(',')}` : 'it carries no tags'})`);
      await directory.removeRevision(change.uuid);
    }
    if (plan.remove.length > 0) await directory.updateLastLinks();
    return plan;
  } finally {
    await lock.release();
  }
}
