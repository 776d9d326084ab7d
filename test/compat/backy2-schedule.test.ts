/**
 * backy 2.x's own schedule tests (its test_schedule.py, 2.0 to 2.1.3) with
 * their literal expected times, against a real `backy scheduler` under
 * faketime at backy 2.x's test clock (2015-09-01 07:06:47 UTC). backy 2.x's
 * tests give the spread as a number (1, 5, 100 s); here a job's spread comes
 * from its name, so the jobs are named for those spreads, as backy 2.x
 * computes them for a daily schedule: test36005 has 1 s, test63635 5 s and
 * test14400 100 s (CPython: random.Random(int(md5(name), 16)).randint(0, 86400)).
 * The arithmetic alone is in src/schedule/backy2-schedule.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobStatus } from '../../src/scheduler/status-model.js';
import { configText, freePort, revisions, SchedulerFixture } from '../scheduler/harness.js';

const env = { TZ: 'UTC' };

/** backy 2.x's `schedule` fixture (daily, 1d, keep 5), and its first test's daily + test (7d, keep 7). */
async function config(base: string, filename: string, jobs: Record<string, 'default' | 'withtest'>): Promise<string> {
  return configText({
    base,
    port: await freePort(),
    schedules: {
      default: { daily: { interval: '1d', keep: 5 } },
      withtest: { daily: { interval: '1d', keep: 5 }, test: { interval: '7d', keep: 7 } },
    },
    jobs: Object.fromEntries(Object.entries(jobs).map(([name, schedule]) => [name, { schedule, filename }])),
  });
}

/** A complete revision `secondsAgo` before `now`, as backy 2.x writes one (Revision(1).materialize(), then its stats). */
function revisionBefore(job: string, now: Date, secondsAgo: number, tags: string[]): void {
  mkdirSync(job, { recursive: true });
  const timestamp = new Date(now.getTime() - secondsAgo * 1000).toISOString().replace('T', ' ').replace('.000Z', '+00:00');
  writeFileSync(join(job, '1.rev'), `parent: null\nstats: {bytes_written: 0, duration: 1.0}\ntags: [${tags.join(', ')}]\ntimestamp: ${timestamp}\nuuid: '1'\n`);
  writeFileSync(join(job, '1'), '');
}

const next = (job: JobStatus | undefined) => [job?.nextBackup?.toISOString() ?? null, job?.nextTags ?? []];

test('test_tag_first_interval_after_now, test_next_in_interval, test_tag_catchup_not_needed_for_recent, test_first_backup_catches_up_all_tags_immediately, test_tag_catchup_needed_for_recently_missed', async () => {
  const fixture = new SchedulerFixture();
  try {
    const now = new Date('2015-09-01T07:06:47Z');
    const source = fixture.source('vm.img', 4096);
    fixture.writeConfig(await config(fixture.base, source, { test36005: 'default', test14400: 'default', test63635: 'default', first: 'withtest' }));
    // Backed up 15 s ago: no catch-up, the next slot.
    revisionBefore(fixture.job('test36005'), now, 15, ['daily']);
    revisionBefore(fixture.job('test14400'), now, 15, ['daily']);
    // Its daily backup 1.2 days ago was missed: caught up now.
    revisionBefore(fixture.job('test63635'), now, 1.2 * 86400, ['daily']);

    const scheduler = fixture.start({ faketime: `@2015-09-01 07:06:47`, env });
    const status = await fixture.waitForStatus(
      'the catch-up and the first backup',
      (s) => s.jobs.length === 4 && s.scheduler.running.length === 0 && ['first', 'test63635'].every((name) => s.jobs.find((j) => j.name === name)?.lastBackup),
    );
    const job = (name: string) => status.jobs.find((j) => j.name === name);
    assert.deepEqual(next(job('test36005')), ['2015-09-02T00:00:01.000Z', ['daily']]);
    assert.deepEqual(next(job('test14400')), ['2015-09-02T00:01:40.000Z', ['daily']]);
    // No backup ran for them: the recent revision is still the last one.
    assert.deepEqual(job('test36005')!.lastBackup, new Date(now.getTime() - 15_000));

    // The first backup of a job carries every tag of its schedule, at once.
    const [made] = revisions(fixture.job('first'));
    assert.deepEqual([...made!.tags].sort(), ['daily', 'test']);
    assert.ok(made!.timestamp.getTime() - now.getTime() < 60_000, `the first backup ran at once: ${made!.timestamp.toISOString()}`);
    const caughtUp = revisions(fixture.job('test63635')).at(-1)!;
    assert.deepEqual(caughtUp.tags, ['daily']);
    assert.ok(caughtUp.timestamp.getTime() - now.getTime() < 60_000, `the missed daily backup ran at once: ${caughtUp.timestamp.toISOString()}`);
    // Then its next slot: 5 s after midnight.
    assert.deepEqual(next(job('test63635')), ['2015-09-02T00:00:05.000Z', ['daily']]);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('test_tag_second_interval_after_now, test_tag_second_interval_with_different_spread: a day and 25 hours later', async () => {
  for (const clock of ['2015-09-02 07:06:47', '2015-09-02 08:06:47']) {
    const fixture = new SchedulerFixture();
    try {
      const now = new Date(`${clock.replace(' ', 'T')}Z`);
      fixture.writeConfig(await config(fixture.base, fixture.source('vm.img', 4096), { test63635: 'default' }));
      revisionBefore(fixture.job('test63635'), now, 15, ['daily']);
      const scheduler = fixture.start({ faketime: `@${clock}`, env });
      const status = await fixture.waitForStatus('the job', (s) => s.jobs.length === 1 && s.jobs[0]!.nextBackup !== null);
      assert.deepEqual(next(status.jobs[0]), ['2015-09-03T00:00:05.000Z', ['daily']], clock);
      assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
    } finally {
      fixture.cleanup();
    }
  }
});
