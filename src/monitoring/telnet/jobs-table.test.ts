import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobStatus } from '../../scheduler/status-model.js';
import { renderJobsTable } from './jobs-table.js';

function job(fields: Partial<JobStatus> & { name: string }): JobStatus {
  return {
    schedule: 'default',
    slaIntervalSeconds: 86400,
    firstSeen: new Date('2015-11-01T00:00:00Z'),
    state: 'waiting',
    retryAt: null,
    failures: 0,
    lastBackup: null,
    lastTags: [],
    lastDuration: null,
    nextBackup: null,
    nextTags: [],
    ...fields,
  };
}

test("the manual's example table, exactly (rows given unsorted)", () => {
  const now = new Date('2015-11-06T10:00:00Z');
  const jobs = [
    job({
      name: 'test03',
      slaIntervalSeconds: 3600,
      lastBackup: new Date('2015-11-06T09:49:27Z'),
      lastTags: ['hourly'],
      lastDuration: 17.7,
      nextBackup: new Date('2015-11-06T10:15:09Z'),
      nextTags: ['hourly'],
    }),
    job({
      name: 'test01',
      lastBackup: new Date('2015-11-05T11:56:10Z'),
      lastTags: ['daily'],
      lastDuration: 50.7,
      nextBackup: new Date('2015-11-06T11:56:10Z'),
      nextTags: ['daily', 'weekly'],
    }),
    job({
      name: 'test02',
      lastBackup: new Date('2015-11-05T10:32:03Z'),
      lastTags: ['daily'],
      lastDuration: 88.08,
      nextBackup: new Date('2015-11-06T10:32:03Z'),
      nextTags: ['daily'],
    }),
  ];
  assert.equal(
    renderJobsTable(jobs, now),
    [
      '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
      '| Job    | SLA | Status  | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags    |',
      '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
      '| test01 | OK  | waiting | 2015-11-05 11:56:10 | daily     |   50.7 s | 2015-11-06 11:56:10 | daily,weekly |',
      '| test02 | OK  | waiting | 2015-11-05 10:32:03 | daily     |   88.1 s | 2015-11-06 10:32:03 | daily        |',
      '| test03 | OK  | waiting | 2015-11-06 09:49:27 | hourly    |   17.7 s | 2015-11-06 10:15:09 | hourly       |',
      '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
    ].join('\n'),
  );
});

test('overdue, never backed up, queued, running and failed jobs', () => {
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
  ];
  assert.equal(
    renderJobsTable(jobs, now),
    [
      '+---------+---------+---------------------------------+---------------------+-----------+----------+---------------------+-----------+',
      '| Job     | SLA     | Status                          | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags |',
      '+---------+---------+---------------------------------+---------------------+-----------+----------+---------------------+-----------+',
      '| vm-busy | OK      | running                         | 2026-01-10 09:00:00 | a,b       |    0.0 s |                     |           |',
      '| vm-late | TOO OLD | failed (retry 2026-01-11 00:05) |                     |           |          |                     |           |',
      '| vm-new  | OK      | queued                          |                     |           |          |                     | daily     |',
      '| vm-old  | TOO OLD | failed (retry 10:32)            | 2026-01-08 10:00:00 | daily     | 1234.6 s | 2026-01-10 10:32:00 | daily     |',
      '+---------+---------+---------------------------------+---------------------+-----------+----------+---------------------+-----------+',
    ].join('\n'),
  );
});
