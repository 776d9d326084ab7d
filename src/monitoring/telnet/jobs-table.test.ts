import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatus as job } from '../../../test/helpers/job-status.js';
import { FIXTURE_NOW, fixtureView, MANUAL_JOBS_OUTPUT } from '../../../test/monitoring/fixture-view.js';
import { renderJobsTable } from './jobs-table.js';

test("the manual's example table and backy 2.x's count line, exactly (rows given unsorted)", () => {
  const manualJobs = fixtureView()
    .jobs()
    .filter((j) => j.name.startsWith('test'))
    .reverse();
  assert.equal(renderJobsTable(manualJobs, FIXTURE_NOW), MANUAL_JOBS_OUTPUT);
});

test('overdue, never backed up, queued, running and failed jobs, distrusted revisions in the Status cell; `-` where there is nothing to show', () => {
  const now = new Date('2026-01-10T10:00:00Z');
  const jobs = [
    job({ name: 'vm-new', firstSeen: new Date('2026-01-10T09:00:00Z'), state: 'queued', nextTags: ['daily'] }),
    job({
      name: 'vm-old',
      state: 'failed',
      failures: 2,
      retryAt: new Date('2026-01-10T10:32:00Z'),
      lastBackup: new Date('2026-01-08T10:00:00Z'),
      lastTags: ['daily'],
      lastDuration: 1234.56,
      nextBackup: new Date('2026-01-10T10:32:00Z'),
      nextTags: ['daily'],
    }),
    job({ name: 'vm-late', state: 'failed', retryAt: new Date('2026-01-11T00:05:00Z'), firstSeen: new Date('2026-01-01T00:00:00Z') }),
    job({ name: 'vm-busy', state: 'running', lastBackup: new Date('2026-01-10T09:00:00Z'), lastDuration: 0, lastTags: ['a', 'b'] }),
    job({ name: 'vm-rot', lastBackup: new Date('2026-01-10T08:00:00Z'), lastDuration: 12, lastTags: ['daily'], distrustedRevisions: 2 }),
    job({ name: 'vm-worse', state: 'failed', retryAt: new Date('2026-01-10T10:32:00Z'), firstSeen: new Date('2026-01-10T00:00:00Z'), distrustedRevisions: 1 }),
  ];
  assert.equal(
    renderJobsTable(jobs, now),
    [
      '+----------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+-----------+',
      '| Job      | SLA     | Status                              | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags |',
      '+----------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+-----------+',
      '| vm-busy  | OK      | running                             | 2026-01-10 09:00:00 | a,b       |    0.0 s | -                   | -         |',
      '| vm-late  | TOO OLD | failed (retry 2026-01-11 00:05)     | -                   | -         |        - | -                   | -         |',
      '| vm-new   | OK      | queued                              | -                   | -         |        - | -                   | daily     |',
      '| vm-old   | TOO OLD | failed (retry 10:32)                | 2026-01-08 10:00:00 | daily     | 1234.6 s | 2026-01-10 10:32:00 | daily     |',
      '| vm-rot   | OK      | waiting [2 distrusted]              | 2026-01-10 08:00:00 | daily     |   12.0 s | -                   | -         |',
      '| vm-worse | OK      | failed (retry 10:32) [1 distrusted] | -                   | -         |        - | -                   | -         |',
      '+----------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+-----------+',
      '6 jobs shown',
    ].join('\n'),
  );
});

test('no jobs: the header, the bottom rule and "0 jobs shown"; a last revision without tags shows an empty cell, as in backy 2.x', () => {
  const now = new Date('2026-01-10T10:00:00Z');
  const rule = '+-----+-----+--------+-------------------+-----------+----------+-------------------+-----------+';
  assert.equal(
    renderJobsTable([], now),
    [rule, '| Job | SLA | Status | Last Backup (UTC) | Last Tags | Last Dur | Next Backup (UTC) | Next Tags |', rule, rule, '0 jobs shown'].join('\n'),
  );
  const untagged = job({ name: 'a', lastBackup: new Date('2026-01-10T09:00:00Z'), lastDuration: 2, nextBackup: new Date('2026-01-11T09:00:00Z'), nextTags: ['daily'] });
  assert.equal(
    renderJobsTable([untagged], now).split('\n')[3],
    '| a   | OK  | waiting | 2026-01-10 09:00:00 |           |    2.0 s | 2026-01-11 09:00:00 | daily     |',
  );
});
