/**
 * A real scheduler with second-scale intervals backing up three real file
 * sources with two workers: cadence and tags, the worker limit, retention,
 * and a status file that is always valid and current.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import type { StatusSnapshot } from '../../src/scheduler/status-model.js';
import { planRetention } from '../../src/schedule/retention.js';
import { jobSpreadSeconds } from '../../src/schedule/spread.js';
import { BACKY_MAIN } from '../helpers/cli.js';
import { configText, freePort, revisions, SchedulerFixture } from './harness.js';

const schedule = [
  { tag: 'a', intervalSeconds: 2, keep: 3 },
  { tag: 'b', intervalSeconds: 5, keep: 2 },
];
const JOBS = ['alpha', 'beta', 'gamma'];
const WORKERS = 2;

interface Run {
  job: string;
  tags: string[];
  start: number;
  end: number | null;
}

/** A BACKY_CMD that records when each backup starts and ends, around the real backy. */
function recordingWrapper(fixture: SchedulerFixture): { command: string; runs(): Run[] } {
  const record = join(fixture.dir, 'runs.txt');
  const script = join(fixture.dir, 'recording-backy');
  writeFileSync(
    script,
    `#!/bin/sh
# args: -b JOBDIR -l LOG backup TAGS
echo "start $(date +%s.%N) $$ $(basename "$2") $6" >> '${record}'
'${process.execPath}' '${BACKY_MAIN}' "$@" &
child=$!
trap 'kill -TERM $child' TERM
wait $child; rc=$?
if [ $rc -gt 128 ]; then wait $child; rc=$?; fi
echo "end $(date +%s.%N) $$ $rc" >> '${record}'
exit $rc
`,
  );
  chmodSync(script, 0o755);
  return {
    command: script,
    runs: () => {
      const byPid = new Map<string, Run>();
      const runs: Run[] = [];
      if (!existsSync(record)) return runs;
      for (const line of readFileSync(record, 'utf8').split('\n').filter(Boolean)) {
        const [kind, time, pid, job, tags] = line.split(' ');
        if (kind === 'start') {
          const run = { job: job!, tags: tags!.split(','), start: Number(time), end: null };
          byPid.set(pid!, run);
          runs.push(run);
        } else {
          byPid.get(pid!)!.end = Number(time);
        }
      }
      return runs;
    },
  };
}

test('backups run at the cadence of their schedule, at most worker-limit at once, and retention keeps what the rules say', async () => {
  const fixture = new SchedulerFixture();
  try {
    const wrapper = recordingWrapper(fixture);
    const jobs = Object.fromEntries(JOBS.map((name) => [name, { schedule: 'fast', filename: fixture.source(`${name}.img`, 256 * 1024) }]));
    fixture.writeConfig(
      configText({ base: fixture.base, port: await freePort(), workerLimit: WORKERS, schedules: { fast: { a: { interval: '2s', keep: 3 }, b: { interval: '5s', keep: 2 } } }, jobs }),
    );
    const scheduler = fixture.start({ env: { BACKY_CMD: wrapper.command } });

    // Watch the status file while the scheduler works, until every job had six backups and
    // retention removed some of each job's revisions (about 11 s on an idle machine).
    const statusFile = join(fixture.base, 'status');
    const snapshots: StatusSnapshot[] = [];
    await fixture.waitFor('the first status file', () => existsSync(statusFile));
    await fixture.waitFor(
      'six backups of each job and some retention',
      async () => {
        snapshots.push(await readStatusFile(statusFile));
        const runs = wrapper.runs();
        return JOBS.every((job) => {
          const done = runs.filter((run) => run.job === job && run.end !== null).length;
          return done >= 6 && revisions(fixture.job(job)).length < done;
        });
      },
      90_000,
    );
    const exit = await scheduler.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, scheduler.output());
    const runs = wrapper.runs();

    // Never more than worker-limit backups at once: at every start, count the others still running.
    for (const run of runs) {
      const concurrent = runs.filter((other) => other.start <= run.start && (other.end === null || other.end > run.start));
      assert.ok(concurrent.length <= WORKERS, `${concurrent.length} backups ran at once at ${run.start}`);
    }
    assert.ok(Math.max(...snapshots.map((s) => s.scheduler.running.length)) <= WORKERS);

    for (const job of JOBS) {
      const mine = runs.filter((run) => run.job === job);
      // The first backup of a new job carries all its tags. Every later one starts after a slot of
      // one of its tags that came after the job's previous backup ended: a every 2 s, b every 5 s.
      assert.deepEqual(mine[0]?.tags, ['a', 'b'], `${job}: first backup`);
      const spread = jobSpreadSeconds(job, 5);
      const slotBetween = (interval: number, after: number, upTo: number) =>
        Math.floor((upTo - spread) / interval) * interval + spread > after;
      for (let i = 1; i < mine.length; i++) {
        const [previous, run] = [mine[i - 1]!, mine[i]!];
        assert.ok(run.tags.length > 0 && run.tags.every((t) => t === 'a' || t === 'b'), run.tags.join());
        const due = schedule.filter((rule) => run.tags.includes(rule.tag) && slotBetween(rule.intervalSeconds, previous.end!, run.start));
        assert.ok(due.length > 0, `${job}: backup ${i} (${run.tags.join()}) at ${run.start} had no slot since ${previous.end}`);
      }
      const withA = mine.filter((run) => run.tags.includes('a')).length;
      const withB = mine.filter((run) => run.tags.includes('b')).length;
      assert.ok(withB >= 2 && withA >= withB, `${job}: ${withA} backups tagged a, ${withB} tagged b`);
      assert.ok(mine.slice(0, -1).every((run) => run.end !== null));

      // Retention ran after each backup: what is left is what the rules keep.
      const left = revisions(fixture.job(job));
      assert.ok(left.every((r) => r.complete), `${job}: only complete revisions`);
      const newest = left.at(-1)!;
      const plan = planRetention(left, schedule, newest.timestamp);
      assert.deepEqual(plan, { retag: [], remove: [] }, `${job}: retention left work undone`);
      assert.ok(left.filter((r) => r.tags.includes('a')).length <= 3 + 1, `${job}: too many revisions tagged a`);
    }

    // The status file: valid all along, rewritten every second, and its plans are slots of the schedule.
    const written = snapshots.map((s) => s.written.getTime());
    assert.ok(new Set(written).size >= 5, 'the status file was rewritten about every second');
    const final = await readStatusFile(statusFile);
    assert.deepEqual(final.jobs.map((j) => j.name), JOBS);
    assert.ok(final.written.getTime() >= Math.max(...written));
    for (const snapshot of snapshots) {
      for (const job of snapshot.jobs) {
        assert.equal(job.schedule, 'fast');
        assert.equal(job.slaIntervalSeconds, 2);
        // Waiting for a worker or a catch-up due now: not a slot.
        if (job.state !== 'waiting' || job.nextBackup!.getTime() <= snapshot.written.getTime()) continue;
        const spread = jobSpreadSeconds(job.name, 5);
        const slotOf = (rule: (typeof schedule)[number]) =>
          (job.nextBackup!.getTime() - spread * 1000) % (rule.intervalSeconds * 1000) === 0;
        assert.ok(job.nextTags.some((tag) => slotOf(schedule.find((r) => r.tag === tag)!)), `${job.name}: ${job.nextBackup?.toISOString()} is no slot`);
        for (const rule of schedule) if (slotOf(rule)) assert.ok(job.nextTags.includes(rule.tag), `${job.name}: ${rule.tag} missing`);
      }
    }
    for (const job of final.jobs) {
      assert.equal(job.failures, 0);
      assert.ok(job.lastBackup && job.lastDuration !== null);
      assert.deepEqual(job.lastTags, revisions(fixture.job(job.name)).at(-1)!.tags);
    }
  } finally {
    fixture.cleanup();
  }
});
