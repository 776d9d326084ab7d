/**
 * backup-completed-callback on a real scheduler: the hook gets the job's
 * name and its `backy status --yaml` on stdin after each completed backup;
 * one that fails is logged; one that hangs is killed after callback-timeout
 * and never holds up the next backups.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy } from '../helpers/cli.js';
import { configText, freePort, revisions, SchedulerFixture } from './harness.js';

function script(fixture: SchedulerFixture, name: string, body: string): string {
  const path = join(fixture.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test('the completion hook gets the job name and its status --yaml; a failing hook is logged', async () => {
  const fixture = new SchedulerFixture();
  try {
    const record = join(fixture.dir, 'hook-calls');
    const hook = script(fixture, 'record-hook', `{ echo "job: $1"; cat; echo "--- end"; } >> ${record}\necho "recorded $1"\n[ "$1" = beta ] && { echo "beta refused" >&2; exit 3; }\nexit 0`);
    const schedules = { s: { daily: { interval: '1d', keep: 3 } } };
    const jobs = { alpha: { schedule: 's', filename: fixture.source('alpha.img', 64 * 1024) }, beta: { schedule: 's', filename: fixture.source('beta.img', 4096) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules, jobs, global: { 'backup-completed-callback': hook } }));
    const scheduler = fixture.start();
    await fixture.waitFor('both hooks to run', () => /beta-completion|failed with exit status 3/.test(fixture.schedulerLog()) && /alpha: backup-completed-callback .* succeeded/.test(fixture.schedulerLog()));
    const calls = readFileSync(record, 'utf8').split('--- end\n').filter((c) => c.length > 0);
    const alpha = calls.find((c) => c.startsWith('job: alpha\n'))!;
    const received = YAML.parse(alpha.slice('job: alpha\n'.length)) as Array<{ uuid: string; tags: string[]; trust: string; size: number }>;
    // Exactly what `backy status --yaml` prints for the job.
    const expected = backy(['-b', fixture.job('alpha'), 'status', '--yaml']);
    assert.equal(expected.status, 0, expected.stderr);
    assert.equal(alpha.slice('job: alpha\n'.length), expected.stdout);
    assert.deepEqual(received.map((r) => [r.uuid, r.tags, r.trust, r.size]), revisions(fixture.job('alpha')).map((r) => [r.uuid, ['daily'], 'trusted', 64 * 1024]));
    const log = fixture.schedulerLog();
    assert.match(log, new RegExp(`INFO job alpha: backup-completed-callback ${hook} succeeded: recorded alpha`));
    assert.match(log, new RegExp(`ERROR job beta: backup-completed-callback ${hook} failed with exit status 3: recorded beta / beta refused`));
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('a hook that hangs is killed after callback-timeout, with what it started; backups go on meanwhile', async () => {
  const fixture = new SchedulerFixture();
  try {
    const pids = join(fixture.dir, 'hook-pids');
    // The hook starts a child of its own and waits for ever.
    const hook = script(fixture, 'hanging-hook', `sleep 1000 &\necho $! >> ${pids}\nwait`);
    const schedules = { fast: { a: { interval: '1s', keep: 5 } } };
    const jobs = { vm: { schedule: 'fast', filename: fixture.source('vm.img', 4096) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules, jobs, global: { 'backup-completed-callback': hook, 'callback-timeout': 4 } }));
    const scheduler = fixture.start();
    await fixture.waitFor('the first hook killed', () => fixture.schedulerLog().includes('killed after its timeout of 4 s'), 60_000);
    const log = fixture.schedulerLog();
    const killedAt = log.indexOf('killed after its timeout of 4 s');
    const finishedBefore = log.slice(0, killedAt).match(/INFO job vm: backup \(a\) finished/g)?.length ?? 0;
    assert.ok(finishedBefore >= 2, `backups went on while the first hook hung (${finishedBefore} finished before it was killed)`);
    const sleeper = Number(readFileSync(pids, 'utf8').split('\n')[0]);
    await fixture.waitFor("the hook's own child to be gone", () => !existsSync(`/proc/${sleeper}`) || /\) Z /.test(readFileSync(`/proc/${sleeper}/stat`, 'utf8')));
    assert.ok(revisions(fixture.job('vm')).filter((r) => r.complete).length >= 2);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('a hook that exits leaving a child that holds its output: logged with its output once the timeout passes, the child left alone', async () => {
  const fixture = new SchedulerFixture();
  let sleeper = 0;
  try {
    const pids = join(fixture.dir, 'hook-pids');
    const hook = script(fixture, 'daemonizing-hook', `echo "notifier for $1 started"\nsleep 1000 &\necho $! >> ${pids}\nexit 0`);
    const schedules = { s: { daily: { interval: '1d', keep: 1 } } };
    const jobs = { vm: { schedule: 's', filename: fixture.source('vm.img', 4096) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules, jobs, global: { 'backup-completed-callback': hook, 'callback-timeout': 2 } }));
    const scheduler = fixture.start();
    await fixture.waitFor('the hook logged', () => fixture.schedulerLog().includes('backup-completed-callback'), 60_000);
    assert.match(fixture.schedulerLog(), new RegExp(`INFO job vm: backup-completed-callback ${hook} succeeded: notifier for vm started\n`));
    sleeper = Number(readFileSync(pids, 'utf8').split('\n')[0]);
    assert.ok(existsSync(`/proc/${sleeper}`), 'what the hook left running is not killed');
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    if (sleeper > 0 && existsSync(`/proc/${sleeper}`)) process.kill(sleeper, 'SIGKILL');
    fixture.cleanup();
  }
});
