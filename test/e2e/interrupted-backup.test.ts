/**
 * Backups that do not run alone or do not finish: a second `backup` of the
 * same job while one runs, a backup stopped by SIGTERM, and one killed by
 * SIGKILL. The running backup is held with SIGSTOP while the test looks, so
 * nothing depends on how fast this machine is.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readlinkSync, rmSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy, backyAsync } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob, readRevisionYaml, revisionIds, sameBytes, waitUntil } from '../helpers/job-files.js';

const MiB = 1024 * 1024;
let dir = '';
let job = '';
let source = '';
let firstCopy = '';
let firstId = '';
let fingerprint: Record<string, string> = {};

function writeRandom(path: string, offset: number, length: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(length), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-interrupted-'));
  source = join(dir, 'vm.img');
  job = join(dir, 'job');
  // 256 MiB, mostly a hole: big enough that a backup takes a while.
  writeFileSync(source, '');
  truncateSync(source, 256 * MiB);
  writeRandom(source, 0, 4 * MiB);
  assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
  const first = backy(['-b', job, 'backup', 'first']);
  assert.equal(first.status, 0, first.stderr);
  firstId = revisionIds(job)[0]!;
  firstCopy = join(dir, 'first-copy.img');
  execFileSync('cp', ['--sparse=always', source, firstCopy]);
  fingerprint = fingerprintJob(job);
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  output: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startBackup(tags: string): Running {
  const child = backyAsync(['-b', job, 'backup', tags]);
  const output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

/** Waits for the backup's new revision to appear, then freezes the process; returns the revision's ID. */
async function stopOnceStarted(running: Running, known: string[], alsoImage: boolean): Promise<string> {
  let id = '';
  await waitUntil(() => {
    id = revisionIds(job).find((r) => !known.includes(r)) ?? '';
    return id !== '' && (!alsoImage || existsSync(join(job, id)));
  }, 'the backup to create its revision');
  running.child.kill('SIGSTOP');
  assert.equal(readRevisionYaml(job, id).stats.duration, undefined, 'the backup finished before the test could stop it: use a bigger source');
  return id;
}

function assertStatusShowsIncomplete(id: string, tags: string): void {
  const status = backy(['-b', job, 'status']);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`\\| ${id} \\| +0 Bytes \\| +0 s \\| ${tags} +\\|\n`), status.stdout);
  assert.match(status.stdout, /\n2 revisions containing /);
}

function assertFirstRevisionIntact(): void {
  const now = fingerprintJob(job);
  for (const name of [firstId, `${firstId}.rev`, 'config']) assert.equal(now[name], fingerprint[name], `${name} unchanged`);
  assert.equal(backy(['-b', job, 'find', '-r', 'first']).stdout, `${join(job, firstId)}\n`);
}

test('a second backup while one runs says "already in progress"; SIGTERM makes the first remove its revision', async () => {
  writeRandom(source, 8 * MiB, MiB);
  const first = startBackup('second');
  try {
    const id = await stopOnceStarted(first, [firstId], false);

    const second = backy(['-b', job, 'backup', 'third']);
    assertOneLineError(second, new RegExp(`^backy: a backup of ${job} is already in progress \\(pid ${first.child.pid}\\)$`), 'concurrent backup');
    assert.ok(existsSync(join(job, `${id}.rev`)), 'the refused backup did not touch the running one');
    assertStatusShowsIncomplete(id, 'second');

    first.child.kill('SIGTERM');
    first.child.kill('SIGCONT');
    const { code, signal } = await first.exited;
    assert.equal(signal, null);
    assert.equal(code, 1, first.output.stderr);
    assert.match(first.output.stderr, /^backy: interrupted by SIGTERM\n$/);
    assert.equal(existsSync(join(job, `${id}.rev`)), false, 'incomplete .rev removed');
    assert.equal(existsSync(join(job, id)), false, 'incomplete image removed');
    assert.deepEqual(fingerprintJob(job), fingerprint);
  } finally {
    first.child.kill('SIGKILL');
    first.child.kill('SIGCONT');
    await first.exited;
  }
});

test('a backup killed with SIGKILL mid-way shows as incomplete; the next backup cleans up and succeeds', async () => {
  const killed = startBackup('killed');
  const id = await stopOnceStarted(killed, [firstId], true);
  killed.child.kill('SIGKILL');
  killed.child.kill('SIGCONT');
  assert.equal((await killed.exited).signal, 'SIGKILL');
  assert.ok(existsSync(join(job, `${id}.rev`)) && existsSync(join(job, id)), 'the killed backup left its revision behind');

  assertStatusShowsIncomplete(id, 'killed');
  assertFirstRevisionIntact();
  assert.equal(readlinkSync(join(job, 'last')), firstId, 'last still names the newest complete revision');
  assertOneLineError(backy(['-b', job, 'find', '-r', id]), /is incomplete/, 'find the incomplete revision');

  const next = backy(['-b', job, 'backup', 'daily']);
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stdout, new RegExp(`INFO removing incomplete revision ${id}\n`));
  assert.equal(existsSync(join(job, `${id}.rev`)), false);
  assert.equal(existsSync(join(job, id)), false);
  const ids = revisionIds(job);
  assert.equal(ids.length, 2);
  const newest = ids.find((r) => r !== firstId)!;
  assert.equal(readRevisionYaml(job, newest).parent, firstId);
  assert.equal(readlinkSync(join(job, 'last')), newest);
  assert.equal(readlinkSync(join(job, 'last.rev')), `${newest}.rev`);
  assertFirstRevisionIntact();

  const restoredNewest = join(dir, 'restored-newest.img');
  const restoredFirst = join(dir, 'restored-first.img');
  assert.equal(backy(['-b', job, 'restore', restoredNewest]).status, 0);
  assert.equal(backy(['-b', job, 'restore', '-r', 'first', restoredFirst]).status, 0);
  assert.ok(sameBytes(restoredNewest, source), 'the new revision restores to the source');
  assert.ok(sameBytes(restoredFirst, firstCopy), 'the first revision restores as it was');
});

test("a `.rev` or config's temporary file that a killed command left goes at the next backup once an hour old; others' files stay", () => {
  const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
  const left = [`.${firstId}.rev.0a1b2c3d.tmp`, '.config.deadbeef.tmp'];
  const kept = [`.${firstId}.rev.11111111.tmp`, '.notes.0a1b2c3d.tmp', `.${firstId}.rev.tmp`];
  for (const name of [...left, ...kept]) writeFileSync(join(job, name), 'partial');
  for (const name of [...left, ...kept.slice(1)]) utimesSync(join(job, name), old, old);
  const next = backy(['-b', job, 'backup', 'daily']);
  assert.equal(next.status, 0, next.stderr);
  for (const name of left) assert.equal(existsSync(join(job, name)), false, `${name} is gone`);
  for (const name of kept) assert.ok(existsSync(join(job, name)), `${name} stays (fresh, or not a name backy writes)`);
  assertFirstRevisionIntact();
});
