import { formatDuration } from '../../schedule/duration.js';
import type { JobStatus, SchedulerStatus, ScrubStatus } from '../../scheduler/status-model.js';
import { formatTimestamp } from '../../util/logger.js';
import { renderTable } from '../../util/table.js';
import { formatBytes } from '../../util/units.js';
import { formatSpan } from '../duration-text.js';
import { jobCounts } from '../job-record.js';

const NONE = '-';

/**
 * The telnet `status` command: the scheduler's workers, queue, running
 * backups, scrubbing, uptime and configuration, then when each job's
 * revisions last proved their bytes.
 */
export function renderStatusReport(status: SchedulerStatus, jobs: readonly JobStatus[], now: Date): string {
  const secondsSince = (date: Date) => (now.getTime() - date.getTime()) / 1000;
  const busy = status.running.length;
  const scrubbing = status.scrub.running.length;
  const idle = Math.max(0, status.workerLimit - busy - scrubbing);
  const { overdue, failed } = jobCounts(jobs, now);
  const workers = scrubbing === 0 ? `${busy} busy` : `${busy + scrubbing} busy (${scrubbing} scrubbing)`;
  const fields: Array<[string, string]> = [
    ['Scheduler', `backy ${status.version}, pid ${status.pid}`],
    ['Uptime', `${formatSpan(secondsSince(status.started))} (started ${formatTimestamp(status.started)} UTC)`],
    ['Configuration', `${status.configPath} (loaded ${formatTimestamp(status.configLoaded)} UTC)`],
    ['Workers', `${workers}, ${idle} idle (worker-limit ${status.workerLimit})`],
    ['Jobs', `${jobs.length} (${overdue} overdue, ${failed} failed)`],
    ['Queued', status.queued.length === 0 ? 'none' : `${status.queued.length}: ${status.queued.join(', ')}`],
    ['Running', busy === 0 ? 'none' : String(busy)],
  ];
  // Only when there are: the manual's report has no such line.
  if (status.skipped.length > 0) fields.push(['Skipped', `${status.skipped.length}: ${status.skipped.map((s) => s.job).join(', ')} (see the log)`]);
  const width = Math.max(...fields.map(([label]) => label.length), 'Scrubbing'.length) + 2;
  const line = (label: string, value: string) => `${`${label}:`.padEnd(width)}${value}`;
  const lines = fields.map(([label, value]) => line(label, value));
  if (busy > 0) {
    const rows = [...status.running]
      .sort((a, b) => a.started.getTime() - b.started.getTime())
      .map((r) => [r.job, r.tags.join(','), formatTimestamp(r.started), formatSpan(secondsSince(r.started)), r.pid === null ? '' : String(r.pid)]);
    lines.push(renderTable(['Job', 'Tags', 'Started (UTC)', 'Elapsed', 'PID'], rows, ['left', 'left', 'left', 'right', 'right']));
  }
  lines.push(line('Scrubbing', scrubText(status.scrub, secondsSince)));
  if (jobs.length > 0) lines.push(verificationTable(jobs));
  return lines.join('\n');
}

/** `every 30d, budget 1.33 GiB a day, 1.00 GiB read today; running: vm03 (revision ID, 2m 13s, pid 4803)` */
function scrubText(scrub: ScrubStatus, secondsSince: (date: Date) => number): string {
  if (scrub.intervalSeconds === null) return 'off (scrub-interval 0)';
  const period = scrub.periodSeconds ?? 86400;
  const [per, within] = period === 86400 ? ['a day', 'today'] : [`per ${formatDuration(period)}`, `in this ${formatDuration(period)}`];
  const running = scrub.running.map((s) => `${s.job} (revision ${s.revision}, ${formatSpan(secondsSince(s.started))}${s.pid === null ? '' : `, pid ${s.pid}`})`);
  return (
    `every ${formatDuration(scrub.intervalSeconds)}, budget ${formatBytes(scrub.budgetBytes)} ${per}, ${formatBytes(scrub.readBytes)} read ${within}; ` +
    `running: ${running.length === 0 ? 'none' : running.join(', ')}`
  );
}

/** Per job: when a revision last proved its bytes, since when all have, and how many failed. */
function verificationTable(jobs: readonly JobStatus[]): string {
  const time = (date: Date | null) => (date ? formatTimestamp(date) : NONE);
  const rows = [...jobs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((job) => [job.name, time(job.lastVerified), time(job.verifiedSince), String(job.distrustedRevisions)]);
  return renderTable(['Job', 'Last Verified (UTC)', 'All Verified Since (UTC)', 'Distrusted'], rows, ['left', 'left', 'left', 'right']);
}
