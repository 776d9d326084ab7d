/**
 * Monitoring a real `backy scheduler` process: `backy check` against the
 * status file it writes, and its telnet shell through the real `telnet`
 * program (`jobs`, `status`, `run`), then `check` once the scheduler has
 * been gone for ten minutes (faketime).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';
import { backy, BACKY_MAIN } from '../helpers/cli.js';
import { configText, freePort, revisions, SchedulerFixture } from '../scheduler/harness.js';
import { parsePluginOutput } from './status-fixtures.js';
import { converse, session } from './telnet-clients.js';

const P = TELNET_PROMPT;
const HEAD = '| Job   | SLA | Status  | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags |';

test('check and the telnet shell against a running scheduler', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const schedules = { default: { daily: { interval: '1d', keep: 3 } } };
    const jobs = {
      beta: { schedule: 'default', filename: fixture.source('beta.img', 64 * 1024) },
      alpha: { schedule: 'default', filename: fixture.source('alpha.img', 64 * 1024) },
    };
    fixture.writeConfig(configText({ base: fixture.base, port, schedules, jobs }));
    const scheduler = fixture.start();
    // Jobs without a backup get one at once; then the scheduler is idle.
    await fixture.waitForStatus('the first backups', (s) => s.jobs.length === 2 && s.jobs.every((j) => j.lastBackup) && s.scheduler.running.length === 0);

    let check = backy(['-c', fixture.conf, 'check']);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const { text, perfdata } = parsePluginOutput(check.stdout);
    assert.equal(text, 'OK: all 2 jobs within SLA');
    const ages = ['oldest_backup_age', 'oldest_verification_age'];
    assert.deepEqual(perfdata.map((d) => `${d.label}=${ages.includes(d.label) ? '' : d.value}${d.uom}`), [
      'jobs=2',
      'overdue=0',
      'oldest_backup_age=s',
      'distrusted=0',
      'oldest_verification_age=s',
    ]);
    assert.ok(perfdata[2].value < 600, 'the backups were made moments ago');
    assert.ok(perfdata[4].value <= perfdata[2].value, 'and verified as they were made');

    const first = await converse('telnet', ['127.0.0.1', String(port)], ['jobs\n', 'status\n', 'run alpha\n', 'run nosuch\n', 'quit\n']);
    const [jobsAnswer, statusAnswer, runAnswer, refusal] = session(first.stdout).split(P).slice(1);
    const rows = jobsAnswer.trimEnd().split('\n');
    assert.equal(rows[1], HEAD);
    assert.equal(rows.at(-1), '2 jobs shown');
    const cells = rows.slice(3, -2).map((row) => row.split('|').map((cell) => cell.trim()).slice(1, -1));
    assert.deepEqual(cells.map((row) => [row[0], row[1], row[2], row[4], row[7]]), [
      ['alpha', 'OK', 'waiting', 'daily', 'daily'],
      ['beta', 'OK', 'waiting', 'daily', 'daily'],
    ]);
    for (const row of cells) {
      assert.match(row[3], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.match(row[5], /^\d+\.\d s$/);
      assert.match(row[6], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    }
    const statusLines = statusAnswer.trimEnd().split('\n');
    assert.match(statusLines[0], new RegExp(`^Scheduler: +backy \\S+, pid ${scheduler.child.pid}$`));
    assert.match(statusLines[1], /^Uptime: +\d+s \(started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
    assert.match(statusLines[2], new RegExp(`^Configuration: ${fixture.conf} \\(loaded \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)$`));
    assert.deepEqual(statusLines.slice(3, 10), [
      'Workers:       0 busy, 1 idle (worker-limit 1)',
      'Jobs:          2 (0 overdue, 0 failed)',
      'Queued:        none',
      'Running:       none',
      // Two revisions of 64 KiB to read in 30 days; both are fresh, so nothing was read yet.
      'Scrubbing:     every 30d, budget 4.27 kiB a day, 0 Bytes read today; running: none',
      '+-------+---------------------+--------------------------+------------+',
      '| Job   | Last Verified (UTC) | All Verified Since (UTC) | Distrusted |',
    ]);
    assert.equal(statusLines.length, 14);
    for (const [row, name] of [[statusLines[11], 'alpha'], [statusLines[12], 'beta ']]) {
      assert.match(row, new RegExp(`^\\| ${name} \\| -  +\\| \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +\\| +0 \\|$`));
    }
    assert.equal(runAnswer, 'alpha: backup queued with tags daily\n');
    assert.equal(refusal, 'cannot run nosuch: no job named "nosuch"\n');

    await fixture.waitFor('the backup queued from the telnet shell', () => revisions(fixture.job('alpha')).filter((r) => r.complete).length === 2);
    await fixture.waitForStatus('the scheduler idle again', (s) => s.scheduler.running.length === 0);
    assert.equal(revisions(fixture.job('beta')).length, 1, 'only the job asked for ran');

    check = backy(['-c', fixture.conf, 'check']);
    assert.equal(check.status, 0, check.stdout);
    assert.equal(parsePluginOutput(check.stdout).text, 'OK: all 2 jobs within SLA');

    // The scheduler stops; ten minutes later its status file gives it away.
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
    const late = spawnSync('faketime', ['-f', '+10m', process.execPath, BACKY_MAIN, '-c', fixture.conf, 'check'], { encoding: 'utf8' });
    assert.equal(late.status, 2, late.stdout + late.stderr);
    assert.match(
      parsePluginOutput(late.stdout).text,
      /^CRITICAL: status file not updated for 10m( \d+s)? \(written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): the scheduler is dead or hung$/,
    );
  } finally {
    fixture.cleanup();
  }
});


test('a scheduler whose telnet addresses cannot be bound exits 1 with the reason; one bindable address is enough', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const schedules = { default: { daily: { interval: '1d', keep: 3 } } };
    const jobs = { alpha: { schedule: 'default', filename: fixture.source('alpha.img', 4096) } };
    const withAddresses = (addresses: string) =>
      configText({ base: fixture.base, port, schedules, jobs }).replace("telnet-addrs: 127.0.0.1", `telnet-addrs: "${addresses}"`);

    fixture.writeConfig(withAddresses('203.0.113.77'));
    const refused = fixture.start();
    assert.deepEqual(await refused.exited, { code: 1, signal: null });
    assert.match(
      refused.output(),
      new RegExp(`backy: telnet shell cannot listen on any address: 203\\.0\\.113\\.77:${port}: address not available on this host\n`),
    );

    fixture.writeConfig(withAddresses('203.0.113.77, 127.0.0.1'));
    const scheduler = fixture.start();
    await fixture.waitForStatus('the scheduler running', (s) => s.jobs.length === 1);
    assert.match(fixture.schedulerLog(), new RegExp(`WARN telnet shell cannot listen on 203\\.0\\.113\\.77:${port}: address not available on this host; skipped`));
    const talk = await converse('telnet', ['127.0.0.1', String(port)], ['quit\n']);
    assert.equal(session(talk.stdout), P);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
