import type { RevisionRecord } from '../../job/revision-report.js';
import { slaStatus } from '../../schedule/sla.js';
import type { JobDetail, JobStatus, SchedulerStatus } from '../../scheduler/status-model.js';
import { formatTimestamp } from '../../util/logger.js';
import { formatBytes, formatSeconds } from '../../util/units.js';
import { jobCounts } from '../job-record.js';

/**
 * The dashboard's pages, rendered by the scheduler (no assets from
 * anywhere else): the jobs with their SLA in colour, one page per job with
 * its revisions and plots. Everything from the jobs and their `.rev` files
 * is escaped; the pages carry no inline script (the CSP forbids it).
 */

/** Seconds between the pages' own reloads. */
export const REFRESH_SECONDS = 30;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, options: { refresh?: boolean; charts?: boolean } = {}): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    options.refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">` : '',
    '<link rel="stylesheet" href="/assets/dashboard.css">',
    options.charts ? '<link rel="stylesheet" href="/assets/uPlot.min.css"><script src="/assets/uPlot.iife.min.js"></script>' : '',
    '<script type="module" src="/assets/dashboard.js"></script>',
    `</head><body>${body}</body></html>`,
  ].join('\n');
}

const when = (date: Date | null) => (date ? `${formatTimestamp(date)}` : '');

function slaCell(job: JobStatus, now: Date): string {
  const ok = slaStatus(job, now).ok;
  return `<td class="sla ${ok ? 'sla-ok' : 'sla-late'}">${ok ? 'OK' : 'TOO OLD'}</td>`;
}

export function jobsPage(status: SchedulerStatus, jobs: readonly JobStatus[], now: Date, filter: string): string {
  const shown = jobs.filter((job) => job.name.toLowerCase().includes(filter.toLowerCase()));
  const { overdue, failed } = jobCounts(jobs, now);
  const rows = shown.map((job) =>
    [
      `<tr data-job="${escapeHtml(job.name)}">`,
      `<td><a href="/jobs/${encodeURIComponent(job.name)}">${escapeHtml(job.name)}</a></td>`,
      slaCell(job, now),
      `<td class="state state-${job.state}">${job.state}${job.failures > 0 ? ` (${job.failures} failed)` : ''}</td>`,
      `<td>${when(job.lastBackup)}</td><td>${escapeHtml(job.lastTags.join(','))}</td>`,
      `<td class="num">${job.lastDuration === null ? '' : formatSeconds(job.lastDuration)}</td>`,
      `<td>${when(job.nextBackup)}</td><td>${escapeHtml(job.nextTags.join(','))}</td>`,
      '</tr>',
    ].join(''),
  );
  const skipped = status.skipped.map((s) => `<li>${escapeHtml(s.reason)}</li>`).join('');
  return layout(
    'backy: jobs',
    [
      `<header><h1>backy ${escapeHtml(status.version)}</h1>`,
      `<p class="summary">${jobs.length} jobs: <span class="${overdue > 0 ? 'sla-late' : 'sla-ok'}">${overdue} overdue</span>, ${failed} failing; ` +
        `${status.running.length} of ${status.workerLimit} workers busy, ${status.queued.length} queued. As of ${formatTimestamp(now)} UTC.</p></header>`,
      skipped ? `<section class="skipped"><h2>Skipped</h2><ul>${skipped}</ul></section>` : '',
      `<form method="get" action="/" class="filter"><label>Filter by name <input type="search" name="filter" id="filter" value="${escapeHtml(filter)}" autocomplete="off"></label></form>`,
      '<table id="jobs"><thead><tr><th>Job</th><th>SLA</th><th>Status</th><th>Last backup (UTC)</th><th>Last tags</th><th>Last duration</th><th>Next backup (UTC)</th><th>Next tags</th></tr></thead>',
      `<tbody>${rows.join('\n')}</tbody></table>`,
    ].join('\n'),
    { refresh: true },
  );
}

function revisionRow(revision: RevisionRecord): string {
  return [
    `<tr class="${revision.trust === 'distrusted' || revision.unreadable ? 'distrusted' : ''}">`,
    `<td>${revision.timestamp === null ? '-' : escapeHtml(formatTimestamp(new Date(revision.timestamp)))}</td><td><code>${escapeHtml(revision.uuid)}</code></td>`,
    `<td>${escapeHtml(revision.tags.join(','))}</td>`,
    `<td class="num">${revision.size === null ? 'missing' : formatBytes(revision.size)}</td>`,
    `<td class="num">${revision.duration === null ? (revision.complete ? '' : 'incomplete') : formatSeconds(revision.duration)}</td>`,
    `<td class="num">${revision.bytes_written === null ? '' : formatBytes(revision.bytes_written)}</td>`,
    `<td>${revision.unreadable === null ? revision.trust : `unreadable .rev: ${escapeHtml(revision.unreadable)}`}</td>`,
    '</tr>',
  ].join('');
}

export function jobPage(detail: JobDetail, now: Date): string {
  const { job, revisions, failures } = detail;
  const complete = revisions.filter((r) => r.complete && r.duration !== null);
  // For the plots (dashboard.js): seconds since the epoch, durations, bytes written.
  const series = {
    time: complete.map((r) => new Date(r.timestamp ?? 0).getTime() / 1000),
    duration: complete.map((r) => r.duration),
    written: complete.map((r) => r.bytes_written),
  };
  const failureItems = failures
    .slice()
    .reverse()
    .map((f) => `<li>${escapeHtml(formatTimestamp(f.at))} UTC: ${escapeHtml(f.reason)}</li>`)
    .join('');
  return layout(
    `backy: ${job.name}`,
    [
      `<header><p><a href="/">all jobs</a></p><h1>${escapeHtml(job.name)}</h1>`,
      `<table class="facts"><tr><th>SLA</th>${slaCell(job, now)}</tr>`,
      `<tr><th>Status</th><td>${job.state}${job.failures > 0 ? ` (${job.failures} failed)` : ''}</td></tr>`,
      `<tr><th>Schedule</th><td>${escapeHtml(job.schedule)}</td></tr>`,
      `<tr><th>Last backup</th><td>${when(job.lastBackup)} UTC ${escapeHtml(job.lastTags.join(','))}</td></tr>`,
      `<tr><th>Next backup</th><td>${when(job.nextBackup)} UTC ${escapeHtml(job.nextTags.join(','))}</td></tr></table></header>`,
      '<section class="charts"><div class="chart" id="chart-duration" data-series="duration" data-title="Backup duration (s)"></div>',
      '<div class="chart" id="chart-written" data-series="written" data-title="Bytes written"></div></section>',
      // Script content is not HTML: no entities, but nothing may end the element early.
      `<script type="application/json" id="series">${JSON.stringify(series).replace(/</g, '\\u003c')}</script>`,
      failureItems ? `<section><h2>Recent failures</h2><ul class="failures">${failureItems}</ul></section>` : '',
      `<h2>Revisions (${revisions.length})</h2>`,
      '<table id="revisions"><thead><tr><th>Date (UTC)</th><th>ID</th><th>Tags</th><th>Size</th><th>Duration</th><th>Written</th><th>Trust</th></tr></thead>',
      `<tbody>${revisions.slice().reverse().map(revisionRow).join('\n')}</tbody></table>`,
    ].join('\n'),
    { refresh: true, charts: true },
  );
}

/** A job page for a name the scheduler does not know (a stale link, a job removed from the configuration). */
export function noSuchJobPage(name: string): string {
  return layout('backy: no such job', `<h1>backy</h1>\n<p class="sla-late">No job named "${escapeHtml(name)}" in this scheduler's configuration.</p>\n<p><a href="/">All jobs</a></p>`);
}

export function loginPage(next: string, failed: boolean): string {
  return layout(
    'backy: sign in',
    [
      '<h1>backy</h1>',
      failed ? '<p class="sla-late">That token is not in the token file.</p>' : '',
      '<form method="post" action="/login" class="login">',
      `<input type="hidden" name="next" value="${escapeHtml(next)}">`,
      '<label>API token <input type="password" name="token" autofocus required></label> <button type="submit">Sign in</button>',
      '</form>',
    ].join('\n'),
  );
}

export const DASHBOARD_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }
h1 { margin: 0 0 .3em; font-size: 1.5em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: left; white-space: nowrap; }
th { background: #f3f3f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sla-ok { color: #0a7d29; font-weight: 600; }
.sla-late { color: #b00020; font-weight: 600; }
td.sla-ok { background: #e3f6e8; }
td.sla-late { background: #fde4e7; }
.state-failed { color: #b00020; }
.state-running { color: #0050a0; }
tr.distrusted td { background: #fff3cd; }
.filter { margin: 1em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 2em; }
.chart { min-width: 480px; }
.chart h3 { margin: 0; font-size: 1em; }
tr[hidden] { display: none; }
`;
