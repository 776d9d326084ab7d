import { slaStatus } from '../../schedule/sla.js';
import type { JobStatus, SchedulerStatus } from '../../scheduler/status-model.js';
import { formatTimestamp } from '../../util/logger.js';
import { renderTable } from '../../util/table.js';
import { formatSpan } from '../duration-text.js';

/** The telnet `status` command: the scheduler's workers, queue, running backups, uptime and configuration. */
export function renderStatusReport(status: SchedulerStatus, jobs: readonly JobStatus[], now: Date): string {
  const secondsSince = (date: Date) => (now.getTime() - date.getTime()) / 1000;
  const busy = status.running.length;
  const idle = Math.max(0, status.workerLimit - busy);
  const overdue = jobs.filter((job) => !slaStatus(job, now).ok).length;
  const failed = jobs.filter((job) => job.state === 'failed').length;
  const fields: Array<[string, string]> = [
    ['Scheduler', `backy ${status.version}, pid ${status.pid}`],
    ['Uptime', `${formatSpan(secondsSince(status.started))} (started ${formatTimestamp(status.started)} UTC)`],
    ['Configuration', `${status.configPath} (loaded ${formatTimestamp(status.configLoaded)} UTC)`],
    ['Workers', `${busy} busy, ${idle} idle (worker-limit ${status.workerLimit})`],
    ['Jobs', `${jobs.length} (${overdue} overdue, ${failed} failed)`],
    ['Queued', status.queued.length === 0 ? 'none' : `${status.queued.length}: ${status.queued.join(', ')}`],
    ['Running', busy === 0 ? 'none' : String(busy)],
  ];
  // Only when there are: the manual's report has no such line.
  if (status.skipped.length > 0) fields.push(['Skipped', `${status.skipped.length}: ${status.skipped.map((s) => s.job).join(', ')} (see the log)`]);
  const width = Math.max(...fields.map(([label]) => label.length)) + 2;
  const lines = fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`);
  if (busy > 0) {
    const rows = [...status.running]
      .sort((a, b) => a.started.getTime() - b.started.getTime())
      .map((r) => [r.job, r.tags.join(','), formatTimestamp(r.started), formatSpan(secondsSince(r.started)), r.pid === null ? '' : String(r.pid)]);
    lines.push(renderTable(['Job', 'Tags', 'Started (UTC)', 'Elapsed', 'PID'], rows, ['left', 'left', 'left', 'right', 'right']));
  }
  return lines.join('\n');
}
