/**
 * backy 2.x's daemon tests of the SLA and of `check` (its test_daemon.py,
 * 2.0 to 2.1.3: test_sla_over_time, test_check_ok, test_check_tooold,
 * test_check_no_status_file, test_check_stale_status_file) against `backy
 * check` under faketime with a frozen clock at backy 2.x's test clock.
 * The exit codes and the first words are backy 2.x's; the texts go on with
 * the overdue jobs' names and Nagios perfdata, on purpose (README,
 * "Migrating from backy 2.x").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeStatus } from '../../src/scheduler/status-file.js';
import { BACKY_MAIN } from '../helpers/cli.js';
import { snapshotAt, type JobSpec } from '../monitoring/status-fixtures.js';

const NOW = new Date('2015-09-01T07:06:47Z');

/** `backy check` of backy 2.x's test configuration (test01, foo00, daily) with the status file `status`, or none. */
function check(status: string | null): { status: number | null; stdout: string } {
  const base = mkdtempSync(join(tmpdir(), 'backy2-check-'));
  try {
    const conf = join(base, 'config');
    const job = (name: string) => `    ${name}:\n        source: {type: file, filename: ${base}/test01.source}\n        schedule: default\n`;
    writeFileSync(conf, `global:\n    base-dir: ${base}\nschedules:\n    default:\n        daily: {interval: 24h, keep: 9}\njobs:\n${job('test01')}${job('foo00')}`);
    if (status !== null) writeFileSync(join(base, 'status'), status);
    const result = spawnSync('faketime', ['-f', '2015-09-01 07:06:47', process.execPath, BACKY_MAIN, '-c', conf, 'check'], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    return { status: result.status, stdout: result.stdout.replace(base, '{base}') };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

const statusFile = (test01HoursAgo: number | null, writtenSecondsAgo?: number) => {
  const jobs: JobSpec[] = [
    { name: 'test01', lastBackupHoursAgo: test01HoursAgo, firstSeenHoursAgo: 0 },
    { name: 'foo00', lastBackupHoursAgo: null, firstSeenHoursAgo: 0 },
  ];
  return serializeStatus(snapshotAt(NOW, jobs, writtenSecondsAgo));
};

test('test_sla_over_time: a daily job is within SLA at 6, 24, 32 and 36 hours, not one second later', () => {
  for (const hours of [6, 24, 32, 36]) {
    const result = check(statusFile(hours));
    assert.equal(result.status, 0, `${hours} h: ${result.stdout}`);
    assert.match(result.stdout, /^OK: all 2 jobs within SLA \|/);
  }
  const late = check(statusFile(36 + 1 / 3600));
  assert.equal(late.status, 2);
  assert.match(late.stdout, /^CRITICAL: 1 of 2 jobs overdue: test01 \|/);
});

test('test_check_ok: OK, exit 0 (backy 2.x: "OK: 2 jobs within SLA")', () => {
  // A configuration just written, no backups yet, as backy 2.x's fixture.
  const result = check(statusFile(null));
  assert.equal(result.status, 0);
  assert.match(result.stdout, /^OK: all 2 jobs within SLA \|/);
  // On purpose unlike backy 2.x (within SLA forever): never backed up 1.5 days after it appeared is overdue.
  const never = serializeStatus(snapshotAt(NOW, [{ name: 'test01', lastBackupHoursAgo: null, firstSeenHoursAgo: 37 }, { name: 'foo00', lastBackupHoursAgo: null, firstSeenHoursAgo: 0 }]));
  const overdue = check(never);
  assert.equal(overdue.status, 2);
  assert.match(overdue.stdout, /^CRITICAL: 1 of 2 jobs overdue: test01 \|/);
});

test('test_check_tooold: CRITICAL, exit 2, test01 named (backy 2.x: "CRITICAL: 1 jobs not within SLA")', () => {
  const result = check(statusFile(48));
  assert.equal(result.status, 2);
  assert.match(result.stdout, /^CRITICAL: 1 of 2 jobs overdue: test01 \|.* oldest_backup_age=172800s;/);
});

test('test_check_no_status_file: UNKNOWN, exit 3 (backy 2.x: "UNKNOWN: No status file found at")', () => {
  const result = check(null);
  assert.equal(result.status, 3);
  assert.equal(result.stdout, 'UNKNOWN: cannot read status file {base}/status: no such file or directory\n');
});

test('test_check_stale_status_file: CRITICAL, exit 2 (backy 2.x: "CRITICAL: Status file is older than 5 minutes")', () => {
  const result = check(statusFile(1, 301));
  assert.equal(result.status, 2);
  assert.match(result.stdout, /^CRITICAL: status file not updated for 5m 1s \(written 2015-09-01 07:01:46 UTC\): the scheduler is dead or hung \|/);
});
