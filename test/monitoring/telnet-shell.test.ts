import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { startTelnetShell, TELNET_PROMPT, type TelnetShell, type TelnetShellOptions } from '../../src/monitoring/telnet-shell.js';
import { HELP } from '../../src/monitoring/telnet/commands.js';
import { BackyError } from '../../src/util/errors.js';
import { createLogger, type LogSink } from '../../src/util/logger.js';
import { converse, finished, freePort, session } from './telnet-clients.js';
import { FIXTURE_NOW, fixtureView, MANUAL_JOBS_OUTPUT, MANUAL_JOBS_TABLE, type FixtureView } from './fixture-view.js';

const P = TELNET_PROMPT;

const FULL_TABLE = [
  '+--------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+--------------+',
  '| Job    | SLA     | Status                              | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags    |',
  '+--------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+--------------+',
  '| test01 | OK      | waiting                             | 2015-11-05 11:56:10 | daily     |   50.7 s | 2015-11-06 11:56:10 | daily,weekly |',
  '| test02 | OK      | waiting                             | 2015-11-05 10:32:03 | daily     |   88.1 s | 2015-11-06 10:32:03 | daily        |',
  '| test03 | OK      | waiting                             | 2015-11-06 09:49:27 | hourly    |   17.7 s | 2015-11-06 10:15:09 | hourly       |',
  '| web01  | TOO OLD | failed (retry 10:32) [1 distrusted] | 2015-11-03 08:00:00 | daily     |  301.3 s | 2015-11-06 10:32:00 | daily        |',
  '+--------+---------+-------------------------------------+---------------------+-----------+----------+---------------------+--------------+',
  '4 jobs shown',
].join('\n');

const STATUS = [
  'Scheduler:     backy 2.0, pid 4711',
  'Uptime:        2d 2h (started 2015-11-04 08:00:00 UTC)',
  'Configuration: /etc/backy.conf (loaded 2015-11-05 09:30:00 UTC)',
  'Workers:       2 busy (1 scrubbing), 0 idle (worker-limit 2)',
  'Jobs:          4 (1 overdue, 1 failed)',
  'Queued:        none',
  'Running:       1',
  '+--------+-------+---------------------+---------+------+',
  '| Job    | Tags  | Started (UTC)       | Elapsed |  PID |',
  '+--------+-------+---------------------+---------+------+',
  '| test02 | daily | 2015-11-06 09:58:30 |  1m 30s | 4802 |',
  '+--------+-------+---------------------+---------+------+',
  'Scrubbing:     every 30d, budget 12.00 GiB a day, 5.00 GiB read today; running: test01 (revision FqZGAe6iG2hadwJoHdpigW, 1m, pid 4803)',
  '+--------+---------------------+--------------------------+------------+',
  '| Job    | Last Verified (UTC) | All Verified Since (UTC) | Distrusted |',
  '+--------+---------------------+--------------------------+------------+',
  '| test01 | -                   | -                        |          0 |',
  '| test02 | -                   | -                        |          0 |',
  '| test03 | -                   | -                        |          0 |',
  '| web01  | 2015-11-06 03:00:00 | 2015-10-20 08:00:00      |          1 |',
  '+--------+---------------------+--------------------------+------------+',
].join('\n');

interface Running {
  shell: TelnetShell;
  view: FixtureView;
  port: number;
  log: string[];
}

async function start(
  t: { after(fn: () => Promise<void>): void },
  addresses: string[],
  port = 0,
  options: Partial<TelnetShellOptions> = {},
): Promise<Running> {
  const log: string[] = [];
  const sink: LogSink = { write: (line) => log.push(line), close: () => undefined };
  const view = fixtureView();
  const shell = await startTelnetShell(view, { addresses, port, logger: createLogger(sink), now: () => FIXTURE_NOW, ...options });
  t.after(() => shell.close());
  return { shell, view, port: Number(shell.listening[0].split(':').at(-1)), log };
}

test('through telnet: every command, a bad regex and an unknown command, exactly', async (t) => {
  const { port, view } = await start(t, ['127.0.0.1']);
  const lines = ['jobs ^test\n', 'jobs\n', 'jobs web(\n', 'status\n', 'run web01\n', 'run nosuchjob\n', 'help\n', 'frobnicate\n', 'quit\n'];
  const result = await converse('telnet', ['127.0.0.1', String(port)], lines);
  assert.equal(
    session(result.stdout),
    [
      `${P}${MANUAL_JOBS_OUTPUT}`,
      `${P}${FULL_TABLE}`,
      `${P}invalid regular expression "web(": unterminated group`,
      `${P}${STATUS}`,
      `${P}web01: backup queued with tags daily`,
      `${P}cannot run nosuchjob: no job named "nosuchjob"`,
      `${P}${HELP}`,
      `${P}unknown command "frobnicate"; type "help" for the list of commands`,
      P,
    ].join('\n'),
  );
  assert.match(result.stderr, /Connection closed by foreign host/);
  assert.deepEqual(view.runs, ['web01']);
});

test('through telnet over IPv6, with CRLF line endings', async (t) => {
  const { port } = await start(t, ['::1']);
  const result = await converse('telnet', ['::1', String(port)], ['jobs test0[12]$\r\n', '\r\n', 'quit\r\n']);
  // telnet sends the typed CR as CR NUL and the newline as CR LF: the extra empty lines just get prompts.
  const expected = `${MANUAL_JOBS_TABLE.split('\n').filter((row) => !row.includes('test03')).join('\n')}\n2 jobs shown`;
  assert.equal(session(result.stdout), `${P}${expected}\n${P}${P}${P}${P}`);
});

test('through nc: negotiation is refused, output lines end in CRLF, Ctrl-C discards the line, Ctrl-D ends the session', async (t) => {
  const { port } = await start(t, ['127.0.0.1']);
  const IAC = 255;
  const lines = [
    // WILL NAWS, DO ECHO, a subnegotiation, then "help" with a Ctrl-C in the middle of "jobs".
    Buffer.concat([Buffer.from([IAC, 251, 31, IAC, 253, 1, IAC, 250, 24, 0, 65, IAC, 240]), Buffer.from('jobs te\x03')]),
    Buffer.from([...Buffer.from('run x'), IAC, 244]), // IAC IP: also discards
    'unknown-thing\n',
    Buffer.from([4]), // Ctrl-D on an empty line
  ];
  const result = await converse('nc', ['127.0.0.1', String(port)], lines);
  assert.deepEqual(
    result.stdout,
    Buffer.concat([
      Buffer.from(P),
      Buffer.from([IAC, 254, 31, IAC, 252, 1]),
      Buffer.from(`\r\n${P}\r\n${P}unknown command "unknown-thing"; type "help" for the list of commands\r\n${P}\r\n`),
    ]),
  );
});

test('commands piped in at once, the input then closed (nc -N): every one is answered before the session ends', async (t) => {
  const { port, view } = await start(t, ['127.0.0.1']);
  // -N: nc shuts its side of the connection down once its input ends, and still reads the answers.
  const client = spawn('nc', ['-N', '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
  const stdout: Buffer[] = [];
  client.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  client.stdin.end('jobs\nstatus\nrun web01\nrun test02\n');
  await finished(client, () => undefined);
  assert.equal(
    session(Buffer.concat(stdout)),
    `${P}${FULL_TABLE}\n${P}${STATUS}\n${P}web01: backup queued with tags daily\n${P}test02: backup queued with tags daily\n${P}\n`,
  );
  assert.deepEqual(view.runs, ['web01', 'test02']);
});

test('a line over 4 KiB is refused with a message; the session goes on', async (t) => {
  const { port } = await start(t, ['127.0.0.1']);
  const result = await converse('nc', ['127.0.0.1', String(port)], [`jobs ${'x'.repeat(5000)}\n`, 'jobs ^test01$\n', 'quit\n']);
  const text = session(result.stdout);
  assert.ok(text.startsWith(`${P}line too long (more than 4096 bytes), ignored\n${P}+--------+`), text.slice(0, 200));
  assert.match(text, /\| test01 \| OK {2}\| waiting \|/);
  assert.ok(text.endsWith(`\n${P}`));
});

test('50 parallel sessions all get the whole table', async (t) => {
  const { port } = await start(t, ['127.0.0.1']);
  const sessions = Array.from({ length: 50 }, (_, i) =>
    converse(i % 2 === 0 ? 'nc' : 'telnet', ['127.0.0.1', String(port)], ['jobs\n', 'status\n', 'quit\n']),
  );
  const results = await Promise.all(sessions);
  for (const result of results) assert.equal(session(result.stdout), `${P}${FULL_TABLE}\n${P}${STATUS}\n${P}`);
});

test('clients killed mid-command or mid-output leave the shell serving others', async (t) => {
  const { port } = await start(t, ['127.0.0.1']);
  // One stops in the middle of a line, one floods commands and never reads.
  const partial = spawn('nc', ['127.0.0.1', String(port)], { stdio: ['pipe', 'ignore', 'ignore'] });
  partial.stdin.write('jobs te');
  const flood = spawn('nc', ['127.0.0.1', String(port)], { stdio: ['pipe', 'ignore', 'ignore'] });
  flood.stdin.on('error', () => undefined);
  flood.stdin.write('jobs\n'.repeat(20_000));
  await waitFor(() => established(port) === 2);
  partial.kill('SIGKILL');
  flood.kill('SIGKILL');
  await Promise.all([finished(partial, () => undefined), finished(flood, () => undefined)]);
  await waitFor(() => established(port) === 0);
  const result = await converse('telnet', ['127.0.0.1', String(port)], ['jobs ^test\n', 'quit\n']);
  assert.equal(session(result.stdout), `${P}${MANUAL_JOBS_OUTPUT}\n${P}`);
});

test('listens only on the configured addresses', async (t) => {
  const only4 = await start(t, ['127.0.0.1']);
  assert.deepEqual(only4.shell.listening, [`127.0.0.1:${only4.port}`]);
  assert.deepEqual(listeners(only4.port), [`127.0.0.1:${only4.port}`]);
  assert.equal(spawnSync('nc', ['-z', '-w', '2', '127.0.0.2', String(only4.port)]).status, 1, 'refused on 127.0.0.2');
  assert.equal(spawnSync('nc', ['-z', '-w', '2', '::1', String(only4.port)]).status, 1, 'refused on ::1');

  const port = await freePort();
  const both = await start(t, ['127.0.0.1', '::1'], port);
  assert.deepEqual(both.shell.listening, [`127.0.0.1:${port}`, `[::1]:${port}`]);
  assert.deepEqual(listeners(port), [`127.0.0.1:${port}`, `[::1]:${port}`]);
  assert.equal(spawnSync('nc', ['-z', '-w', '2', '127.0.0.2', String(port)]).status, 1, 'refused on 127.0.0.2');
});

test('an address that cannot be bound is logged and skipped; none bindable is an error with the reasons', async (t) => {
  const port = await freePort();
  const partly = await start(t, ['203.0.113.77', '127.0.0.1'], port);
  assert.deepEqual(partly.shell.listening, [`127.0.0.1:${port}`]);
  assert.ok(
    partly.log.some((line) => line.includes(`WARN telnet shell cannot listen on 203.0.113.77:${port}: address not available on this host; skipped`)),
    partly.log.join(''),
  );
  await assert.rejects(
    startTelnetShell(fixtureView(), { addresses: ['203.0.113.77', '127.0.0.1'], port, logger: createLogger({ write: () => undefined, close: () => undefined }) }),
    (err: unknown) =>
      err instanceof BackyError &&
      err.message ===
        `telnet shell cannot listen on any address: 203.0.113.77:${port}: address not available on this host; ` +
          `127.0.0.1:${port}: address already in use`,
  );
});

test('an idle session is told so and closed (telnet-idle-timeout)', async (t) => {
  const { port } = await start(t, ['127.0.0.1'], 0, { idleTimeoutSeconds: 1 });
  const result = await converse('telnet', ['127.0.0.1', String(port)], []);
  assert.equal(session(result.stdout), `${P}\nidle for 1 s: session closed\n`);
  assert.match(result.stderr, /Connection closed by foreign host/);
});

test('a client beyond telnet-max-sessions gets one line and is closed; the sessions go on', async (t) => {
  const { port, log } = await start(t, ['127.0.0.1'], 0, { maxSessions: 2 });
  const clients = [0, 1].map(() => spawn('nc', ['127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'ignore'] }));
  const outputs = clients.map((client) => {
    const out = { text: '' };
    client.stdout.on('data', (chunk: Buffer) => (out.text += chunk.toString()));
    return out;
  });
  t.after(async () => void clients.forEach((client) => client.kill()));
  await waitFor(() => outputs.every((out) => out.text.includes(P)));
  const third = await converse('telnet', ['127.0.0.1', String(port)], []);
  assert.match(third.stdout.toString(), /^Trying 127\.0\.0\.1\.\.\.\r?\nConnected to 127\.0\.0\.1\.\r?\nEscape character is '\^\]'\.\r?\ntoo many telnet sessions \(2 open\); try again later\r?\n$/);
  assert.ok(log.some((line) => line.includes('WARN telnet shell: 2 sessions open (telnet-max-sessions); refusing more')));
  clients[0]!.stdin.write('status\n');
  await waitFor(() => outputs[0]!.text.includes('Scheduler:'));
});

test('listening on every address of the host is warned about: the shell has no authentication', async (t) => {
  for (const address of ['0.0.0.0', '::']) {
    const { shell, log } = await start(t, [address]);
    const where = shell.listening[0]!;
    assert.ok(
      log.some((line) =>
        line.includes(
          `WARN telnet shell listens on ${where}, every address of this host: reachable from the network without authentication: ` +
            'anyone who reaches the port can see every job and start backups',
        ),
      ),
      log.join(''),
    );
    await shell.close();
  }
  const local = await start(t, ['127.0.0.1']);
  assert.ok(!local.log.some((line) => line.includes('WARN')));
});

test('close() ends open sessions and stops listening', async (t) => {
  const { shell, port } = await start(t, ['127.0.0.1']);
  // -d: nc reads no input and exits when the connection ends.
  const client = spawn('nc', ['-d', '127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes(P));
  await shell.close();
  await finished(client, () => undefined); // nc exits because the shell closed the connection
  assert.deepEqual(listeners(port), []);
  assert.equal(spawnSync('nc', ['-z', '-w', '2', '127.0.0.1', String(port)]).status, 1);
});

/** `host:port` of every listening TCP socket on the port, as `ss` shows them. */
function listeners(port: number): string[] {
  const out = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).stdout;
  return out
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.trim().split(/\s+/)[3]);
}

function established(port: number): number {
  const out = spawnSync('ss', ['-Htn', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((line) => line.trim().length > 0).length;
}

/** Polls a condition (no timing assertion: the deadline only turns a hang into a failure). */
async function waitFor(condition: () => boolean, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${deadlineMs} ms: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
