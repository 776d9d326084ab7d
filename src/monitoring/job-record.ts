import { slaStatus } from '../schedule/sla.js';
import type { JobStatus } from '../scheduler/status-model.js';
import { encodeJob } from '../scheduler/status-wire.js';

/**
 * One job as scripts get it (`backy jobs --json`, the HTTP API): its status
 * file record and its SLA judged at `now`, as telnet `jobs` shows it.
 */
export function jobRecord(job: JobStatus, now: Date): Record<string, unknown> {
  const sla = slaStatus(job, now);
  return { ...encodeJob(job), sla: { ok: sla.ok, age_seconds: Math.floor(sla.ageSeconds), deadline: sla.deadline.toISOString() } };
}

/** The jobs as telnet `status` counts them: all, overdue (outside their SLA at `now`), failed. */
export function jobCounts(jobs: readonly JobStatus[], now: Date): { total: number; overdue: number; failed: number } {
  return {
    total: jobs.length,
    overdue: jobs.filter((job) => !slaStatus(job, now).ok).length,
    failed: jobs.filter((job) => job.state === 'failed').length,
  };
}
