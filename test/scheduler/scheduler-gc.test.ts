/**
 * The scheduler collects its jobs' shared chunk pool after retention
 * removed revisions; one that finds `backy gc` run by hand under way waits
 * for it (one INFO line, no error) and then collects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { resume, stoppedAt, untilStopped } from '../helpers/traced.js';
import { configText, freePort, SchedulerFixture } from './harness.js';

test('retention has the scheduler collect the pool; a collection run by hand meanwhile is waited for, not an error', async () => {
  const fixture = new SchedulerFixture();
  try {
    const source = fixture.source('vm.img', 256 * 1024);
    fixture.writeConfig(
      configText({
        base: fixture.base,
        port: await freePort(),
        global: { store: 'chunked' },
        schedules: { s: { a: { interval: '2s', keep: 1 } } },
        jobs: { vm: { schedule: 's', filename: source } },
      }),
    );
    const pool = join(fixture.base, '.chunks');
    const collected = () => fixture.schedulerLog().match(/INFO garbage collection of \S+\.chunks: \d+ chunks deleted/g)?.length ?? 0;
    const scheduler = fixture.start();
    await fixture.waitFor('a collection after retention', () => collected() > 0);

    // By hand, held (SIGSTOP) once it has the pool's collection lock, at its look into the writers directory.
    const manual = stoppedAt(fixture.dir, 'openat', ['-c', fixture.conf, 'gc'], { paths: [join(pool, 'writers')] });
    const pid = await untilStopped(manual, 'the collection by hand holding the lock');
    const waiting = /INFO garbage collection of (\S+) waits for the one another process is running \(looking again every 10 s\)/;
    await fixture.waitFor('the scheduler waiting for it', () => waiting.test(fixture.schedulerLog()));
    // Retention asks again after each backup (every 2 s), and the scheduler looks again after 10 s: one line all the same.
    const heldSince = Date.now();
    const backups = fixture.backupsFinished('vm');
    await fixture.waitFor('two more backups, each asking for a collection, while the one by hand runs', () => fixture.backupsFinished('vm') >= backups + 2);
    await sleep(Math.max(0, heldSince + 12_000 - Date.now()));
    assert.equal(fixture.schedulerLog().match(new RegExp(waiting.source, 'g'))?.length, 1, 'one line, however many retentions asked meanwhile');
    assert.equal(waiting.exec(fixture.schedulerLog())![1], pool);
    const before = collected();

    const done = await resume(manual, pid);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /INFO \d+ chunks deleted/);
    await fixture.waitFor('the scheduler collecting after it', () => collected() > before);
    assert.doesNotMatch(fixture.schedulerLog(), /ERROR garbage collection/);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
