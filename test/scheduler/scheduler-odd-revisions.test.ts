/**
 * Revision files are anyone's to edit: odd values in one job's `.rev`
 * files must neither keep the status file from every job nor make a job
 * look fresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy } from '../helpers/cli.js';
import { configText, freePort, SchedulerFixture } from './harness.js';

/** Rewrites the `stats` of every `.rev` of the job directory. */
function editRevisions(job: string, edit: (data: Record<string, unknown>) => void): void {
  for (const name of readdirSync(job).filter((n) => n.endsWith('.rev') && !n.startsWith('.') && n !== 'last.rev')) {
    const path = join(job, name);
    const data = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    edit(data);
    writeFileSync(path, YAML.stringify(data));
  }
}

async function backedUpOnce(fixture: SchedulerFixture, jobs: string[]): Promise<void> {
  const first = fixture.start();
  await fixture.waitForStatus('a backup of every job', (s) => jobs.every((name) => s.jobs.find((j) => j.name === name)?.lastBackup));
  assert.deepEqual(await first.stop(), { code: 0, signal: null });
}

test("one job's odd bytes_written and duration neither stop the status file nor flood the log", async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 64 * 1024);
    fixture.writeConfig(
      configText({
        base: fixture.base,
        port: await freePort(),
        schedules: { s: { daily: { interval: '1d', keep: 3 } } },
        jobs: { a: { schedule: 's', filename: source }, b: { schedule: 's', filename: source }, c: { schedule: 's', filename: source } },
      }),
    );
    await backedUpOnce(fixture, ['a', 'b', 'c']);
    const stats = (data: Record<string, unknown>) => data.stats as Record<string, unknown>;
    editRevisions(fixture.job('a'), (data) => (stats(data).bytes_written = 1.5));
    editRevisions(fixture.job('b'), (data) => (stats(data).bytes_written = 1e20));
    editRevisions(fixture.job('c'), (data) => (stats(data).duration = 1e13));

    const second = fixture.start();
    const status = await fixture.waitForStatus('the restarted scheduler', (s) => s.scheduler.pid === second.child.pid);
    const byName = new Map(status.jobs.map((j) => [j.name, j]));
    assert.deepEqual([...byName.keys()], ['a', 'b', 'c']);
    assert.equal(byName.get('a')!.lastBytesWritten, 2);
    assert.equal(byName.get('b')!.lastBytesWritten, Number.MAX_SAFE_INTEGER);
    assert.ok(byName.get('c')!.lastBackup, 'c still shows its last backup');
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    const log = fixture.schedulerLog();
    assert.doesNotMatch(log, /cannot write the status file/);
    for (const line of log.trimEnd().split('\n')) assert.match(line, /^\d{4}-\d{2}-\d{2}/, `a log line of its own: ${line}`);
  } finally {
    fixture.cleanup();
  }
});

test('a revision or first-seen date in the future makes no job look fresh: the job backs up again', async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 64 * 1024);
    fixture.writeConfig(
      configText({ base: fixture.base, port: await freePort(), schedules: { s: { daily: { interval: '1d', keep: 3 } } }, jobs: { a: { schedule: 's', filename: source } } }),
    );
    await backedUpOnce(fixture, ['a']);
    const future = '2100-01-01T00:00:00.000Z';
    editRevisions(fixture.job('a'), (data) => (data.timestamp = future));
    writeFileSync(join(fixture.job('a'), '.first-seen'), `${future}\n`);

    const second = fixture.start();
    const status = await fixture.waitForStatus('a backup beside the future one', (s) => s.scheduler.pid === second.child.pid && s.jobs[0]!.revisions === 2);
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.equal(fixture.backupsFinished('a'), 2);
    assert.ok(status.jobs[0]!.firstSeen < new Date(future), 'the first sighting is recorded again');
    const check = backy(['-c', fixture.conf, 'check']);
    assert.equal(check.status, 0, check.stdout);
    assert.ok(status.jobs[0]!.lastBackup! < new Date(future), 'the last backup is the believable one');
  } finally {
    fixture.cleanup();
  }
});

test('a huge .first-seen is recorded again, not read whole: the job is not skipped', async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 64 * 1024);
    fixture.writeConfig(
      configText({ base: fixture.base, port: await freePort(), schedules: { s: { daily: { interval: '1d', keep: 3 } } }, jobs: { a: { schedule: 's', filename: source } } }),
    );
    await backedUpOnce(fixture, ['a']);
    const firstSeen = join(fixture.job('a'), '.first-seen');
    // Sparse, 1 GiB: more than a string can hold, so reading it whole failed the job's setup.
    writeFileSync(firstSeen, '2026-01-01T00:00:00.000Z\n');
    truncateSync(firstSeen, 1024 ** 3);

    const second = fixture.start();
    const status = await fixture.waitForStatus('the job set up again', (s) => s.scheduler.pid === second.child.pid);
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.deepEqual(status.scheduler.skipped, [], fixture.schedulerLog());
    assert.ok(statSync(firstSeen).size < 100, 'recorded again');
    assert.ok(!Number.isNaN(new Date(readFileSync(firstSeen, 'utf8').trim()).getTime()));
  } finally {
    fixture.cleanup();
  }
});
