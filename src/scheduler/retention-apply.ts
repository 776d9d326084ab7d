import { believable, type JobDirectory, type RemovalCheck } from '../job/job-directory.js';
import { isComplete } from '../job/revision.js';
import { RemovalGuard } from '../job/revision-use.js';
import { planRetention, type RetentionPlan } from '../schedule/retention.js';
import type { Schedule } from '../schedule/schedule.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { printable } from '../util/printable.js';

/**
 * Applies the retention rules to a job directory under the job's lock, so
 * that no backup (scheduled or manual) runs meanwhile: plan from what is on
 * disk now, then rewrite the `.rev` files of revisions that lose tags and
 * delete those left without any — all of them with one flush of the
 * directory. Revisions whose `.rev` cannot be read take no part: they are
 * never deleted; nor are those dated in the future, nor those a command is
 * reading (see revision-use: kept until a run finds them unused).
 */
export async function expireRevisions(directory: JobDirectory, schedule: Schedule, clock: Clock, logger: Logger): Promise<RetentionPlan> {
  const store = await directory.store();
  const lock = await directory.waitForLock();
  const metadata = await directory.metadataLock().catch(async (err: unknown) => {
    await lock.release();
    throw err;
  });
  try {
    const scan = await directory.scan(logger);
    const now = clock.now();
    // A revision dated in the future neither counts for its tags nor expires: it is the operator's to look at.
    const plan = planRetention(
      believable(scan.revisions, now).map((r) => ({ uuid: r.uuid, timestamp: r.timestamp, tags: r.tags, complete: isComplete(r), trusted: r.trust !== 'distrusted' })),
      schedule,
      now,
    );
    const byId = new Map(scan.revisions.map((r) => [r.uuid, r]));
    for (const change of plan.retag) {
      logger.info(`${directory.path}: revision ${change.uuid} expired from ${tagList(change.expired)}, keeps ${tagList(change.tags)}`);
    }
    await directory.writeRevisions(plan.retag.map((change) => ({ ...byId.get(change.uuid)!, tags: change.tags })));
    if (plan.remove.length > 0) {
      const guard = await RemovalGuard.open(directory.path);
      const changes = new Map(plan.remove.map((change) => [change.uuid, change]));
      let removed: Set<string>;
      try {
        const logged: RemovalCheck = {
          mayRemove: (id) => {
            const free = guard.mayRemove(id);
            const { expired } = changes.get(id)!;
            logger.info(
              free
                ? `${directory.path}: removing revision ${id} (${expired.length > 0 ? `expired from ${tagList(expired)}` : 'it carries no tags'})`
                : `${directory.path}: keeping revision ${id} for now, though it expired: a backy serve, mount, restore or verify is reading it`,
            );
            return free;
          },
          removed: (id) => guard.removed(id),
        };
        removed = new Set(await directory.removeRevisions([...changes.keys()], store, logged));
      } finally {
        await guard.close();
      }
      plan.remove = plan.remove.filter((change) => removed.has(change.uuid));
      if (removed.size > 0) {
        const newest = believable(scan.revisions, now).filter((r) => isComplete(r) && !removed.has(r.uuid)).at(-1) ?? null;
        await directory.updateLastLinks(newest, logger);
      }
    }
    return plan;
  } finally {
    await metadata.release();
    await lock.release();
  }
}

/** Tags are read from `.rev` files, which anyone may edit: a line break in one must not forge a log line. */
function tagList(tags: readonly string[]): string {
  return printable(tags.join(','));
}
