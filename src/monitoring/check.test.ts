import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotAt, type JobSpec } from '../../test/monitoring/status-fixtures.js';
import type { StatusSnapshot } from '../scheduler/status-model.js';
import { evaluateCheck, unknownCheck } from './check.js';

const NOW = new Date('2026-03-10T12:00:00Z');
/** A job whose last backup was `lastBackupHoursAgo` hours before NOW (null: never), on a daily schedule. */
function job(name: string, lastBackupHoursAgo: number | null, firstSeenHoursAgo = 1000): JobSpec {
  return { name, lastBackupHoursAgo, firstSeenHoursAgo };
}

function snapshot(jobs: JobSpec[], writtenSecondsAgo = 30) {
  return snapshotAt(NOW, jobs, writtenSecondsAgo);
}

/** Judged with the configuration naming exactly the snapshot's jobs (unless given). */
function judge(status: StatusSnapshot, maxStatusAgeSeconds?: number, configuredJobs = status.jobs.map((j) => j.name)) {
  return evaluateCheck(status, NOW, { configuredJobs, maxStatusAgeSeconds });
}

test('every job within 1.5 x its interval is OK, with perfdata', () => {
  const result = judge(snapshot([job('test01', 2), job('test02', 35.9), job('test03', 10)]));
  assert.deepEqual(result, {
    code: 0,
    line: 'OK: all 3 jobs within SLA | jobs=3;;;0 overdue=0;;0;0;3 oldest_backup_age=129240s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
});

test('one job and no jobs read naturally', () => {
  assert.equal(judge(snapshot([job('a', 1)])).line, 'OK: 1 job within SLA | jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0');
  assert.deepEqual(judge(snapshot([])), {
    code: 0,
    line: 'OK: no jobs configured | jobs=0;;;0 overdue=0;;0;0;0 oldest_backup_age=0s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
});

test('overdue jobs are CRITICAL, named most overdue first', () => {
  // Exactly 1.5 intervals (36 h) old is still within SLA, as in backy 2.x.
  const jobs = [job('test02', 40), job('test01', 50), job('test04', 1), job('test03', 40), job('test05', 36.5), job('test06', 36)];
  assert.deepEqual(judge(snapshot(jobs)), {
    code: 2,
    line:
      'CRITICAL: 4 of 6 jobs overdue: test01, test02, test03, test05 | ' +
      'jobs=6;;;0 overdue=4;;0;0;6 oldest_backup_age=180000s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
});

test('beyond five overdue jobs the line gives a count of the rest', () => {
  const jobs = Array.from({ length: 10 }, (_, i) => job(`vm${String(i).padStart(2, '0')}`, 100 - i));
  assert.equal(
    judge(snapshot(jobs)).line.split(' | ')[0],
    'CRITICAL: 10 of 10 jobs overdue: vm00, vm01, vm02, vm03, vm04 and 5 more',
  );
});

test('a job never backed up is measured from when it first appeared', () => {
  const fresh = judge(snapshot([job('new', null, 35)]));
  assert.equal(fresh.line, 'OK: 1 job within SLA | jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=126000s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0');
  const late = judge(snapshot([job('new', null, 37)]));
  assert.equal(late.code, 2);
  assert.equal(late.line.split(' | ')[0], 'CRITICAL: 1 of 1 job overdue: new');
});

test('a status file older than five minutes means the scheduler is dead or hung', () => {
  const atLimit = judge(snapshot([job('a', 1)], 300));
  assert.equal(atLimit.code, 0);
  const stale = judge(snapshot([job('a', 1)], 301));
  assert.deepEqual(stale, {
    code: 2,
    line:
      'CRITICAL: status file not updated for 5m 1s (written 2026-03-10 11:54:59 UTC): the scheduler is dead or hung | ' +
      'jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
  const both = judge(snapshot([job('a', 1), job('b', 48)], 7200));
  assert.equal(
    both.line.split(' | ')[0],
    'CRITICAL: status file not updated for 2h (written 2026-03-10 10:00:00 UTC): the scheduler is dead or hung; ' +
      '1 of 2 jobs overdue: b',
  );
  assert.equal(judge(snapshot([job('a', 1)], 900), 1200).code, 0);
});

test('UNKNOWN carries the reason and no perfdata; the text never contains a perfdata separator or newline', () => {
  assert.deepEqual(unknownCheck('cannot read status file /x/status: no such file or directory'), {
    code: 3,
    line: 'UNKNOWN: cannot read status file /x/status: no such file or directory',
  });
  assert.equal(unknownCheck('a|b\nc').line, 'UNKNOWN: a/b c');
  const odd = judge(snapshot([job('x|y', 48)]));
  assert.equal(odd.line.split('|').length, 2);
});

test('configured jobs missing from the status file are CRITICAL and named; skipped ones say so', () => {
  const status = snapshot([job('a', 1), job('b', 1)]);
  status.scheduler.skipped = [{ job: 'held', reason: 'job held: /srv/backy/held is not a job directory' }];
  assert.deepEqual(judge(status, undefined, ['a', 'b', 'new1', 'new2', 'held']), {
    code: 2,
    line:
      'CRITICAL: 2 of 5 jobs not in the status file: new1, new2 (the scheduler runs another configuration: reload it); ' +
      '1 of 5 jobs skipped by the scheduler: held (see its log) | jobs=5;;;0 overdue=0;;0;0;5 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
});

test('jobs of the status file that are not configured are ignored, and the line says so', () => {
  const status = snapshot([job('a', 1), job('old', 100), job('older', 200)]);
  assert.deepEqual(judge(status, undefined, ['a']), {
    code: 0,
    line: 'OK: 1 job within SLA (ignoring 2 jobs of the status file not in the configuration: old, older) | jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0',
  });
  assert.equal(judge(status, undefined, []).line.split(' | ')[0], 'OK: no jobs configured (ignoring 3 jobs of the status file not in the configuration: a, old, older)');
});

test('a status file written in the future beyond five minutes of clock skew is UNKNOWN', () => {
  assert.equal(judge(snapshot([job('a', 1)], -300)).code, 0, 'five minutes ahead: clocks a little apart');
  assert.deepEqual(judge(snapshot([job('a', 1)], -3601)), {
    code: 3,
    line: "UNKNOWN: status file written in the future (2026-03-10 13:00:01 UTC, 1h ahead of this host's clock): compare this host's clock with the scheduler's",
  });
});

test('distrusted revisions are CRITICAL: each job named with its count, most first; the total and the oldest proof in the perfdata', () => {
  const jobs: JobSpec[] = [
    { ...job('a', 1), distrusted: 1, verifiedHoursAgo: 2 },
    { ...job('b', 1), verifiedHoursAgo: 720.5 },
    { ...job('c', 1), distrusted: 4 },
    { ...job('d', 1), distrusted: 1 },
  ];
  assert.deepEqual(judge(snapshot(jobs)), {
    code: 2,
    line:
      'CRITICAL: 3 of 4 jobs with distrusted revisions: c (4), a (1), d (1) | ' +
      'jobs=4;;;0 overdue=0;;0;0;4 oldest_backup_age=3600s;;;0 distrusted=6;;0;0 oldest_verification_age=2593800s;;;0',
  });
  const many = Array.from({ length: 7 }, (_, i) => ({ ...job(`vm${i}`, 1), distrusted: 1 }));
  assert.equal(judge(snapshot(many)).line.split(' | ')[0], 'CRITICAL: 7 of 7 jobs with distrusted revisions: vm0 (1), vm1 (1), vm2 (1), vm3 (1), vm4 (1) and 2 more');
  // Only configured jobs are judged, for distrust as for the SLA.
  assert.equal(judge(snapshot(jobs), undefined, ['b']).code, 0);
});
