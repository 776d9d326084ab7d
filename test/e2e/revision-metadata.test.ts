/**
 * `.rev` files that say less than backy writes: what the scheduler's
 * retention and `status` make of them. A real scheduler and real job
 * directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { configText, freePort, SchedulerFixture } from '../scheduler/harness.js';

for (const [what, tags] of [
  ['no tags key', ''],
  ['tags: null', 'tags: null\n'],
] as const) {
  test(`a revision whose .rev has ${what} is unreadable: retention keeps it, status names it`, async () => {
    const fixture = new SchedulerFixture();
    try {
      const source = fixture.source('vm.img', 64 * 1024);
      fixture.writeConfig(
        configText({ base: fixture.base, port: await freePort(), schedules: { default: { daily: { interval: '1d', keep: 1 } } }, jobs: { vm: { schedule: 'default', filename: source } } }),
      );
      const job = fixture.job('vm');
      mkdirSync(job);
      writeFileSync(join(job, 'config'), `source: {type: file, filename: ${source}}\nstore: cow\n`);
      // As backy 2.x laid a revision out, two days ago, but with its tags lost.
      writeFileSync(join(job, '1'), 'its data');
      writeFileSync(join(job, '1.rev'), `parent: null\nstats: {bytes_written: 8, duration: 1.0}\n${tags}timestamp: ${new Date(Date.now() - 2 * 86400_000).toISOString()}\nuuid: '1'\n`);
      const status = backy(['-b', job, 'status']);
      assert.match(status.stdout, /1 .*\[unreadable \.rev\]/);

      const scheduler = fixture.start();
      await fixture.waitFor('a backup of the job to finish', () => (fixture.backupsFinished('vm') >= 1 ? true : null));
      // Retention runs after the backup, in the same turn of the job.
      await fixture.waitFor('the job to be idle', async () => {
        const snapshot = await fixture.waitForStatus('a status', () => true);
        return snapshot.scheduler.running.length === 0 ? true : null;
      });
      assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
      assert.ok(existsSync(join(job, '1')), `retention removed revision 1's data:\n${fixture.schedulerLog()}`);
      assert.ok(existsSync(join(job, '1.rev')), 'retention removed revision 1');
    } finally {
      fixture.cleanup();
    }
  });
}
