/**
 * Scrubbing in the scheduler daemon, built in-process against a fixed clock
 * with stand-ins for `backy backup` and `backy verify`: scrubs take only
 * idle workers, one per job; a backup never waits for one (it is stopped and
 * planned again); damage shows at once; a scrub that could not check its
 * revision is tried again a period later; shutdown stops scrubs too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { JobDirectory } from '../../src/job/job-directory.js';
import type { Scheduler } from '../../src/scheduler/scheduler.js';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { fixedClock } from '../../src/util/clock.js';
import { capturingLogger, inProcessScheduler, StandInBackups, writeRevision } from './stand-in-backups.js';

const DAY = 86400_000;
const GiB = 1024 ** 3;

interface Setup {
  base: string;
  clock: ReturnType<typeof fixedClock>;
  backups: StandInBackups;
  logger: ReturnType<typeof capturingLogger>;
  scheduler: Scheduler;
  /** Each job's revision of 40 days ago: overdue for a 30-day scrub-interval (the other one is an hour old). */
  old: Record<string, string>;
}

/** Jobs on a yearly schedule, each with an overdue and a fresh revision of 1 GiB, so no backup is due at the start. */
async function withScrubbing(jobs: string[], workerLimit: number, body: (s: Setup) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'backy-scrub-daemon-'));
  const base = join(dir, 'base');
  mkdirSync(base);
  const conf = join(dir, 'backy.conf');
  writeFileSync(
    conf,
    YAML.stringify({
      global: { 'base-dir': base, 'worker-limit': workerLimit, 'scrub-interval': '30d' },
      schedules: { yearly: { yearly: { interval: '52w', keep: 4 } } },
      jobs: Object.fromEntries(jobs.map((name) => [name, { schedule: 'yearly', source: { type: 'file', filename: `/srv/vm/${name}.img` } }])),
    }),
  );
  const clock = fixedClock('2026-11-27T12:00:00Z');
  const backups = new StandInBackups(clock);
  const logger = capturingLogger();
  const old: Record<string, string> = {};
  for (const name of jobs) {
    const job = new JobDirectory(join(base, name));
    mkdirSync(job.path);
    old[name] = await writeRevision(job, new Date(clock.now().getTime() - 40 * DAY), ['yearly'], GiB);
    await writeRevision(job, new Date(clock.now().getTime() - 3600_000), ['yearly'], GiB);
  }
  const scheduler = inProcessScheduler(conf, clock, backups, logger);
  try {
    await body({ base, clock, backups, logger, scheduler, old });
  } finally {
    for (const run of backups.running()) await run.finish(1);
    for (const scrub of backups.scrubbing()) await scrub.finish('failed');
    await scheduler.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !condition(); i++) await sleep(1);
  assert.ok(condition(), `gave up waiting for ${what}`);
}

const scrubbing = (backups: StandInBackups) => backups.scrubbing().map((s) => `${s.job} ${s.revision}`);

test('scrubs take idle workers, one per job; a backup stops the scrub of its job and runs at once; damage shows at once', async () => {
  await withScrubbing(['a', 'b', 'c'], 2, async ({ base, clock, backups, logger, scheduler, old }) => {
    await scheduler.start();
    // Nothing to back up: both workers verify the overdue revisions, the first jobs first; c waits for a worker.
    assert.deepEqual(backups.running(), []);
    assert.deepEqual(scrubbing(backups), [`a ${old.a}`, `b ${old.b}`]);
    const a = join(base, 'a');
    assert.deepEqual(backups.scrubFor('a').argv, ['backy', '-b', a, '-l', join(a, 'backy.log'), 'verify', '-r', old.a]);
    assert.deepEqual(scheduler.status().scrub.running.map((s) => [s.job, s.revision, s.pid]), [['a', old.a, 20_001], ['b', old.b, 20_002]]);
    assert.ok(logger.lines.includes(`INFO job a: scrub of revision ${old.a} started, pid 20001`));

    // A backup of a, asked for now: a's scrub is stopped, the backup takes its worker.
    const aScrub = backups.scrubFor('a');
    assert.deepEqual(scheduler.runJob('a'), { ok: true });
    await until('the backup of a', () => backups.running().some((r) => r.job === 'a'));
    assert.deepEqual(aScrub.signals, ['SIGTERM']);
    assert.deepEqual(scrubbing(backups), [`b ${old.b}`], 'c still waits: two workers');
    assert.ok(logger.lines.includes(`INFO job a: scrub of revision ${old.a} stopped for a backup of a after 0.0 s; it is planned again`));

    // b's scrub proves its revision: the job shows it; c gets the free worker (a backs up, so its revisions wait).
    clock.advance(60_000);
    await backups.scrubFor('b').finish('verified');
    await until("c's scrub", () => backups.scrubbing().some((s) => s.job === 'c'));
    const b = scheduler.jobs().find((j) => j.name === 'b')!;
    // Since the backup of its other revision (an hour before the start) completed, a second later.
    assert.deepEqual([b.lastVerified, b.verifiedSince], [clock.now(), new Date('2026-11-27T11:00:01Z')]);

    // a's backup ends: its old revision is scrubbed again.
    await backups.runningFor('a').finish();
    await until("a's scrub again", () => backups.scrubbing().some((s) => s.job === 'a'));
    assert.deepEqual(scrubbing(backups), [`c ${old.c}`, `a ${old.a}`]);

    // c's revision is damaged: distrusted at once, in the status file too, and never scrubbed again.
    await backups.scrubFor('c').finish('damaged');
    await until('c distrusted', () => scheduler.jobs().find((j) => j.name === 'c')!.distrustedRevisions === 1);
    assert.ok(logger.lines.some((l) => l.startsWith(`ERROR job c: scrub of revision ${old.c} found damage`) && l.endsWith('it is distrusted now, and the next backup of c is a full one')));
    await backups.scrubFor('a').finish('verified');
    await until('no scrub', () => scheduler.status().scrub.running.length === 0);
    scheduler.tick();
    assert.deepEqual(scrubbing(backups), [], 'the rest was proven within the day, or is distrusted');
    await scheduler.writeStatus();
    const file = await readStatusFile(join(base, 'status'));
    assert.deepEqual(file.jobs.map((j) => [j.name, j.distrustedRevisions]), [['a', 0], ['b', 0], ['c', 1]]);
    assert.equal(file.scheduler.scrub.intervalSeconds, 30 * 86400);
    assert.equal(file.scheduler.scrub.readBytes, 2 * GiB, 'a and b were verified today; c failed its check');
  });
});

test('one worker: a due backup stops the scrub of another job; a failed scrub is tried a day later, a first hashing not at once; shutdown stops scrubs', async () => {
  await withScrubbing(['a', 'b'], 1, async ({ clock, backups, logger, scheduler, old }) => {
    await scheduler.start();
    assert.ok(scheduler.jobs().every((j) => j.nextBackup! > new Date('2026-11-29T00:00:00Z')), 'no backup falls due in this test');
    assert.deepEqual(scrubbing(backups), [`a ${old.a}`]);
    const first = backups.scrubFor('a');
    assert.deepEqual(scheduler.runJob('b'), { ok: true });
    await until('the backup of b', () => backups.running().some((r) => r.job === 'b'));
    assert.deepEqual(first.signals, ['SIGTERM']);
    assert.ok(logger.lines.includes(`INFO job a: scrub of revision ${old.a} stopped to free a worker for a backup after 0.0 s; it is planned again`));
    assert.deepEqual(scrubbing(backups), [], 'the only worker backs up');

    await backups.runningFor('b').finish();
    await until('the scrub of a again', () => backups.scrubbing().length === 1);
    // The verification cannot check it (say, its hash record is missing): no retry within a day.
    await backups.scrubFor('a').finish('failed');
    await until('the failure noted', () => logger.lines.some((l) => l.startsWith(`ERROR job a: scrub of revision ${old.a} failed`)));
    assert.ok(logger.lines.some((l) => l === `ERROR job a: scrub of revision ${old.a} failed with exit status 1; next attempt at 2026-11-28 12:00:00`), logger.lines.join('\n'));
    // b's old revision is overdue as well: it goes next. It had no recorded hashes: hashed now, it is
    // not read again at once (it counts as proven now, as a new backup does), though nothing was checked.
    await until("b's scrub", () => backups.scrubbing().length === 1);
    assert.deepEqual(scrubbing(backups), [`b ${old.b}`]);
    await backups.scrubFor('b').finish('recorded');
    await until('b hashed', () => scheduler.status().scrub.running.length === 0);
    assert.equal(scheduler.jobs().find((j) => j.name === 'b')!.lastVerified, null);
    clock.set('2026-11-28T11:59:59Z');
    scheduler.tick();
    assert.deepEqual(scrubbing(backups), []);
    clock.set('2026-11-28T12:00:00Z');
    scheduler.tick();
    assert.deepEqual(scrubbing(backups), [`a ${old.a}`]);

    const last = backups.scrubFor('a');
    await scheduler.stop();
    assert.deepEqual(last.signals, ['SIGTERM']);
    assert.ok(logger.lines.includes(`INFO job a: scrub of revision ${old.a} stopped for shutdown after 0.0 s; it is planned again`));
  });
});
