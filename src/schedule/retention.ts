import { inScheduleOrder, type Schedule } from './schedule.js';

/**
 * Which revisions lose which tags, and which are deleted: plan only, the
 * caller applies it under the job's lock. For each tag of the schedule,
 * revisions beyond the newest `keep` carrying it that are also older than
 * `keep × interval` lose it; a revision left without tags is deleted —
 * except the newest complete revision, which retention never deletes.
 * Incomplete revisions are left alone (the next backup removes them), and
 * tags outside the schedule are never taken away. Distrusted revisions
 * (damaged) do not count towards `keep`: the newest `keep` trusted ones
 * carrying a tag keep it however many damaged ones came after them, so
 * that damage can never leave a job with nothing but damaged revisions.
 */
export interface RetentionRevision {
  uuid: string;
  timestamp: Date;
  tags: readonly string[];
  complete: boolean;
  /** False for a distrusted revision; absent means trusted. */
  trusted?: boolean;
}

export interface RetentionChange {
  uuid: string;
  /** The tags the revision keeps. */
  tags: string[];
  /** The tags it loses. */
  expired: string[];
}

export interface RetentionPlan {
  /** Revisions that keep some tags: rewrite their metadata. */
  retag: RetentionChange[];
  /** Revisions left without tags: delete them. */
  remove: RetentionChange[];
}

export function planRetention(revisions: readonly RetentionRevision[], schedule: Schedule, now: Date): RetentionPlan {
  const complete = revisions.filter((r) => r.complete).sort((a, b) => b.timestamp.getTime() - a.timestamp.getTime());
  const expired = new Map<string, Set<string>>();
  for (const rule of schedule) {
    const cutoff = now.getTime() - rule.keep * rule.intervalSeconds * 1000;
    const carrying = complete.filter((r) => r.tags.includes(rule.tag));
    const protectedTrusted = new Set(carrying.filter((r) => r.trusted !== false).slice(0, rule.keep));
    for (const revision of carrying.slice(rule.keep)) {
      if (revision.timestamp.getTime() >= cutoff || protectedTrusted.has(revision)) continue;
      const lost = expired.get(revision.uuid) ?? new Set<string>();
      lost.add(rule.tag);
      expired.set(revision.uuid, lost);
    }
  }
  const newest = complete[0]?.uuid;
  const plan: RetentionPlan = { retag: [], remove: [] };
  // Oldest first, so the log reads in history order.
  for (const revision of [...complete].reverse()) {
    const lost = expired.get(revision.uuid) ?? new Set<string>();
    const kept = revision.tags.filter((tag) => !lost.has(tag));
    const change = { uuid: revision.uuid, tags: kept, expired: inScheduleOrder(schedule, lost) };
    if (kept.length === 0 && revision.uuid !== newest) plan.remove.push(change);
    else if (lost.size > 0) plan.retag.push(change);
  }
  return plan;
}
