/**
 * The scheduler collects its jobs' shared chunk pool after retention
 * removed revisions; one that finds `backy gc` run by hand under way waits
 * for it (one INFO line, no error) and then collects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN } from '../helpers/cli.js';
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

    // By hand, held for 20 s once it has the pool's collection lock (at its look into the writers directory).
    const trace = join(fixture.dir, 'gc-strace.log');
    const manual = spawn(
      'strace',
      ['-f', '-qq', '-o', trace, '-P', join(pool, 'writers'), '-e', 'trace=openat', '-e', 'inject=openat:delay_exit=20000000',
        process.execPath, BACKY_MAIN, '-c', fixture.conf, 'gc'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let manualOut = '';
    manual.stdout.on('data', (d: Buffer) => (manualOut += d.toString()));
    const manualExit = new Promise<number | null>((resolve) => manual.once('exit', resolve));
    await fixture.waitFor('the collection by hand holding the lock', () => existsSync(trace) && /openat/.test(readFileSync(trace, 'utf8')));
    const waiting = /INFO garbage collection of (\S+) waits for the one another process is running \(looking again every 30 s\)/;
    await fixture.waitFor('the scheduler waiting for it', () => waiting.test(fixture.schedulerLog()));
    assert.equal(manual.exitCode, null, 'the collection by hand still ran');
    assert.equal(fixture.schedulerLog().match(new RegExp(waiting.source, 'g'))?.length, 1, 'one line, however many retentions asked meanwhile');
    assert.equal(waiting.exec(fixture.schedulerLog())![1], pool);
    const before = collected();

    assert.equal(await manualExit, 0);
    assert.match(manualOut, /INFO \d+ chunks deleted/);
    await fixture.waitFor('the scheduler collecting after it', () => collected() > before, 60_000);
    assert.doesNotMatch(fixture.schedulerLog(), /ERROR garbage collection/);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
