import { believable, JobDirectory, type JobScan } from '../../job/job-directory.js';
import { isComplete, revisionDuration, type Revision } from '../../job/revision.js';
import { systemClock } from '../../util/clock.js';
import { formatTimestamp } from '../../util/logger.js';
import { formatBytes, formatSeconds } from '../../util/units.js';
import type { ActionContext } from '../context.js';
import { printable } from '../../util/printable.js';
import { renderTable } from '../../util/table.js';
import { reportRevisions } from '../../job/revision-report.js';
import { renderData, type DataFormat } from '../render/structured.js';
import { ChunkedStore, type PoolUsage } from '../../store/chunked/chunked-store.js';
import { StoreSet } from '../../store/store-set.js';

export async function status(context: ActionContext, format: DataFormat | null = null): Promise<number> {
  const job = new JobDirectory(context.jobPath);
  await job.ensureJob();
  if (format) {
    context.stdout.write(await renderData(await reportRevisions(job, context.logger), format));
    return 0;
  }
  const store = await job.store();
  const scan = await job.scan(context.logger);
  const present = await store.present(scan.listing);
  // An incomplete revision may be a backup still running: its data comes and goes.
  const missing = new Set(scan.revisions.filter((r) => isComplete(r) && !present.has(r.uuid)).map((r) => r.uuid));
  const now = systemClock.now();
  const future = new Set(scan.revisions.filter((r) => !believable([r], now).length).map((r) => r.uuid));
  for (const id of future) context.logger.warn(`revision ${id} is dated in the future; it is not taken for the last revision`);
  const marks = (revision: Revision): string[] => [
    ...(revision.trust === 'distrusted' ? ['distrusted'] : []),
    ...(missing.has(revision.uuid) ? ['data missing'] : []),
    ...(future.has(revision.uuid) ? ['in the future'] : []),
  ];
  const chunked = store instanceof StoreSet ? store.member('chunked') : undefined;
  const usage = chunked instanceof ChunkedStore ? await chunked.usage(scan.revisions.map((r) => ({ id: r.uuid, root: r.hashes?.root ?? null })), scan.listing) : null;
  const usageLine = chunked instanceof ChunkedStore ? describeUsage(usage) : null;
  context.stdout.write(`${renderRevisionTable(scan, marks)}${usageLine ? `\n${usageLine}` : ''}\n`);
  return 0;
}

/** What a chunked job really takes: its revisions' distinct chunks, however many revisions (and jobs) share each. */
function describeUsage(usage: PoolUsage | null): string | null {
  if (usage === null) return 'space used in the chunk pool not counted: more indexes than status reads (backy gc counts the chunks in use)';
  if (usage.unreadable) return `space used in the chunk pool not counted: ${usage.unreadable}`;
  if (usage.chunks === 0) return null;
  return `${formatBytes(usage.bytes)} used in the chunk pool by ${usage.chunks} distinct chunk${usage.chunks === 1 ? '' : 's'}`;
}

/**
 * The manual's `backy status` table and its summary line. What a revision
 * needs the operator's attention for is marked in its Tags cell (the
 * manual's columns stay): `[distrusted]`, `[data missing]`, `[in the
 * future]`; `.rev` files that cannot be read are listed after the others.
 */
export function renderRevisionTable(scan: JobScan, marks: (revision: Revision) => string[] = () => []): string {
  const rows = scan.revisions.map((r) => [
    formatTimestamp(r.timestamp),
    r.uuid,
    formatBytes(writtenBytes(r)),
    durationText(r),
    [r.tags.map(printable).join(','), ...marks(r).map((mark) => `[${mark}]`)].filter((cell) => cell.length > 0).join(' '),
  ]);
  for (const broken of scan.unreadable) rows.push(['-', broken.id, '-', '-', '[unreadable .rev]']);
  const table = renderTable(['Date (UTC)', 'ID', 'Size', 'Durat', 'Tags'], rows, ['left', 'left', 'right', 'right', 'left']);
  const total = scan.revisions.reduce((sum, r) => sum + writtenBytes(r), 0);
  // backy 2.x's words, "1 revisions" included: scripts read this line.
  const count = `${scan.revisions.length} revisions`;
  const unreadable = scan.unreadable.length > 0 ? `, ${scan.unreadable.length} unreadable` : '';
  return `${table}\n${count} containing ${formatBytes(total)} data (estimated)${unreadable}`;
}

/** backy 2.x prints a revision without a duration (not complete) as `0 s`. */
function durationText(revision: Revision): string {
  return isComplete(revision) ? formatSeconds(revisionDuration(revision)) : '0 s';
}

/** A chunked revision's size is what it added to the pool (compressed); a cow revision's, what it wrote. */
function writtenBytes(revision: Revision): number {
  const value = Number(revision.stats.bytes_added ?? revision.stats.bytes_written ?? 0);
  return Number.isFinite(value) ? value : 0;
}
