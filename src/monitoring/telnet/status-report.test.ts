import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatus } from '../../../test/helpers/job-status.js';
import type { JobStatus, SchedulerStatus } from '../../scheduler/status-model.js';
import { renderStatusReport } from './status-report.js';

const NOW = new Date('2026-01-10T10:00:00Z');

const scheduler: SchedulerStatus = {
  version: '2.5.0',
  pid: 4711,
  started: new Date('2026-01-07T06:00:00Z'),
  configPath: '/etc/backy.conf',
  configLoaded: new Date('2026-01-09T12:00:00Z'),
  workerLimit: 3,
  running: [
    { job: 'vm02', tags: ['daily', 'weekly'], started: new Date('2026-01-10T09:57:47Z'), pid: 4802 },
    { job: 'vm01', tags: ['hourly'], started: new Date('2026-01-10T08:59:00Z'), pid: null },
  ],
  queued: ['vm03', 'vm04'],
  skipped: [],
    finished: { succeeded: 0, failed: 0, interrupted: 0 },
};

function job(name: string, state: JobStatus['state'], lastBackup: string | null): JobStatus {
  return jobStatus({ name, state, firstSeen: new Date('2026-01-01T00:00:00Z'), lastBackup: lastBackup === null ? null : new Date(lastBackup) });
}

test('status shows workers, queue, running backups with elapsed time, uptime and configuration', () => {
  const jobs = [
    job('vm01', 'running', '2026-01-09T09:00:00Z'),
    job('vm02', 'running', null),
    job('vm03', 'queued', '2026-01-10T00:00:00Z'),
    job('vm04', 'failed', '2026-01-08T00:00:00Z'),
  ];
  assert.equal(
    renderStatusReport(scheduler, jobs, NOW),
    [
      'Scheduler:     backy 2.5.0, pid 4711',
      'Uptime:        3d 4h (started 2026-01-07 06:00:00 UTC)',
      'Configuration: /etc/backy.conf (loaded 2026-01-09 12:00:00 UTC)',
      'Workers:       2 busy, 1 idle (worker-limit 3)',
      'Jobs:          4 (2 overdue, 1 failed)',
      'Queued:        2: vm03, vm04',
      'Running:       2',
      '+------+--------------+---------------------+---------+------+',
      '| Job  | Tags         | Started (UTC)       | Elapsed |  PID |',
      '+------+--------------+---------------------+---------+------+',
      '| vm01 | hourly       | 2026-01-10 08:59:00 |   1h 1m |      |',
      '| vm02 | daily,weekly | 2026-01-10 09:57:47 |  2m 13s | 4802 |',
      '+------+--------------+---------------------+---------+------+',
    ].join('\n'),
  );
});

test('an idle scheduler says none', () => {
  const idle = { ...scheduler, running: [], queued: [] };
  assert.equal(
    renderStatusReport(idle, [], NOW),
    [
      'Scheduler:     backy 2.5.0, pid 4711',
      'Uptime:        3d 4h (started 2026-01-07 06:00:00 UTC)',
      'Configuration: /etc/backy.conf (loaded 2026-01-09 12:00:00 UTC)',
      'Workers:       0 busy, 3 idle (worker-limit 3)',
      'Jobs:          0 (0 overdue, 0 failed)',
      'Queued:        none',
      'Running:       none',
    ].join('\n'),
  );
});
