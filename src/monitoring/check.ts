import { slaStatus } from '../schedule/sla.js';
import type { StatusSnapshot } from '../scheduler/status-model.js';
import { formatTimestamp } from '../util/logger.js';
import { formatSpan } from './duration-text.js';

/** Nagios plugin exit codes (backy check never says WARNING). */
export const CheckCode = { OK: 0, CRITICAL: 2, UNKNOWN: 3 } as const;
export type CheckCode = (typeof CheckCode)[keyof typeof CheckCode];

export interface CheckResult {
  code: CheckCode;
  /** The one line of plugin output: `STATE: text | perfdata` (no newline). */
  line: string;
}

/** A status file older than this means the scheduler is dead or hung. */
export const STATUS_FILE_MAX_AGE_SECONDS = 300;

/** How many overdue jobs the line names before "and N more". */
const NAMED_OVERDUE_JOBS = 5;

/**
 * Judges a status snapshot at `now`: CRITICAL when the status file is older
 * than `maxStatusAgeSeconds` or any job is past its SLA (DESIGN.md's 1.5 ×
 * interval rule, recomputed here rather than trusted from the file), OK
 * otherwise. Overdue jobs are named most overdue first.
 */
export function evaluateCheck(
  snapshot: StatusSnapshot,
  now: Date,
  maxStatusAgeSeconds: number = STATUS_FILE_MAX_AGE_SECONDS,
): CheckResult {
  const judged = snapshot.jobs.map((job) => ({ name: job.name, sla: slaStatus(job, now) }));
  const overdue = judged
    .filter((j) => !j.sla.ok)
    .sort((a, b) => b.sla.ageSeconds - a.sla.ageSeconds || compareNames(a.name, b.name));
  const oldest = judged.reduce((max, j) => Math.max(max, j.sla.ageSeconds), 0);
  const perfdata = performanceData(judged.length, overdue.length, oldest);

  const problems: string[] = [];
  const statusAge = (now.getTime() - snapshot.written.getTime()) / 1000;
  if (statusAge > maxStatusAgeSeconds) {
    problems.push(
      `status file not updated for ${formatSpan(statusAge)} (written ${formatTimestamp(snapshot.written)} UTC): ` +
        'the scheduler is dead or hung',
    );
  }
  if (overdue.length > 0) {
    const named = overdue.slice(0, NAMED_OVERDUE_JOBS).map((j) => j.name);
    const more = overdue.length - named.length;
    problems.push(
      `${overdue.length} of ${jobCount(judged.length)} overdue: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}`,
    );
  }
  if (problems.length > 0) return result(CheckCode.CRITICAL, `CRITICAL: ${problems.join('; ')}`, perfdata);
  if (judged.length === 0) return result(CheckCode.OK, 'OK: no jobs configured', perfdata);
  const all = judged.length === 1 ? '' : 'all ';
  return result(CheckCode.OK, `OK: ${all}${jobCount(judged.length)} within SLA`, perfdata);
}

/** The answer when there is nothing to judge (configuration or status file unusable). */
export function unknownCheck(reason: string): CheckResult {
  return result(CheckCode.UNKNOWN, `UNKNOWN: ${reason}`, null);
}

/**
 * Nagios perfdata, `'label'=value[UOM];[warn];[crit];[min];[max]`: the crit
 * range `0` on `overdue` says any overdue job is critical.
 */
function performanceData(jobs: number, overdue: number, oldestSeconds: number): string {
  return `jobs=${jobs};;;0 overdue=${overdue};;0;0;${jobs} oldest_backup_age=${Math.floor(oldestSeconds)}s;;;0`;
}

function result(code: CheckCode, text: string, perfdata: string | null): CheckResult {
  // `|` starts the perfdata and a newline ends the first line: keep both out of the text.
  const clean = text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ');
  return { code, line: perfdata === null ? clean : `${clean} | ${perfdata}` };
}

function jobCount(count: number): string {
  return `${count} job${count === 1 ? '' : 's'}`;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
