/**
 * Signals to a real scheduler: SIGTERM stops a running backup (which
 * removes its incomplete revision) and exits 0; SIGHUP adds and removes
 * jobs, and an invalid file keeps the running configuration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { backy } from '../helpers/cli.js';
import { attachLoopDevice } from '../helpers/loop-fs.js';
import { configText, freePort, revisions, SchedulerFixture, waitFor } from './harness.js';

const fast = { fast: { a: { interval: '2s', keep: 2 } } };

test('SIGTERM: the running backup is stopped, its revision removed, the final status written, exit 0', async () => {
  const fixture = new SchedulerFixture();
  // A large block device keeps the first backup busy for a while (a sparse
  // file would not: its holes are skipped).
  const backing = fixture.source('big.img', 4 * 1024 ** 3, { sparse: true });
  const device = attachLoopDevice(backing);
  try {
    const source = device.device;
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules: fast, jobs: { big: { schedule: 'fast', filename: source } } }));
    const scheduler = fixture.start();
    const job = fixture.job('big');
    await fixture.waitFor('the backup to be under way', () => revisions(job).some((r) => !r.complete));
    const signalled = new Date();
    const exit = await scheduler.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, scheduler.output());

    assert.deepEqual(revisions(job), [], 'the aborted backup left no revision behind');
    const log = fixture.schedulerLog();
    assert.match(log, /INFO SIGTERM received: shutting down/);
    assert.match(log, /job big: backup \(a\) stopped for shutdown \(exit status 1\)/);
    assert.match(log, /INFO scheduler stopped/);
    assert.match(readFileSync(join(job, 'backy.log'), 'utf8'), /interrupted by SIGTERM/);
    const status = await readStatusFile(join(fixture.base, 'status'));
    assert.ok(status.written >= signalled, 'the final status was written at shutdown');
    assert.deepEqual(status.scheduler.running, []);
    assert.equal(status.jobs[0]!.state, 'waiting');
    assert.equal(status.jobs[0]!.failures, 0, 'a backup stopped for shutdown is no failure');

    // The next backup finds nothing incomplete to clear and completes (on a
    // device shrunk to 1 MiB, so that it is quick).
    truncateSync(backing, 1024 * 1024);
    execFileSync('losetup', ['--set-capacity', device.device]);
    const next = backy(['-b', job, 'backup', 'a']);
    assert.equal(next.status, 0, next.stderr);
    const left = revisions(job);
    assert.equal(left.length, 1);
    assert.ok(left[0]!.complete);
  } finally {
    device.detach();
    fixture.cleanup();
  }
});

test('SIGHUP: jobs are added and removed; an invalid file keeps the running configuration and says why', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const first = fixture.source('first.img', 64 * 1024);
    const second = fixture.source('second.img', 64 * 1024);
    fixture.writeConfig(configText({ base: fixture.base, port, schedules: fast, jobs: { first: { schedule: 'fast', filename: first } } }));
    const scheduler = fixture.start();
    await fixture.waitFor('a backup of the first job', () => revisions(fixture.job('first')).some((r) => r.complete));

    fixture.writeConfig(configText({ base: fixture.base, port, schedules: fast, jobs: { second: { schedule: 'fast', filename: second } } }));
    scheduler.child.kill('SIGHUP');
    await fixture.waitFor('a backup of the added job', () => revisions(fixture.job('second')).some((r) => r.complete));
    assert.deepEqual(readFileSync(join(fixture.job('second'), 'config'), 'utf8'), `type: file\nfilename: ${second}\n`);
    const status = await fixture.waitForStatus('the removed job gone from the status file', (s) => s.jobs.map((j) => j.name).join() === 'second');
    assert.equal(status.jobs[0]!.schedule, 'fast');
    // The removed job's directory stays, and it gets no more backups.
    const firstCount = revisions(fixture.job('first')).length;
    assert.ok(existsSync(join(fixture.job('first'), 'config')));
    assert.match(fixture.schedulerLog(), /job first: removed from the configuration \(its job directory is kept\)/);

    // The manual's example mistake: an undefined schedule.
    fixture.writeConfig(
      configText({ base: fixture.base, port, schedules: fast, jobs: { second: { schedule: 'hourly', filename: second } } }),
    );
    const reloaded = new Date();
    scheduler.child.kill('SIGHUP');
    // The refusal and its problem are two log lines, written one after the other: wait for the second.
    await fixture.waitFor('the refused reload and its problem in the log', () => fixture.schedulerLog().includes('is not a defined schedule'));
    const log = fixture.schedulerLog();
    assert.match(log, new RegExp(`ERROR reloading the configuration failed; keeping the running configuration: ${fixture.conf}: invalid configuration \\(1 problem\\):`));
    assert.match(log, new RegExp(`ERROR ${fixture.conf}: job "second": schedule: "hourly" is not a defined schedule \\(defined schedules: fast\\)`));
    // Still running the old configuration: new backups of "second" keep coming.
    await fixture.waitFor('a backup after the refused reload', () => revisions(fixture.job('second')).some((r) => r.timestamp > reloaded));
    const after = await fixture.waitForStatus('a status file after the refused reload', (s) => s.written > reloaded);
    assert.deepEqual(after.jobs.map((j) => [j.name, j.schedule]), [['second', 'fast']]);

    // A FIFO in the file's place: refused at once; the reload waited for a writer for ever, and SIGTERM with it.
    rmSync(fixture.conf);
    execFileSync('mkfifo', [fixture.conf]);
    scheduler.child.kill('SIGHUP');
    // The harness's own waitFor reads the configuration (for the catch-up hold), which a FIFO would block.
    await waitFor('the reload refusing the FIFO', () => fixture.schedulerLog().includes('it is a FIFO, not a regular file'));
    assert.match(fixture.schedulerLog(), new RegExp(`ERROR reloading the configuration failed; keeping the running configuration: cannot read configuration file ${fixture.conf}: it is a FIFO, not a regular file`));

    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
    assert.equal(revisions(fixture.job('first')).length, firstCount);
    assert.ok(statSync(fixture.job('first')).isDirectory());
  } finally {
    fixture.cleanup();
  }
});
