/**
 * A job is within SLA while its newest complete revision is at most 1.5 x
 * the shortest interval of its schedule old, as in backy 2.x (whose own test
 * calls 36 hours "the last time that is OK" for a daily job). A job that
 * never completed a backup is within SLA for 1.5 x that interval after it
 * first appeared in the configuration (DESIGN.md).
 */
export const SLA_FACTOR = 1.5;

export interface SlaInput {
  slaIntervalSeconds: number;
  lastBackup: Date | null;
  firstSeen: Date;
}

export interface SlaResult {
  ok: boolean;
  /** Seconds since the last backup (or since first seen, when none). */
  ageSeconds: number;
  /** The last moment the job is within SLA; after it, the job is overdue. */
  deadline: Date;
}

export function slaStatus(job: SlaInput, now: Date): SlaResult {
  const reference = job.lastBackup ?? job.firstSeen;
  const deadline = new Date(reference.getTime() + SLA_FACTOR * job.slaIntervalSeconds * 1000);
  return {
    ok: now.getTime() <= deadline.getTime(),
    ageSeconds: Math.max(0, (now.getTime() - reference.getTime()) / 1000),
    deadline,
  };
}
