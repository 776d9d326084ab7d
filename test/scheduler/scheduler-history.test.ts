/**
 * A scheduler that finds history in its job directories: after a pause it
 * catches up (a real restart under faketime, days later), it applies the
 * retention rules to old revisions, and only one scheduler runs per base
 * directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { nextSlot, planNextRun } from '../../src/schedule/next-run.js';
import { jobSpreadSeconds } from '../../src/schedule/spread.js';
import { backy } from '../helpers/cli.js';
import { configText, freePort, revisions, SchedulerFixture } from './harness.js';

const DAY = 86400;
const often = [
  { tag: 'hourly', intervalSeconds: 3600, keep: 5 },
  { tag: 'daily', intervalSeconds: DAY, keep: 3 },
];

/** A job name whose next hourly slot, at the given time, is 15 to 55 minutes away (so catch-up cannot wait for it). */
function nameWithDistantSlot(at: Date): string {
  for (let i = 0; ; i++) {
    const name = `vm${i}`;
    const wait = nextSlot(3600, jobSpreadSeconds(name, DAY), at).getTime() - at.getTime();
    if (wait > 15 * 60_000 && wait < 55 * 60_000) return name;
  }
}

test('restarted after eight days, the scheduler catches up: now when the next slot is far, else with the next run', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const pause = 8 * DAY * 1000;
    const slow = nameWithDistantSlot(new Date(Date.now() + pause));
    fixture.writeConfig(
      configText({
        base: fixture.base,
        port,
        workerLimit: 2,
        schedules: {
          often: { hourly: { interval: '1h', keep: 5 }, daily: { interval: '1d', keep: 3 } },
          quick: { a: { interval: '2s', keep: 2 }, weekly: { interval: '1w', keep: 2 } },
        },
        jobs: { [slow]: { schedule: 'often', filename: fixture.source('slow.img', 64 * 1024) }, quick: { schedule: 'quick', filename: fixture.source('quick.img', 64 * 1024) } },
      }),
    );
    const first = fixture.start();
    const backedUp = (name: string) => revisions(fixture.job(name)).some((r) => r.complete);
    await fixture.waitFor('the first backup of each job', () => backedUp(slow) && backedUp('quick'));
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    assert.deepEqual(revisions(fixture.job(slow))[0]!.tags, ['hourly', 'daily'], 'a new job is backed up at once with all tags');

    // Eight days later (faketime shifts the scheduler's clock and its backups').
    const restart = new Date(Date.now() + pause);
    const second = fixture.start({ faketime: `+${8 * 24}h` });
    await fixture.waitFor('the catch-up backup', () => revisions(fixture.job(slow)).length === 2);
    const caughtUp = revisions(fixture.job(slow))[1]!;
    assert.deepEqual(caughtUp.tags, ['hourly', 'daily']);
    assert.ok(caughtUp.timestamp >= restart, 'the catch-up ran under the shifted clock');

    // The quick job's missed weekly tag joined its next 2-second run, then a runs alone.
    const quickAfter = () => revisions(fixture.job('quick')).filter((r) => r.timestamp >= restart && r.complete);
    await fixture.waitFor('two backups of the quick job after the restart', () => quickAfter().length >= 2);
    assert.deepEqual(quickAfter()[0]!.tags, ['a', 'weekly']);
    assert.deepEqual(quickAfter()[1]!.tags, ['a']);

    // The caught-up job now waits for its regular slot, more than 5 minutes away.
    const status = await fixture.waitForStatus('the caught-up job waiting', (s) =>
      s.jobs.some((j) => j.name === slow && j.state === 'waiting' && j.lastBackup?.getTime() === caughtUp.timestamp.getTime()),
    );
    const job = status.jobs.find((j) => j.name === slow)!;
    const expected = planNextRun(often, jobSpreadSeconds(slow, DAY), revisions(fixture.job(slow)), status.written);
    assert.equal(expected.reason, 'regular');
    assert.deepEqual([job.nextBackup, job.nextTags], [expected.at, expected.tags]);
    assert.ok(job.nextBackup!.getTime() - status.written.getTime() > 5 * 60_000);

    // A second scheduler on the same base directory is refused.
    const again = backy(['-c', fixture.conf, 'scheduler']);
    assert.equal(again.status, 1);
    assert.equal(again.stderr, `backy: another scheduler is already running for ${fixture.base} (pid ${status.scheduler.pid})\n`);

    assert.deepEqual(await second.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('retention: old revisions beyond keep lose their tags and go; ad-hoc tags and the newest stay', async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 64 * 1024);
    const job = fixture.job('vm');
    assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
    // History made by hand, then moved into the past: days ago, tags.
    const past: [number, string][] = [
      [5, 'before-upgrade'],
      [4.5, 'daily'],
      [3.5, 'daily'],
      [2.5, 'daily'],
      [1.5, 'daily'],
    ];
    const now = Date.now();
    for (const [, tags] of past) {
      const made = backy(['-b', job, 'backup', tags]);
      assert.equal(made.status, 0, made.stderr);
    }
    const made = revisions(job);
    made.forEach((revision, i) => {
      const path = join(job, `${revision.uuid}.rev`);
      const data = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      data.timestamp = new Date(now - past[i]![0] * DAY * 1000).toISOString();
      writeFileSync(path, YAML.stringify(data));
    });
    const id = (days: number) => made[past.findIndex(([d]) => d === days)]!.uuid;

    fixture.writeConfig(
      configText({
        base: fixture.base,
        port: await freePort(),
        schedules: { s: { a: { interval: '2s', keep: 1 }, daily: { interval: '1d', keep: 2 } } },
        jobs: { vm: { schedule: 's', filename: source } },
      }),
    );
    const scheduler = fixture.start();
    await fixture.waitFor('retention of the old daily revisions', () => !revisions(job).some((r) => r.uuid === id(2.5)));
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });

    const left = revisions(job);
    const byId = new Map(left.map((r) => [r.uuid, r]));
    assert.deepEqual(byId.get(id(5))?.tags, ['before-upgrade'], 'ad-hoc tags never expire');
    assert.deepEqual(byId.get(id(1.5))?.tags, ['daily'], 'within the newest 2 daily revisions');
    for (const days of [4.5, 3.5, 2.5]) assert.ok(!byId.has(id(days)), `the daily revision of ${days} days ago is gone`);
    // The daily tag was missed: it joined the first 2-second run.
    const fresh = left.filter((r) => !made.some((m) => m.uuid === r.uuid));
    assert.deepEqual(fresh[0]?.tags, ['a', 'daily']);
    assert.equal(readlinkSync(join(job, 'last')), left.at(-1)!.uuid);
    assert.match(fixture.schedulerLog(), new RegExp(`removing revision ${id(4.5)} \\(expired from daily\\)`));
  } finally {
    fixture.cleanup();
  }
});
