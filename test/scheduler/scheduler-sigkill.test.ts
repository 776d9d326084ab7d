/**
 * A scheduler killed with SIGKILL cannot stop its backups itself: the
 * backup notices that its scheduler is gone (its lifeline pipe ends),
 * aborts as on SIGTERM, removes its incomplete revision and releases the
 * job's lock, so the next scheduler backs the job up at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { attachLoopDevice } from '../helpers/loop-fs.js';
import { configText, freePort, revisions, running, SchedulerFixture } from './harness.js';

test('SIGKILL to the scheduler mid-backup: the backup ends itself, leaves no revision, and the next scheduler backs up', async () => {
  const fixture = new SchedulerFixture();
  // A large block device keeps the backup busy (holes of a sparse file would be skipped).
  const backing = fixture.source('big.img', 4 * 1024 ** 3, { sparse: true });
  const device = attachLoopDevice(backing);
  try {
    const schedules = { fast: { a: { interval: '1h', keep: 2 } } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules, jobs: { big: { schedule: 'fast', filename: device.device } } }));
    const job = fixture.job('big');
    const first = fixture.start();
    await fixture.waitFor('the backup to be under way', () => revisions(job).some((r) => !r.complete));
    const status = await fixture.waitForStatus('the running backup in the status file', (s) => s.scheduler.running.length === 1);
    const backup = status.scheduler.running[0]!.pid!;
    assert.ok(running(backup));

    first.child.kill('SIGKILL');
    assert.deepEqual(await first.exited, { code: null, signal: 'SIGKILL' });
    await fixture.waitFor(`backup pid ${backup} to end without its scheduler`, () => !running(backup));
    assert.deepEqual(revisions(job), [], 'the aborted backup removed its incomplete revision');
    assert.match(readFileSync(join(job, 'backy.log'), 'utf8'), /interrupted: the scheduler that started this backup is gone/);

    // The next scheduler finds the job's lock free and backs up at once (on a 1 MiB device now, so that it is quick).
    truncateSync(backing, 1024 * 1024);
    execFileSync('losetup', ['--set-capacity', device.device]);
    const second = fixture.start();
    await fixture.waitFor('a complete backup by the next scheduler', () => revisions(job).some((r) => r.complete));
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.doesNotMatch(readFileSync(join(job, 'backy.log'), 'utf8'), /already in progress/);
    assert.doesNotMatch(fixture.schedulerLog(), /already in progress|another scheduler/);
    assert.ok(existsSync(join(fixture.base, 'status')));
    assert.deepEqual((await readStatusFile(join(fixture.base, 'status'))).jobs.map((j) => [j.name, j.failures]), [['big', 0]]);
  } finally {
    device.detach();
    fixture.cleanup();
  }
});
