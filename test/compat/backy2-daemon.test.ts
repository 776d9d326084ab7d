/**
 * backy 2.x's own daemon tests (its test_daemon.py, 2.0 to 2.1.3), as far
 * as a user sees them, against a real `backy scheduler` under faketime at
 * backy 2.x's test clock (2015-09-01 07:06:47 UTC) with backy 2.x's test
 * configuration: the spreads it documents put each job's daily backup at the
 * same time of day as under backy 2.x; `jobs` answers as backy 2.x's telnet
 * shell; incomplete revisions do not count for the SLA.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';
import { converse, session } from '../monitoring/telnet-clients.js';
import { freePort, SchedulerFixture } from '../scheduler/harness.js';

const CLOCK = '@2015-09-01 07:06:47';
const env = { TZ: 'UTC' };

/** backy 2.x's `daemon` fixture: its configuration, with the telnet port and a status interval for the test. */
function backy2Config(base: string, port: number, source: string, jobs: string[]): string {
  const job = (name: string) => `    ${name}:\n        source:\n            type: file\n            filename: ${source}\n        schedule: default\n`;
  return `---
global:
    base-dir: ${base}
    status-interval: 1
    telnet-addrs: 127.0.0.1
    telnet-port: ${port}
    http-port: 0
schedules:
    default:
        daily:
            interval: 24h
            keep: 9
jobs:
${jobs.map(job).join('')}`;
}

/** The telnet answers to `commands`, one string per command. */
async function telnet(port: number, commands: string[]): Promise<string[]> {
  const result = await converse('telnet', ['127.0.0.1', String(port)], [...commands.map((c) => `${c}\n`), 'quit\n']);
  return session(result.stdout).split(TELNET_PROMPT).slice(1, -1);
}

/** The table's rows as cells, and the line after the table. */
function jobsTable(answer: string): { rows: string[][]; count: string } {
  const lines = answer.trimEnd().split('\n');
  const rows = lines.slice(3, -2).map((row) => row.split('|').map((cell) => cell.trim()).slice(1, -1));
  return { rows, count: lines.at(-1)! };
}

test("test_spread, test_daemon_status_filter_re: each job's next daily backup at backy 2.x's time of day; jobs REGEX", async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    const source = fixture.source('test01.source', 4096);
    fixture.writeConfig(backy2Config(fixture.base, port, source, ['test01', 'foo00', 'test02', 'asdf02']));
    const scheduler = fixture.start({ faketime: CLOCK, env });
    // Jobs without revisions are backed up at once; then each waits for its slot.
    await fixture.waitForStatus('the first backups', (s) => s.jobs.length === 4 && s.jobs.every((j) => j.lastBackup) && s.scheduler.running.length === 0);

    const [all, filtered] = await telnet(port, ['jobs', 'jobs foo\\d\\d']);
    const { rows, count } = jobsTable(all);
    for (const row of rows) {
      assert.match(row[3], /^2015-09-01 07:0\d:\d\d$/, `${row[0]}: the first backup ran at once`);
      assert.match(row[5], /^\d+\.\d s$/);
    }
    // Spreads 14532 s, 72995 s, 19971 s and 36217 s from midnight UTC, as backy 2.x computes them.
    assert.deepEqual(
      rows.map((row) => [row[0], row[1], row[2], row[4], row[6], row[7]]),
      [
        ['asdf02', 'OK', 'waiting', 'daily', '2015-09-02 04:02:12', 'daily'],
        ['foo00', 'OK', 'waiting', 'daily', '2015-09-01 20:16:35', 'daily'],
        ['test01', 'OK', 'waiting', 'daily', '2015-09-02 05:32:51', 'daily'],
        ['test02', 'OK', 'waiting', 'daily', '2015-09-01 10:03:37', 'daily'],
      ],
    );
    assert.equal(count, '4 jobs shown');

    const only = jobsTable(filtered);
    assert.deepEqual(
      only.rows.map((row) => row[0]),
      ['foo00'],
    );
    assert.equal(only.count, '1 jobs shown');
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('test_sla_before_first_backup, test_incomplete_revs_dont_count_for_sla: as the telnet shell shows them', async () => {
  const fixture = new SchedulerFixture();
  try {
    const port = await freePort();
    // The source is missing, so no backup can succeed while the test looks.
    fixture.writeConfig(backy2Config(fixture.base, port, join(fixture.dir, 'missing.img'), ['test01', 'foo00']));
    // test01: a complete revision 48 hours old and an incomplete one an hour old, as backy 2.x's test writes them.
    const job = fixture.job('test01');
    mkdirSync(job);
    const revision = (id: string, timestamp: string, stats: string) => {
      writeFileSync(join(job, `${id}.rev`), `parent: null\nstats: ${stats}\ntags: [daily]\ntimestamp: ${timestamp}\nuuid: '${id}'\n`);
      writeFileSync(join(job, id), '');
    };
    revision('1', '2015-08-30 07:06:47+00:00', '{bytes_written: 0, duration: 60.0}');
    revision('2', '2015-09-01 06:06:47+00:00', '{bytes_written: 0}');
    const scheduler = fixture.start({ faketime: CLOCK, env });
    await fixture.waitForStatus('both jobs', (s) => s.jobs.length === 2);

    const [answer] = await telnet(port, ['jobs']);
    const { rows, count } = jobsTable(answer);
    assert.deepEqual(
      rows.map((row) => [row[0], row[1], row[3], row[4], row[5]]),
      [
        // No backup yet: within SLA, and `-` where there is nothing to show.
        ['foo00', 'OK', '-', '-', '-'],
        ['test01', 'TOO OLD', '2015-08-30 07:06:47', 'daily', '60.0 s'],
      ],
    );
    assert.equal(count, '2 jobs shown');
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
