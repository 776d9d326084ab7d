/**
 * A status file on a disk that hangs (a frozen filesystem: every write
 * waits until it is thawed): the periodic updates skip instead of piling
 * up, backups go on, and SIGTERM still ends the scheduler within its
 * grace time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mountLoopFilesystem } from '../helpers/loop-fs.js';
import { configText, freePort, revisions, SchedulerFixture } from './harness.js';

test('a hung status file write: later updates skip, backups go on, SIGTERM ends the scheduler all the same', async () => {
  const fixture = new SchedulerFixture();
  const disk = mountLoopFilesystem('ext4', '64M', { dir: fixture.dir });
  let frozen = false;
  const thaw = () => {
    if (frozen) execFileSync('fsfreeze', ['--unfreeze', disk.path]);
    frozen = false;
  };
  try {
    const statusFile = join(disk.path, 'status');
    const schedules = { fast: { a: { interval: '1s', keep: 2 } } };
    const jobs = { vm: { schedule: 'fast', filename: fixture.source('vm.img', 64 * 1024) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules, jobs, statusInterval: 1, global: { 'status-file': statusFile } }));
    const scheduler = fixture.start();
    await fixture.waitFor('the first status file', () => existsSync(statusFile));

    execFileSync('fsfreeze', ['--freeze', disk.path]);
    frozen = true;
    await fixture.waitFor('an update skipped', () => fixture.schedulerLog().includes(`WARN status file ${statusFile}: the last write is still in progress; skipping updates until it finishes`));
    const before = fixture.backupsFinished('vm');
    await fixture.waitFor('two more backups while the status file hangs', () => fixture.backupsFinished('vm') >= before + 2);
    assert.ok(revisions(fixture.job('vm')).some((r) => r.complete), 'backups made while the status file hangs are on disk');
    const log = fixture.schedulerLog();
    assert.equal(log.split('\n').filter((line) => line.includes('skipping updates')).length, 1, 'said once, not every second');

    // The scheduler ends its work within the grace time; the kernel lets the
    // process go once the thread stuck in the frozen filesystem returns.
    scheduler.child.kill('SIGTERM');
    await fixture.waitFor('the scheduler to stop', () => fixture.schedulerLog().includes('INFO scheduler stopped'));
    assert.match(fixture.schedulerLog(), /WARN the last status file write did not finish within 2 s; not waiting for it/);
    thaw();
    assert.deepEqual(await scheduler.exited, { code: 0, signal: null });
  } finally {
    thaw();
    disk.dispose();
    fixture.cleanup();
  }
});
