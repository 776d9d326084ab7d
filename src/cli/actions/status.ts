import { JobDirectory } from '../../job/job-directory.js';
import { isComplete, revisionDuration, type Revision } from '../../job/revision.js';
import { formatTimestamp } from '../../util/logger.js';
import { formatBytes, formatSeconds } from '../../util/units.js';
import type { ActionContext } from '../context.js';
import { renderTable } from '../../util/table.js';

export async function status(context: ActionContext): Promise<number> {
  const job = new JobDirectory(context.jobPath);
  await job.ensureJob();
  const revisions = await job.revisions(context.logger);
  context.stdout.write(`${renderRevisionTable(revisions)}\n`);
  return 0;
}

/** The manual's `backy status` table and its summary line. */
export function renderRevisionTable(revisions: readonly Revision[]): string {
  const rows = revisions.map((r) => [
    formatTimestamp(r.timestamp),
    r.uuid,
    formatBytes(writtenBytes(r)),
    durationText(r),
    r.tags.join(','),
  ]);
  const table = renderTable(['Date (UTC)', 'ID', 'Size', 'Durat', 'Tags'], rows, ['left', 'left', 'right', 'right', 'left']);
  const total = revisions.reduce((sum, r) => sum + writtenBytes(r), 0);
  const count = `${revisions.length} revision${revisions.length === 1 ? '' : 's'}`;
  return `${table}\n${count} containing ${formatBytes(total)} data (estimated)`;
}

/** backy 2.x prints a revision without a duration (not complete) as `0 s`. */
function durationText(revision: Revision): string {
  return isComplete(revision) ? formatSeconds(revisionDuration(revision)) : '0 s';
}

function writtenBytes(revision: Revision): number {
  const value = Number(revision.stats.bytes_written ?? 0);
  return Number.isFinite(value) ? value : 0;
}
