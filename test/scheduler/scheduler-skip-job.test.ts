/**
 * Whatever is wrong in one job's directory skips that job, with its reason
 * shown where foreign directories are: the scheduler starts (and reloads)
 * and the other jobs back up. A config that cannot be read is never
 * written over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configText, freePort, SchedulerFixture } from './harness.js';

test("one job's FIFO or symlinked .first-seen, a config that is a directory or unreadable: that job skipped, the others back up", async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 64 * 1024);
    const names = ['fifo', 'link', 'dir', 'broken', 'ok'];
    const config = (jobs: string[]) =>
      configText({
        base: fixture.base,
        port: 0,
        schedules: { s: { daily: { interval: '1d', keep: 3 } } },
        jobs: Object.fromEntries(jobs.map((name) => [name, { schedule: 's', filename: source }])),
      });
    const port = await freePort();
    const withPort = (text: string) => text.replace(/telnet-port: 0/, `telnet-port: ${port}`);
    // The job with a config of its own backs up once first: its revisions make the directory the job's.
    fixture.writeConfig(withPort(config(['broken'])));
    const first = fixture.start();
    await fixture.waitForStatus('a backup of "broken"', (s) => s.jobs[0]?.lastBackup !== null);
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    const brokenConfig = join(fixture.job('broken'), 'config');
    writeFileSync(brokenConfig, '{type: file\n');

    mkdirSync(fixture.job('fifo'));
    execFileSync('mkfifo', [join(fixture.job('fifo'), '.first-seen')]);
    mkdirSync(fixture.job('link'));
    symlinkSync(join(fixture.dir, 'elsewhere'), join(fixture.job('link'), '.first-seen'));
    mkdirSync(join(fixture.job('dir'), 'config'), { recursive: true });

    fixture.writeConfig(withPort(config(names)));
    const second = fixture.start();
    const status = await fixture.waitForStatus('a backup of "ok"', (s) => s.scheduler.pid === second.child.pid && s.jobs.some((j) => j.name === 'ok' && j.lastBackup));
    assert.deepEqual(status.jobs.map((j) => j.name), ['ok']);
    const reasons = new Map(status.scheduler.skipped.map((s) => [s.job, s.reason]));
    assert.deepEqual([...reasons.keys()].sort(), ['broken', 'dir', 'fifo', 'link']);
    for (const [name, reason] of reasons) {
      assert.ok(reason.startsWith(`job ${name}: `) && !reason.includes('\n'), reason);
    }
    assert.match(reasons.get('link')!, /\.first-seen is a symbolic link; remove it$/);
    assert.match(reasons.get('broken')!, /invalid YAML: .*not rewritten/);
    assert.equal(readFileSync(brokenConfig, 'utf8'), '{type: file\n', 'the unreadable config is left as it was');

    // A reload with the same directories fails no more than the start did.
    second.child.kill('SIGHUP');
    await fixture.waitFor('the reload', () => fixture.schedulerLog().includes('configuration reloaded') || fixture.schedulerLog().includes('reloading the configuration failed'));
    assert.doesNotMatch(fixture.schedulerLog(), /reloading the configuration failed/);
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.equal(readFileSync(brokenConfig, 'utf8'), '{type: file\n');
    rmSync(join(fixture.job('fifo'), '.first-seen'));
  } finally {
    fixture.cleanup();
  }
});
