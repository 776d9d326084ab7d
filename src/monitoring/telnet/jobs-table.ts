import { slaStatus } from '../../schedule/sla.js';
import type { JobStatus } from '../../scheduler/status-model.js';
import { formatTimestamp } from '../../util/logger.js';
import { renderTable } from '../../util/table.js';
import { formatSeconds } from '../../util/units.js';

const HEAD = ['Job', 'SLA', 'Status', 'Last Backup (UTC)', 'Last Tags', 'Last Dur', 'Next Backup (UTC)', 'Next Tags'];

/**
 * The `jobs` command's output: the manual's table, sorted by job name, then
 * backy 2.x's `N jobs shown` line. Cells without a value (no backup yet)
 * read `-`, as in backy 2.x.
 */
export function renderJobsTable(jobs: readonly JobStatus[], now: Date): string {
  const rows = [...jobs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((job) =>
      [
        job.name,
        slaStatus(job, now).ok ? 'OK' : 'TOO OLD',
        stateText(job, now),
        job.lastBackup ? formatTimestamp(job.lastBackup) : '',
        job.lastTags.join(','),
        job.lastDuration === null ? '' : formatSeconds(job.lastDuration),
        job.nextBackup ? formatTimestamp(job.nextBackup) : '',
        job.nextTags.join(','),
      ].map((cell) => cell || '-'),
    );
  const table = renderTable(HEAD, rows, ['left', 'left', 'left', 'left', 'left', 'right', 'left', 'left']);
  return `${table}\n${rows.length} jobs shown`;
}

/** `failed (retry 10:32)`; the date is added when the retry is not due today (UTC). */
function stateText(job: JobStatus, now: Date): string {
  if (job.state !== 'failed' || !job.retryAt) return job.state;
  const at = formatTimestamp(job.retryAt);
  const sameDay = at.slice(0, 10) === formatTimestamp(now).slice(0, 10);
  return `failed (retry ${sameDay ? at.slice(11, 16) : at.slice(0, 16)})`;
}
