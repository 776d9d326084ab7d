/**
 * Where log lines go and what they look like: `-l FILE` appends
 * `YYYY-MM-DD HH:MM:SS [pid] LEVEL message` and follows log rotation by
 * rename within one running process; `-v` adds DEBUG lines; without `-l`
 * logs go to stdout, except for the commands whose stdout is data.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy, backyAsync, BACKY_MAIN } from '../helpers/cli.js';
import { assertOneLineError, backyToFile, waitUntil } from '../helpers/job-files.js';

const MiB = 1024 * 1024;
const LOG_LINE = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \[(\d+)\] (DEBUG|INFO|WARN|ERROR) (.+)$/;
let dir = '';
let job = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-logging-'));
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(4 * MiB));
  job = join(dir, 'job');
  assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** Every line has the documented format; returns the parsed lines. */
function parseLog(text: string): { time: string; pid: number; level: string; message: string }[] {
  return lines(text).map((line) => {
    const match = LOG_LINE.exec(line);
    assert.ok(match, `log line format: ${JSON.stringify(line)}`);
    return { time: match[1]!, pid: Number(match[2]), level: match[3]!, message: match[4]! };
  });
}

test('-l FILE appends formatted lines; stdout and stderr stay quiet; a failure is logged too', () => {
  const log = join(dir, 'backy.log');
  writeFileSync(log, 'a line from before\n');
  const first = backy(['-l', log, '-b', job, 'backup', 'daily']);
  const second = backy(['-b', job, '--logfile', log, 'backup', 'weekly']);
  for (const result of [first, second]) {
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, '');
  }
  // Also in getopt's attached form, -lFILE.
  const failed = backy([`-l${log}`, '-b', job, 'find', '-r', 'monthly']);
  assertOneLineError(failed, /^backy: no revision matches "monthly"/, 'find with a log file');

  const text = readFileSync(log, 'utf8');
  assert.ok(text.startsWith('a line from before\n'), 'appended, not replaced');
  const entries = parseLog(text.slice('a line from before\n'.length));
  const pids = [...new Set(entries.map((e) => e.pid))];
  assert.equal(pids.length, 3, 'three processes logged');
  assert.ok(entries.some((e) => e.level === 'INFO' && /backup .* started: revision \S+, tags daily$/.test(e.message)));
  assert.ok(entries.some((e) => e.level === 'INFO' && /complete/.test(e.message) && e.pid === pids[1]));
  assert.deepEqual(entries.filter((e) => e.level === 'DEBUG'), [], 'no DEBUG lines without -v');
  assert.equal(entries.at(-1)!.level, 'ERROR');
  assert.match(entries.at(-1)!.message, /no revision matches "monthly"/);
  // The time is UTC and current.
  const logged = new Date(`${entries[0]!.time.replace(' ', 'T')}Z`).getTime();
  assert.ok(Math.abs(Date.now() - logged) < 10 * 60 * 1000, `logged time ${entries[0]!.time} is UTC now`);
});

test('a log file that cannot be opened is one line, exit 1', () => {
  const path = join(dir, 'no-such-dir', 'backy.log');
  assertOneLineError(backy(['-l', path, '-b', job, 'status']), new RegExp(`^backy: cannot open log file ${path}: no such file or directory$`), 'bad -l');
});

test('-l /dev/null (a crontab\'s way to drop the lines) backs up quietly; a link to it is still refused', () => {
  const before = readdirSync(job).filter((name) => name.endsWith('.rev')).length;
  const quiet = backy(['-l', '/dev/null', '-b', job, 'backup', 'daily']);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stdout, '');
  assert.equal(quiet.stderr, '');
  assert.equal(readdirSync(job).filter((name) => name.endsWith('.rev')).length, before + 1, 'a revision was made');
  const link = join(dir, 'null-link.log');
  symlinkSync('/dev/null', link);
  assertOneLineError(backy(['-l', link, '-b', job, 'status']), new RegExp(`^backy: log file ${link} is a symbolic link; refusing to follow it$`), '-l through a link');
});

test('-v adds DEBUG lines', () => {
  const log = join(dir, 'verbose.log');
  assert.equal(backy(['-v', '-l', log, '-b', job, 'backup', 'hourly']).status, 0);
  const entries = parseLog(readFileSync(log, 'utf8'));
  assert.ok(entries.some((e) => e.level === 'DEBUG'), 'a DEBUG line');
  assert.ok(entries.some((e) => e.level === 'INFO'));
});

test('a log file renamed while backy runs: the process writes on into a new file at the same path', async () => {
  const bigSource = join(dir, 'big.img');
  writeFileSync(bigSource, '');
  truncateSync(bigSource, 256 * MiB);
  const fd = openSync(bigSource, 'r+');
  writeSync(fd, randomBytes(MiB), 0, MiB, 0);
  closeSync(fd);
  const bigJob = join(dir, 'big-job');
  assert.equal(backy(['-b', bigJob, 'init', '--store', 'cow', 'file', bigSource]).status, 0);

  const log = join(dir, 'rotated.log');
  const child = backyAsync(['-l', log, '-b', bigJob, 'backup', 'daily']);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes(' started: '), 'the backup to log its start');
    child.kill('SIGSTOP');
    renameSync(log, `${log}.1`);
    child.kill('SIGCONT');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  }
  const rotated = parseLog(readFileSync(`${log}.1`, 'utf8'));
  const current = parseLog(readFileSync(log, 'utf8'));
  assert.ok(rotated.some((e) => / started: /.test(e.message)), 'the start went to the old file');
  assert.ok(!rotated.some((e) => / complete: /.test(e.message)), 'nothing after the rename went to the old file');
  assert.ok(current.some((e) => / complete: /.test(e.message)), 'the end went to the new file');
  assert.deepEqual([...new Set([...rotated, ...current].map((e) => e.pid))], [child.pid], 'one process wrote both');
});

test('without -l logs go to stdout, but find, status and restore - keep stdout for data', () => {
  const backup = backy(['-b', job, 'backup', 'daily']);
  assert.equal(backup.status, 0, backup.stderr);
  assert.equal(backup.stderr, '');
  assert.ok(parseLog(backup.stdout).some((e) => e.level === 'INFO' && / started: /.test(e.message)));

  const newest = join(job, readFileSync(join(job, 'last.rev'), 'utf8').match(/^uuid: (\S+)$/m)![1]!);
  const find = backy(['-v', '-b', job, 'find']);
  assert.equal(find.status, 0);
  assert.equal(find.stdout, `${newest}\n`);

  const status = backy(['-v', '-b', job, 'status']);
  assert.equal(status.status, 0);
  const statusLines = lines(status.stdout);
  assert.match(statusLines.pop()!, /^\d+ revisions containing .* data \(estimated\)$/);
  for (const line of statusLines) assert.match(line, /^[+|]/, 'only the table on stdout');

  for (const logArgs of [['-v'], ['-v', '-l', join(dir, 'restore.log')]]) {
    const piped = join(dir, 'piped.img');
    const restore = backyToFile([...logArgs, '-b', job, 'restore', '-'], piped);
    assert.equal(restore.status, 0, restore.stderr);
    assert.ok(readFileSync(piped).equals(readFileSync(newest)), `restore - ${logArgs.join(' ')}: only the image on stdout`);
    const logText = logArgs.includes('-l') ? readFileSync(join(dir, 'restore.log'), 'utf8') : restore.stderr;
    assert.ok(parseLog(logText).some((e) => /restoring revision \S+ to standard output/.test(e.message)), 'the log line went elsewhere');
  }
});

test('log lines to a pipe read slower than they come are all delivered, not dropped', () => {
  // Node makes a pipe on stderr non-blocking: the log's writes got EAGAIN once it was full, and lost the lines.
  const slow = join(dir, 'slow-reader');
  assert.equal(backy(['-b', slow, 'init', '--store', 'cow', 'file', join(dir, 'vm.img')]).status, 0);
  for (let i = 0; i < 3000; i++) writeFileSync(join(slow, `junk${i}.rev`), 'x\n');
  // The reader starts after a while: the pipe fills, and the process must wait for room.
  const piped = spawnSync('sh', ['-c', '"$@" 2>&1 >/dev/null | (sleep 1.5; cat)', 'sh', process.execPath, BACKY_MAIN, '-b', slow, 'status'], {
    encoding: 'utf8',
    maxBuffer: 64 * MiB,
    timeout: 30_000,
  });
  const stderr = piped.stdout;
  assert.equal(parseLog(stderr).filter((line) => line.level === 'WARN').length, 3000);
});

test('a reader that takes nothing at all holds the log no longer than a moment: the command still ends', async () => {
  const stalled = join(dir, 'stalled-reader');
  assert.equal(backy(['-b', stalled, 'init', '--store', 'cow', 'file', join(dir, 'vm.img')]).status, 0);
  for (let i = 0; i < 3000; i++) writeFileSync(join(stalled, `junk${i}.rev`), 'x\n');
  const child = backyAsync(['-b', stalled, 'status'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Never read: the pipe fills and stays full, as with a hung journald.
  child.stderr!.pause();
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('backy status never ended while its stderr was not read')), 30_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve(status);
    });
  }).finally(() => child.kill('SIGKILL'));
  assert.equal(code, 0);
  child.stderr!.destroy();
});
