import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeStatus } from './status-wire.js';
import type { JobStatus, SchedulerStatus } from './status-model.js';

const scheduler: SchedulerStatus = {
  version: '2.5.0',
  pid: 1,
  started: new Date(0),
  configPath: '/etc/backy.conf',
  configLoaded: new Date(0),
  workerLimit: 1,
  running: [],
  queued: [],
  skipped: [],
  finished: { succeeded: 0, failed: 0, interrupted: 0 },
  scrub: { intervalSeconds: null, periodSeconds: null, budgetBytes: 0, readBytes: 0, running: [] },
};

function job(name: string, fields: Partial<JobStatus>): JobStatus {
  return {
    name,
    schedule: 's',
    slaIntervalSeconds: 86400,
    firstSeen: new Date(0),
    state: 'waiting',
    retryAt: null,
    failures: 0,
    lastBackup: new Date(0),
    lastTags: ['daily'],
    lastDuration: 1,
    lastBytesWritten: 10,
    nextBackup: null,
    nextTags: [],
    revisions: 1,
    estimatedBytes: 10,
    distrustedRevisions: 0,
    lastVerified: null,
    verifiedSince: null,
    ...fields,
  };
}

test("a job's field the schema refuses is written as unknown, in one line; the other jobs as they are", () => {
  const lines: string[] = [];
  const odd = job('a', { lastBytesWritten: 1.5, lastBackup: new Date(Number.NaN), estimatedBytes: 1e300 });
  const wire = encodeStatus({ written: new Date(0), scheduler, jobs: [odd, job('b', {})] }, (line) => lines.push(line));
  const [a, b] = wire.jobs as Record<string, unknown>[];
  assert.deepEqual([a!.last_bytes_written, a!.last_backup, a!.estimated_bytes, a!.last_duration], [null, null, 0, 1]);
  assert.deepEqual([b!.last_bytes_written, b!.last_backup], [10, '1970-01-01T00:00:00.000Z']);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^job a: last_backup: .*; written as null; last_bytes_written: expected a whole number; written as null; estimated_bytes: expected a whole number; written as 0$/);
});
