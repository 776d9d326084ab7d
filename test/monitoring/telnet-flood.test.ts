/**
 * The telnet shell of a real scheduler under abuse: 1,500 idle connections
 * against a scheduler limited to 1,024 file descriptors, and a regular
 * expression that backtracks without end. Backups go on, the status file
 * is written, and the shell answers the next client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';
import { configText, freePort, SchedulerFixture } from '../scheduler/harness.js';
import { converse, session } from './telnet-clients.js';

const REFUSAL = 'too many telnet sessions (64 open); try again later\r\n';
const LONG_NAME = `${'a'.repeat(40)}-x`;

interface Client {
  socket: Socket;
  received: string;
  closed: boolean;
}

test('1,500 idle connections against a scheduler with 1,024 descriptors; a catastrophic regex', async () => {
  const fixture = new SchedulerFixture();
  const clients: Client[] = [];
  try {
    const port = await freePort();
    const schedules = { fast: { a: { interval: '1s', keep: 2 } }, daily: { d: { interval: '1d', keep: 1 } } };
    const jobs = {
      beta: { schedule: 'fast', filename: fixture.source('beta.img', 64 * 1024) },
      [LONG_NAME]: { schedule: 'daily', filename: fixture.source('long.img', 4096) },
    };
    fixture.writeConfig(configText({ base: fixture.base, port, schedules, jobs, statusInterval: 1 }));
    const scheduler = fixture.start({ openFiles: 1024 });
    await fixture.waitForStatus('the scheduler running', (s) => s.jobs.length === 2);

    for (let i = 0; i < 1500; i++) {
      const client: Client = { socket: connect(port, '127.0.0.1'), received: '', closed: false };
      client.socket.setEncoding('utf8');
      client.socket.on('data', (text: string) => (client.received += text));
      client.socket.on('error', () => undefined);
      client.socket.on('close', () => (client.closed = true));
      clients.push(client);
    }
    const sessions = () => clients.filter((c) => !c.closed && c.received === TELNET_PROMPT);
    const refused = () => clients.filter((c) => c.closed && c.received === REFUSAL);
    await fixture.waitFor('every connection answered', () => sessions().length + refused().length === 1500, 120_000);
    assert.equal(sessions().length, 64, 'telnet-max-sessions (default 64) sessions are served');
    assert.equal(refused().length, 1436, 'every other client got one line and was closed');
    const descriptors = readdirSync(`/proc/${scheduler.child.pid}/fd`).length;
    assert.ok(descriptors < 200, `the scheduler holds ${descriptors} descriptors`);

    // With 64 idle sessions held open, backups start and the status file is written.
    const since = new Date();
    const backups = fixture.backupsFinished('beta');
    await fixture.waitFor('two more backups during the flood', () => fixture.backupsFinished('beta') >= backups + 2);
    await fixture.waitForStatus('a status file written during the flood', (s) => s.written > since);
    assert.match(fixture.schedulerLog(), /WARN telnet shell: 64 sessions open \(telnet-max-sessions\); refusing more/);

    // One more client is refused with the line; once a session ends, the next one is served.
    const turnedAway = await converse('telnet', ['127.0.0.1', String(port)], []);
    assert.match(turnedAway.stdout.toString('utf8'), /\ntoo many telnet sessions \(64 open\); try again later\n$/);
    // Over for the shell once it has ended its side too (this socket then closes): a client that
    // connects before the shell has seen the end (a busy machine) still finds 64 sessions open.
    const ending = sessions()[0]!;
    ending.socket.end();
    await fixture.waitFor('the shell to end the session', () => ending.closed);
    assert.equal(sessions().length, 63);
    const talk = await converse('telnet', ['127.0.0.1', String(port)], ['jobs (a+)+$\n', 'jobs ^beta\n', 'quit\n']);
    const [catastrophic, beta] = session(talk.stdout).split(TELNET_PROMPT).slice(1);
    assert.equal(
      catastrophic,
      'jobs (a+)+$: the regular expression took more than 1 s to match the job names and was stopped; ' +
        'simplify it (nested repetition such as (a+)+ backtracks)\n',
    );
    // Its SLA is 1.5 s: whether a backup of it took longer is this machine's load, not the shell's doing.
    assert.match(beta!, /\n\| beta +\| (OK|TOO OLD) +\| /);
    assert.doesNotMatch(beta!, new RegExp(LONG_NAME));

    for (const client of clients) client.socket.destroy();
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
    const status = await readStatusFile(join(fixture.base, 'status'));
    assert.deepEqual(status.jobs.map((j) => [j.name, j.failures]), [[LONG_NAME, 0], ['beta', 0]]);
  } finally {
    for (const client of clients) client.socket.destroy();
    fixture.cleanup();
  }
});
