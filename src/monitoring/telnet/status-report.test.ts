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
  scrub: {
    intervalSeconds: 30 * 86400,
    periodSeconds: 86400,
    budgetBytes: 3 * 1024 ** 3,
    readBytes: 1024 ** 3,
    running: [{ job: 'vm04', revision: 'Q5N5Ng5kFzNFVv6FDDDCHi', started: new Date('2026-01-10T09:59:30Z'), pid: 4803 }],
  },
};

function job(name: string, state: JobStatus['state'], lastBackup: string | null, verification: Partial<JobStatus> = {}): JobStatus {
  return jobStatus({ name, state, firstSeen: new Date('2026-01-01T00:00:00Z'), lastBackup: lastBackup === null ? null : new Date(lastBackup), ...verification });
}

test('status shows workers, queue, running backups and scrubs with elapsed time, uptime, configuration and verification per job', () => {
  const jobs = [
    job('vm01', 'running', '2026-01-09T09:00:00Z', { verifiedSince: new Date('2026-01-09T09:00:10Z') }),
    job('vm02', 'running', null),
    job('vm03', 'queued', '2026-01-10T00:00:00Z', {
      lastVerified: new Date('2026-01-10T03:12:00Z'),
      verifiedSince: new Date('2025-12-20T00:00:00Z'),
      distrustedRevisions: 2,
    }),
    job('vm04', 'failed', '2026-01-08T00:00:00Z', { lastVerified: new Date('2026-01-09T22:00:00Z'), verifiedSince: new Date('2025-12-30T01:00:00Z') }),
  ];
  assert.equal(
    renderStatusReport(scheduler, jobs, NOW),
    [
      'Scheduler:     backy 2.5.0, pid 4711',
      'Uptime:        3d 4h (started 2026-01-07 06:00:00 UTC)',
      'Configuration: /etc/backy.conf (loaded 2026-01-09 12:00:00 UTC)',
      'Workers:       3 busy (1 scrubbing), 0 idle (worker-limit 3)',
      'Jobs:          4 (2 overdue, 1 failed)',
      'Queued:        2: vm03, vm04',
      'Running:       2',
      '+------+--------------+---------------------+---------+------+',
      '| Job  | Tags         | Started (UTC)       | Elapsed |  PID |',
      '+------+--------------+---------------------+---------+------+',
      '| vm01 | hourly       | 2026-01-10 08:59:00 |   1h 1m |      |',
      '| vm02 | daily,weekly | 2026-01-10 09:57:47 |  2m 13s | 4802 |',
      '+------+--------------+---------------------+---------+------+',
      'Scrubbing:     every 30d, budget 3.00 GiB a day, 1.00 GiB read today; running: vm04 (revision Q5N5Ng5kFzNFVv6FDDDCHi, 30s, pid 4803)',
      '+------+---------------------+--------------------------+------------+',
      '| Job  | Last Verified (UTC) | All Verified Since (UTC) | Distrusted |',
      '+------+---------------------+--------------------------+------------+',
      '| vm01 | -                   | 2026-01-09 09:00:10      |          0 |',
      '| vm02 | -                   | -                        |          0 |',
      '| vm03 | 2026-01-10 03:12:00 | 2025-12-20 00:00:00      |          2 |',
      '| vm04 | 2026-01-09 22:00:00 | 2025-12-30 01:00:00      |          0 |',
      '+------+---------------------+--------------------------+------------+',
    ].join('\n'),
  );
});

test('an idle scheduler says none; scrubbing off, or in periods shorter than a day', () => {
  const idle = { ...scheduler, running: [], queued: [], scrub: { ...scheduler.scrub, intervalSeconds: null, running: [] } };
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
      'Scrubbing:     off (scrub-interval 0)',
    ].join('\n'),
  );
  const quick = { ...idle, scrub: { intervalSeconds: 10, periodSeconds: 10, budgetBytes: 196608, readBytes: 65536, running: [] } };
  assert.equal(renderStatusReport(quick, [], NOW).split('\n').at(-1), 'Scrubbing:     every 10s, budget 192.00 kiB per 10s, 64.00 kiB read in this 10s; running: none');
});
