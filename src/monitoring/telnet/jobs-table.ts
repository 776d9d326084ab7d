import { slaStatus } from '../../schedule/sla.js';
import type { JobStatus } from '../../scheduler/status-model.js';
import { formatTimestamp } from '../../util/logger.js';
import { renderTable } from '../../util/table.js';
import { formatSeconds } from '../../util/units.js';

const NONE = '-';
const HEAD = ['Job', 'SLA', 'Status', 'Last Backup (UTC)', 'Last Tags', 'Last Dur', 'Next Backup (UTC)', 'Next Tags'];

/**
 * The `jobs` command's output: the manual's table, sorted by job name, then
 * backy 2.x's `N jobs shown` line. Where backy 2.x prints `-` (no backup
 * yet, no next run), so does this.
 */
export function renderJobsTable(jobs: readonly JobStatus[], now: Date): string {
  const rows = [...jobs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((job) => {
      const last = job.lastBackup;
      return [
        job.name,
        slaStatus(job, now).ok ? 'OK' : 'TOO OLD',
        stateText(job, now),
        last ? formatTimestamp(last) : NONE,
        last ? job.lastTags.join(',') : NONE,
        last && job.lastDuration !== null ? formatSeconds(job.lastDuration) : NONE,
        job.nextBackup ? formatTimestamp(job.nextBackup) : NONE,
        job.nextTags.length > 0 ? job.nextTags.join(',') : NONE,
      ];
    });
  const table = renderTable(HEAD, rows, ['left', 'left', 'left', 'left', 'left', 'right', 'left', 'left']);
  return `${table}\n${rows.length} jobs shown`;
}

/**
 * `waiting`, `failed (retry 10:32)` (the date is added when the retry is not
 * due today, UTC); `[2 distrusted]` after it while the job holds revisions
 * that failed a check, as `backy status` marks them `[distrusted]`.
 */
function stateText(job: JobStatus, now: Date): string {
  const quarantine = job.distrustedRevisions > 0 ? ` [${job.distrustedRevisions} distrusted]` : '';
  if (job.state !== 'failed' || !job.retryAt) return `${job.state}${quarantine}`;
  const at = formatTimestamp(job.retryAt);
  const sameDay = at.slice(0, 10) === formatTimestamp(now).slice(0, 10);
  return `failed (retry ${sameDay ? at.slice(11, 16) : at.slice(0, 16)})${quarantine}`;
}
