/**
 * The scheduler daemon built and driven in-process against a fixed clock,
 * with a stand-in for the backup subprocess: queueing and the worker limit,
 * backoff, retention, runJob, reload, shutdown — exact to the second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { JobDirectory } from '../../src/job/job-directory.js';
import { planNextRun } from '../../src/schedule/next-run.js';
import { jobSpreadSeconds } from '../../src/schedule/spread.js';
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/scheduler.js';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { fixedClock } from '../../src/util/clock.js';
import { BackyError } from '../../src/util/errors.js';
import { capturingLogger, inProcessScheduler, StandInBackups, writeRevision } from './stand-in-backups.js';

const DAY = 86400;
const std = [
  { tag: 'daily', intervalSeconds: DAY, keep: 3 },
  { tag: 'weekly', intervalSeconds: 7 * DAY, keep: 2 },
];

interface Harness {
  base: string;
  conf: string;
  clock: ReturnType<typeof fixedClock>;
  backups: StandInBackups;
  logger: ReturnType<typeof capturingLogger>;
  scheduler: Scheduler;
  /** Another scheduler on the same files, clock and stand-in (a restart). */
  build(overrides?: Partial<SchedulerOptions>): Scheduler;
  writeConfig(jobs: Record<string, string>, workerLimit?: number): void;
}

/** A base directory, a configuration with the given jobs (name → schedule), and a scheduler built on them. */
async function withScheduler(jobs: Record<string, string>, workerLimit: number, body: (h: Harness) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'backy-daemon-'));
  const base = join(dir, 'base');
  mkdirSync(base);
  const conf = join(dir, 'backy.conf');
  const writeConfig = (list: Record<string, string>, limit = workerLimit) =>
    writeFileSync(
      conf,
      YAML.stringify({
        // Scrubbing is off here (the stand-in revisions have no data); test/scheduler/scrub-daemon.test.ts drives it.
        global: { 'base-dir': base, 'worker-limit': limit, 'telnet-addrs': '127.0.0.1', store: 'cow', 'scrub-interval': 0 },
        schedules: { std: { daily: { interval: '1d', keep: 3 }, weekly: { interval: '1w', keep: 2 } }, quick: { hourly: { interval: '1h', keep: 2 } } },
        jobs: Object.fromEntries(Object.entries(list).map(([name, schedule]) => [name, { schedule, source: { type: 'file', filename: `/srv/vm/${name}.img` } }])),
      }),
    );
  writeConfig(jobs);
  const clock = fixedClock('2026-11-27T12:00:00Z');
  const backups = new StandInBackups(clock);
  const logger = capturingLogger();
  const built: Scheduler[] = [];
  const build = (overrides: Partial<SchedulerOptions> = {}) => {
    const scheduler = inProcessScheduler(conf, clock, backups, logger, overrides);
    built.push(scheduler);
    return scheduler;
  };
  const scheduler = build();
  try {
    await body({ base, conf, clock, backups, logger, scheduler, build, writeConfig });
  } finally {
    for (const run of backups.running()) await run.finish(1);
    for (const each of built) await each.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lets the scheduler react (it finishes runs asynchronously: retention, history). */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !condition(); i++) await sleep(1);
  assert.ok(condition(), `gave up waiting for ${what}`);
}

const job = (scheduler: Scheduler, name: string) => scheduler.jobs().find((j) => j.name === name)!;

test('new jobs run at once with all tags, the most overdue first, never more than worker-limit', async () => {
  await withScheduler({ j1: 'std', j2: 'std', j3: 'std' }, 2, async ({ base, clock, backups, scheduler }) => {
    // j3 has not been backed up for 10 days: overdue since 9 days, ahead of the new jobs.
    const j3 = new JobDirectory(join(base, 'j3'));
    mkdirSync(j3.path);
    await writeRevision(j3, new Date(clock.now().getTime() - 10 * DAY * 1000), ['daily', 'weekly']);

    await scheduler.start();
    assert.deepEqual(backups.runs.map((r) => [r.job, r.tags.join()]), [['j3', 'daily,weekly'], ['j1', 'daily,weekly']]);
    assert.deepEqual(scheduler.status().queued, ['j2']);
    assert.deepEqual(scheduler.status().running.map((r) => [r.job, r.pid]), [['j3', 10_000], ['j1', 10_001]]);
    assert.deepEqual(scheduler.jobs().map((j) => j.state), ['running', 'queued', 'running']);
    assert.equal(readFileSync(join(base, 'j1', 'config'), 'utf8'), 'type: file\nfilename: /srv/vm/j1.img\n');
    assert.equal(readFileSync(join(base, 'j1', '.first-seen'), 'utf8'), '2026-11-27T12:00:00.000Z\n');

    clock.advance(30_000);
    await backups.runningFor('j3').finish();
    await until('j2 to start', () => backups.running().some((r) => r.job === 'j2'));
    assert.equal(backups.running().length, 2);
    const status = job(scheduler, 'j3');
    assert.equal(status.state, 'waiting');
    assert.deepEqual(status.lastBackup, new Date('2026-11-27T12:00:00Z'));
    assert.deepEqual(status.lastTags, ['daily', 'weekly']);
    const history = (await j3.revisions()).map((r) => ({ timestamp: r.timestamp, tags: r.tags }));
    const expected = planNextRun(std, jobSpreadSeconds('j3', 7 * DAY), history, clock.now());
    assert.equal(expected.reason, 'regular');
    assert.deepEqual([status.nextBackup, status.nextTags], [expected.at, expected.tags]);
    assert.equal(status.slaIntervalSeconds, DAY);

    // The next regular run: queued when its time comes, with the tags of its slot.
    await backups.runningFor('j1').finish();
    await backups.runningFor('j2').finish();
    await scheduler.settled();
    const first = Math.min(...scheduler.jobs().map((j) => j.nextBackup!.getTime()));
    const due = scheduler.jobs().filter((j) => j.nextBackup!.getTime() === first);
    clock.set(new Date(first - 1));
    scheduler.tick();
    assert.equal(backups.running().length, 0);
    clock.set(new Date(first));
    scheduler.tick();
    assert.deepEqual(
      backups.running().map((r) => [r.job, r.tags]),
      due.map((j) => [j.name, j.nextTags]),
    );
  });
});

test('a failed backup is retried after 2 minutes, doubling up to 6 hours; runJob keeps the count, success resets it', async () => {
  await withScheduler({ vm: 'std' }, 1, async ({ clock, backups, logger, scheduler }) => {
    await scheduler.start();
    const delays: number[] = [];
    for (let failure = 1; failure <= 10; failure++) {
      const failedAt = clock.now().getTime();
      await backups.runningFor('vm').finish(1);
      await until('the failure', () => job(scheduler, 'vm').state === 'failed');
      const status = job(scheduler, 'vm');
      assert.equal(status.failures, failure);
      assert.deepEqual(status.nextTags, ['daily', 'weekly']);
      delays.push((status.retryAt!.getTime() - failedAt) / 1000);
      clock.set(new Date(status.retryAt!.getTime() - 1));
      scheduler.tick();
      assert.equal(backups.running().length, 0, 'no attempt before the retry time');
      clock.set(status.retryAt!);
      scheduler.tick();
      assert.equal(backups.running().length, 1, 'an attempt at the retry time');
    }
    assert.deepEqual(delays, [120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]);
    assert.ok(logger.lines.some((l) => /^ERROR job vm: backup \(daily,weekly\) failed after 0\.0 s with exit status 1; failure 1, next attempt at 2026-11-27 12:02:00$/.test(l)));

    await backups.runningFor('vm').finish(1);
    await until('the failure', () => job(scheduler, 'vm').failures === 11);
    assert.deepEqual(scheduler.runJob('vm'), { ok: true });
    assert.equal(job(scheduler, 'vm').failures, 11, 'runJob does not reset the backoff');
    await backups.runningFor('vm').finish(0);
    await until('the success', () => job(scheduler, 'vm').state === 'waiting');
    assert.equal(job(scheduler, 'vm').failures, 0);
    assert.equal(job(scheduler, 'vm').retryAt, null);
  });
});

test('runJob queues a job now with its next tags, and says why when it cannot', async () => {
  await withScheduler({ a: 'quick', b: 'quick' }, 1, async ({ backups, scheduler }) => {
    await scheduler.start();
    assert.deepEqual(scheduler.runJob('nope'), { ok: false, reason: 'no job named "nope"', code: 'JOB_NOT_FOUND' });
    assert.deepEqual(scheduler.runJob('a'), { ok: false, reason: 'job "a" is running already', code: 'JOB_RUNNING' });
    assert.deepEqual(scheduler.runJob('b'), { ok: true }, 'already queued is fine');
    await backups.runningFor('a').finish();
    await until('b to start', () => backups.running().some((r) => r.job === 'b'));
    await backups.runningFor('b').finish();
    await scheduler.settled();
    const next = job(scheduler, 'a');
    assert.deepEqual(next.nextTags, ['hourly']);
    assert.deepEqual(scheduler.runJob('a'), { ok: true });
    assert.deepEqual(backups.running().map((r) => [r.job, r.tags]), [['a', ['hourly']]]);
  });
});

test('retention after a backup: old revisions beyond keep lose the tag and go, under the job lock', async () => {
  await withScheduler({ vm: 'std' }, 1, async ({ base, clock, backups, scheduler, logger }) => {
    const dir = new JobDirectory(join(base, 'vm'));
    mkdirSync(dir.path);
    const daysAgo = (days: number) => new Date(clock.now().getTime() - days * DAY * 1000);
    const old = await writeRevision(dir, daysAgo(20), ['daily', 'weekly']);
    const older = await writeRevision(dir, daysAgo(6), ['daily']);
    const kept = [await writeRevision(dir, daysAgo(2), ['daily']), await writeRevision(dir, daysAgo(1.5), ['daily', 'weekly'])];
    await scheduler.start();
    await backups.runningFor('vm').finish();
    await scheduler.settled();
    const left = new Map((await dir.revisions()).map((r) => [r.uuid, r.tags]));
    assert.deepEqual(left.get(old), ['weekly'], 'beyond the newest 3 daily and older than 3 days: loses daily');
    assert.equal(left.has(older), false, 'left without tags: deleted');
    for (const id of kept) assert.ok(left.has(id));
    assert.equal(left.size, 4);
    assert.ok(logger.lines.includes(`INFO ${dir.path}: removing revision ${older} (expired from daily)`));
  });
});

test('reload: jobs added, removed (after their running backup), changed; an invalid file changes nothing', async () => {
  await withScheduler({ a: 'std', b: 'std' }, 2, async ({ base, conf, backups, scheduler, logger, writeConfig }) => {
    await scheduler.start();
    await backups.runningFor('b').finish();
    await until('b waiting', () => job(scheduler, 'b').state === 'waiting');

    writeConfig({ b: 'quick', c: 'std' });
    assert.deepEqual(await scheduler.reload(), { ok: true });
    // a was running: it stays until its backup ends, then it is gone. b never had an hourly
    // revision: catch-up now. c is new: its first backup waits for a worker.
    assert.deepEqual(scheduler.jobs().map((j) => [j.name, j.schedule, j.state]), [
      ['a', 'std', 'running'],
      ['b', 'quick', 'running'],
      ['c', 'std', 'queued'],
    ]);
    assert.deepEqual(backups.runningFor('b').tags, ['hourly']);
    assert.equal(job(scheduler, 'b').slaIntervalSeconds, 3600);
    await backups.runningFor('a').finish();
    await until('a to be forgotten', () => !scheduler.jobs().some((j) => j.name === 'a'));
    assert.deepEqual(backups.runningFor('c').tags, ['daily', 'weekly']);
    assert.ok(readFileSync(join(base, 'a', 'config'), 'utf8').length > 0, 'its directory is kept');
    assert.ok(logger.lines.includes('INFO job a: removed from the configuration (its job directory is kept)'));

    // Asked 50 times at once (SIGHUPs, API requests): all join one reload, and all are answered.
    const before = logger.lines.filter((l) => l.includes('configuration reloaded from')).length;
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => scheduler.reload()));
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(logger.lines.filter((l) => l.includes('configuration reloaded from')).length - before, 1);

    writeFileSync(conf, readFileSync(conf, 'utf8').replace('schedule: quick', 'schedule: hourly'));
    assert.equal((await scheduler.reload()).ok, false);
    assert.deepEqual(scheduler.jobs().map((j) => [j.name, j.schedule]), [['b', 'quick'], ['c', 'std']]);
    const error = logger.lines.find((l) => l.startsWith('ERROR reloading'));
    assert.equal(
      error,
      `ERROR reloading the configuration failed; keeping the running configuration: ${conf}: invalid configuration (1 problem):\n` +
        `${conf}: job "b": schedule: "hourly" is not a defined schedule (defined schedules: std, quick; "hourly" is a tag of schedule "quick")`,
    );
  });
});

test('a restart keeps the schedule and firstSeen; a manual backup counts; the status file is valid', async () => {
  await withScheduler({ vm: 'std' }, 1, async ({ base, clock, backups, scheduler, build }) => {
    await scheduler.start();
    await backups.runningFor('vm').finish();
    await scheduler.settled();
    const before = job(scheduler, 'vm');
    await scheduler.writeStatus();
    const file = await readStatusFile(join(base, 'status'));
    assert.deepEqual(file.jobs, scheduler.jobs());
    assert.deepEqual(file.scheduler, scheduler.status());
    await scheduler.stop();

    // Restarted a while later, before that backup: the same next backup, the same firstSeen.
    clock.set(new Date((clock.now().getTime() + before.nextBackup!.getTime()) / 2));
    const restarted = build();
    await restarted.start();
    const after = job(restarted, 'vm');
    assert.deepEqual([after.nextBackup, after.nextTags, after.firstSeen], [before.nextBackup, before.nextTags, before.firstSeen]);
    await restarted.stop();

    // Eight days later, but someone ran `backy backup daily,weekly` an hour ago: nothing to catch up.
    clock.advance(8 * DAY * 1000);
    await writeRevision(new JobDirectory(join(base, 'vm')), new Date(clock.now().getTime() - 3600_000), ['daily', 'weekly']);
    const later = build();
    await later.start();
    assert.equal(backups.running().length, 0);
    assert.equal(job(later, 'vm').state, 'waiting');
    assert.ok(job(later, 'vm').nextBackup! > clock.now());
  });
});

test('a second scheduler on the same base directory is refused; a failed start releases the lock', async () => {
  await withScheduler({ vm: 'std' }, 1, async ({ base, scheduler, build }) => {
    await scheduler.start();
    await assert.rejects(build().start(), { name: 'BackyError', message: `another scheduler is already running for ${base} (pid ${process.pid})` });
    await scheduler.stop();

    const broken = build({
      frontEnds: [
        {
          name: 'telnet shell',
          start: async () => {
            throw new Error('no address');
          },
        },
      ],
    });
    await assert.rejects(broken.start(), { message: 'cannot start the telnet shell: no address' });
    const next = build();
    await next.start();
    assert.equal(next.status().pid, process.pid);
  });
});

test('front-ends are plug-ins: started in order with the view, closed in reverse order; a failing one closes those started', async () => {
  await withScheduler({ vm: 'std' }, 1, async ({ build }) => {
    const events: string[] = [];
    const plugin = (name: string, fail = false) => ({
      name,
      start: async ({ view }: { view: { jobs(): { name: string }[] } }) => {
        if (fail) throw new BackyError(`${name} cannot listen on any address: test`);
        events.push(`start ${name} (${view.jobs().map((j) => j.name).join()})`);
        return { listening: [`${name} on test`], close: async () => void events.push(`close ${name}`) };
      },
    });
    const scheduler = build({ frontEnds: [plugin('first'), plugin('second')] });
    await scheduler.start();
    await scheduler.stop();
    assert.deepEqual(events, ['start first (vm)', 'start second (vm)', 'close second', 'close first']);

    events.length = 0;
    await assert.rejects(build({ frontEnds: [plugin('first'), plugin('broken', true)] }).start(), { message: 'broken cannot listen on any address: test' });
    assert.deepEqual(events, ['start first (vm)', 'close first']);
  });
});

test('shutdown: SIGTERM to running backups, SIGKILL after the grace time, a final status', async () => {
  await withScheduler({ a: 'std', b: 'std' }, 2, async ({ base, backups, scheduler }) => {
    await scheduler.start();
    backups.obeySigterm = false;
    const [a, b] = [backups.runningFor('a'), backups.runningFor('b')];
    await b.finish();
    await until('b to finish', () => job(scheduler, 'b').state === 'waiting');
    await scheduler.stop();
    assert.deepEqual(a.signals, ['SIGTERM', 'SIGKILL']);
    assert.deepEqual(b.signals, []);
    const file = await readStatusFile(join(base, 'status'));
    assert.deepEqual(file.scheduler.running, []);
    assert.deepEqual(file.jobs.map((j) => [j.name, j.state, j.failures]), [['a', 'waiting', 0], ['b', 'waiting', 0]]);
    assert.deepEqual(scheduler.runJob('a'), { ok: false, reason: 'the scheduler is shutting down', code: 'SHUTTING_DOWN' });
  });
});
