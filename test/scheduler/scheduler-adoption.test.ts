/**
 * The scheduler stays in charge of what it touches: it adopts only empty
 * directories and job directories, refuses system directories as base-dir,
 * relative source names and extreme status intervals, and keeps the other
 * jobs running when one job's name is taken by someone else's directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { converse, session } from '../monitoring/telnet-clients.js';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';
import { configText, freePort, revisions, SchedulerFixture } from './harness.js';

const schedules = { s: { daily: { interval: '1d', keep: 3 } } };

test('base-dir in the system, a relative source file, an extreme status-interval: one precise line, exit 1, nothing made', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const source = fixture.source('vm.img', 4096);
    const jobs = { vm: { schedule: 's', filename: source } };
    const refused = (text: string) => {
      fixture.writeConfig(text);
      const result = backy(['-c', fixture.conf, 'scheduler']);
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.stdout, '');
      return result.stderr;
    };
    const problem = (line: string) => `backy: ${fixture.conf}: invalid configuration (1 problem):\n${fixture.conf}: ${line}\n`;
    assert.equal(refused(configText({ base: '/', port, schedules, jobs })), problem('global: base-dir: / holds more than backups; use a directory of its own (e.g. /srv/backy)'));
    assert.equal(refused(configText({ base: '/etc', port, schedules, jobs })), problem('global: base-dir: /etc is a system directory; use a directory of its own (e.g. /srv/backy)'));
    assert.equal(refused(configText({ base: '/usr/lib/backy', port, schedules, jobs })), problem('global: base-dir: /usr is a system directory; use a directory of its own (e.g. /srv/backy)'));
    for (const interval of [0, 0.2, 3601, 86400]) {
      assert.equal(
        refused(configText({ base: fixture.base, port, schedules, jobs, statusInterval: interval })),
        problem('global: status-interval: expected a number of seconds from 1 to 3600 (e.g. 30)'),
        String(interval),
      );
    }
    assert.equal(
      refused(configText({ base: fixture.base, port, schedules, jobs: { vm: { schedule: 's', filename: 'images/vm.img' } } })),
      problem('job "vm": source.filename: "images/vm.img" is relative; the scheduler runs backups elsewhere: give the absolute path'),
    );
    // A base-dir that only leads into the system through a symbolic link.
    const link = join(fixture.dir, 'looks-fine');
    symlinkSync('/etc', link);
    assert.equal(refused(configText({ base: link, port, schedules, jobs })), `backy: base-dir ${link} leads to /etc: /etc is a system directory; use a directory of its own (e.g. /srv/backy)\n`);
    assert.ok(!existsSync('/etc/.lock') && !existsSync('/etc/vm'), 'nothing was made in /etc');
    assert.deepEqual(readdirSync(fixture.base), []);
  } finally {
    fixture.cleanup();
  }
});

test('a foreign directory under a job\'s name: that job is skipped, untouched and reported; the others run; SIGHUP retries it', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const jobs = {
      vm1: { schedule: 's', filename: fixture.source('vm1.img', 64 * 1024) },
      vm2: { schedule: 's', filename: fixture.source('vm2.img', 64 * 1024) },
      vm3: { schedule: 's', filename: fixture.source('vm3.img', 64 * 1024) },
    };
    // Someone's data where vm2's job directory would go; a file where vm3's would.
    const foreign = fixture.job('vm2');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'keep me\n');
    writeFileSync(join(foreign, 'disk.img'), 'not a backup\n');
    writeFileSync(fixture.job('vm3'), 'a file in the way\n');
    // vm1 is an existing job directory without its config (adopted: it has a revision file).
    mkdirSync(fixture.job('vm1'));
    writeFileSync(join(fixture.job('vm1'), '2QvWQu3sjCNDgXvmDFNuEL'), Buffer.alloc(64 * 1024));
    writeFileSync(join(fixture.job('vm1'), '2QvWQu3sjCNDgXvmDFNuEL.rev'), 'uuid: 2QvWQu3sjCNDgXvmDFNuEL\ntimestamp: 2015-01-01T00:00:00Z\ntags: [daily]\nparent: ""\nstats: {bytes_written: 1, duration: 1}\n');
    fixture.writeConfig(configText({ base: fixture.base, port, schedules, jobs }));
    const scheduler = fixture.start();
    await fixture.waitFor('a backup of vm1', () => revisions(fixture.job('vm1')).filter((r) => r.complete).length === 2);
    const status = await fixture.waitForStatus(
      'the skipped jobs and the new backup in the status file',
      (s) => s.scheduler.skipped.length === 2 && s.jobs[0]!.lastBackup! > new Date('2020-01-01'),
    );
    assert.deepEqual(status.jobs.map((j) => j.name), ['vm1']);
    const vm2Reason = `job vm2: ${foreign} is not a job directory (it holds "disk.img", "notes.txt", but no config naming a source and no revisions); nothing in it was touched: move it away or rename the job`;
    assert.deepEqual(status.scheduler.skipped, [
      { job: 'vm2', reason: vm2Reason },
      { job: 'vm3', reason: `job vm3: ${fixture.job('vm3')} is in the way and not a directory; move it away or rename the job` },
    ]);
    assert.ok(fixture.schedulerLog().includes(`ERROR ${vm2Reason}; the job is skipped until then`));
    assert.deepEqual(readdirSync(foreign).sort(), ['disk.img', 'notes.txt'], 'nothing was added or removed');
    assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'keep me\n');
    assert.equal(readFileSync(fixture.job('vm3'), 'utf8'), 'a file in the way\n');

    const nagios = backy(['-c', fixture.conf, 'check']);
    assert.equal(nagios.status, 2);
    assert.match(nagios.stdout, /^CRITICAL: 2 of 3 jobs skipped by the scheduler: vm2, vm3 \(see its log\) \| /);
    const talk = await converse('telnet', ['127.0.0.1', String(port)], ['run vm2\n', 'status\n', 'quit\n']);
    const [run, report] = session(talk.stdout).split(TELNET_PROMPT).slice(1);
    assert.equal(run, `cannot run vm2: job "vm2" is skipped: ${vm2Reason}\n`);
    assert.match(report!, /\nSkipped: +2: vm2, vm3 \(see the log\)\n/);

    // Moved away: the next reload takes the job on.
    renameSync(foreign, join(fixture.dir, 'rescued'));
    scheduler.child.kill('SIGHUP');
    await fixture.waitFor('a backup of vm2 after the reload', () => revisions(fixture.job('vm2')).some((r) => r.complete));
    const after = await fixture.waitForStatus('vm2 in the status file', (s) => s.jobs.some((j) => j.name === 'vm2'));
    assert.deepEqual(after.scheduler.skipped.map((s) => s.job), ['vm3']);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
