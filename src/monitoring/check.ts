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
/** A status file written further ahead of this host's clock than this cannot be judged. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** How many jobs a list in the line names before "and N more". */
const NAMED_JOBS = 5;

export interface CheckOptions {
  /** The jobs of the configuration: those are judged, whatever the status file holds. */
  configuredJobs: readonly string[];
  maxStatusAgeSeconds?: number;
}

/**
 * Judges a status snapshot at `now` for the configured jobs: UNKNOWN when
 * the file was written in the future (the clocks disagree, so no age can
 * be trusted); CRITICAL when it is older than `maxStatusAgeSeconds`, a
 * configured job is not in it (the scheduler runs another configuration,
 * or skipped the job), any job is past its SLA (DESIGN.md's 1.5 ×
 * interval rule, recomputed here rather than trusted from the file), or
 * any job holds distrusted revisions (their data failed a check); OK
 * otherwise. Jobs of the file that are not configured are not judged, and
 * the line says so. Overdue jobs are named most overdue first, jobs with
 * distrusted revisions with their count, most first.
 */
export function evaluateCheck(snapshot: StatusSnapshot, now: Date, options: CheckOptions): CheckResult {
  const statusAge = (now.getTime() - snapshot.written.getTime()) / 1000;
  if (statusAge < -MAX_CLOCK_SKEW_SECONDS) {
    return unknownCheck(
      `status file written in the future (${formatTimestamp(snapshot.written)} UTC, ${formatSpan(-statusAge)} ahead of this host's clock): ` +
        "compare this host's clock with the scheduler's",
    );
  }
  const configured = new Set(options.configuredJobs);
  const inFile = new Set(snapshot.jobs.map((job) => job.name));
  const judgedJobs = snapshot.jobs.filter((job) => configured.has(job.name));
  const judged = judgedJobs.map((job) => ({ name: job.name, sla: slaStatus(job, now) }));
  const ignored = snapshot.jobs.filter((job) => !configured.has(job.name)).map((job) => job.name);
  const skippedBy = new Map(snapshot.scheduler.skipped.map((s) => [s.job, s.reason]));
  const absent = [...configured].filter((name) => !inFile.has(name)).sort(compareNames);
  const skipped = absent.filter((name) => skippedBy.has(name));
  const missing = absent.filter((name) => !skippedBy.has(name));
  const overdue = judged
    .filter((j) => !j.sla.ok)
    .sort((a, b) => b.sla.ageSeconds - a.sla.ageSeconds || compareNames(a.name, b.name));
  const oldest = judged.reduce((max, j) => Math.max(max, j.sla.ageSeconds), 0);
  const distrusted = judgedJobs
    .filter((job) => job.distrustedRevisions > 0)
    .sort((a, b) => b.distrustedRevisions - a.distrustedRevisions || compareNames(a.name, b.name));
  const unproven = judgedJobs.reduce(
    (max, job) => (job.verifiedSince ? Math.max(max, (now.getTime() - job.verifiedSince.getTime()) / 1000) : max),
    0,
  );
  const perfdata = performanceData({
    jobs: configured.size,
    overdue: overdue.length,
    oldestSeconds: oldest,
    distrusted: distrusted.reduce((sum, job) => sum + job.distrustedRevisions, 0),
    unprovenSeconds: unproven,
  });

  const problems: string[] = [];
  if (statusAge > (options.maxStatusAgeSeconds ?? STATUS_FILE_MAX_AGE_SECONDS)) {
    problems.push(
      `status file not updated for ${formatSpan(statusAge)} (written ${formatTimestamp(snapshot.written)} UTC): ` +
        'the scheduler is dead or hung',
    );
  }
  if (missing.length > 0) {
    problems.push(
      `${missing.length} of ${jobCount(configured.size)} not in the status file: ${named(missing)} ` +
        '(the scheduler runs another configuration: reload it)',
    );
  }
  if (skipped.length > 0) {
    problems.push(`${skipped.length} of ${jobCount(configured.size)} skipped by the scheduler: ${named(skipped)} (see its log)`);
  }
  if (overdue.length > 0) problems.push(`${overdue.length} of ${jobCount(configured.size)} overdue: ${named(overdue.map((j) => j.name))}`);
  if (distrusted.length > 0) {
    problems.push(
      `${distrusted.length} of ${jobCount(configured.size)} with distrusted revisions: ` +
        named(distrusted.map((job) => `${job.name} (${job.distrustedRevisions})`)),
    );
  }
  const note = ignored.length > 0 ? ` (ignoring ${jobCount(ignored.length)} of the status file not in the configuration: ${named(ignored.sort(compareNames))})` : '';
  if (problems.length > 0) return result(CheckCode.CRITICAL, `CRITICAL: ${problems.join('; ')}${note}`, perfdata);
  if (configured.size === 0) return result(CheckCode.OK, `OK: no jobs configured${note}`, perfdata);
  const all = configured.size === 1 ? '' : 'all ';
  return result(CheckCode.OK, `OK: ${all}${jobCount(configured.size)} within SLA${note}`, perfdata);
}

/** The answer when there is nothing to judge (configuration or status file unusable). */
export function unknownCheck(reason: string): CheckResult {
  return result(CheckCode.UNKNOWN, `UNKNOWN: ${reason}`, null);
}

interface Figures {
  jobs: number;
  overdue: number;
  /** Age of the oldest newest backup. */
  oldestSeconds: number;
  /** Distrusted revisions of all judged jobs. */
  distrusted: number;
  /** Since when the least recently proven revision has not proved its bytes (scrubbing keeps it under scrub-interval). */
  unprovenSeconds: number;
}

/**
 * Nagios perfdata, `'label'=value[UOM];[warn];[crit];[min];[max]`: the crit
 * range `0` on `overdue` and `distrusted` says any one is critical.
 */
function performanceData(f: Figures): string {
  return (
    `jobs=${f.jobs};;;0 overdue=${f.overdue};;0;0;${f.jobs} oldest_backup_age=${Math.floor(f.oldestSeconds)}s;;;0 ` +
    `distrusted=${f.distrusted};;0;0 oldest_verification_age=${Math.floor(f.unprovenSeconds)}s;;;0`
  );
}

function result(code: CheckCode, text: string, perfdata: string | null): CheckResult {
  // `|` starts the perfdata and a newline ends the first line: keep both out of the text.
  const clean = text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ');
  return { code, line: perfdata === null ? clean : `${clean} | ${perfdata}` };
}

/** The first few names, then a count of the rest. */
function named(names: readonly string[]): string {
  const shown = names.slice(0, NAMED_JOBS);
  const more = names.length - shown.length;
  return `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function jobCount(count: number): string {
  return `${count} job${count === 1 ? '' : 's'}`;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
