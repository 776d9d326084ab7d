/**
 * The job's filesystem fills up during a backup (small real btrfs and ext4
 * filesystems on loop devices): exit 1 with one line saying so, the failed
 * revision removed, the earlier one intact and restorable, and the next
 * backup succeeds once there is space again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob, revisionIds, sameBytes } from '../helpers/job-files.js';
import { mountLoopFilesystem, type FsType } from '../helpers/loop-fs.js';
import { newRevisionId } from '../../src/store/revision-id.js';

const MiB = 1024 * 1024;

function freeBytes(path: string): number {
  const info = statfsSync(path);
  return info.bavail * info.bsize;
}

/** Writes (or with `a`, appends to) `path` until the filesystem refuses another byte. */
function fillUp(path: string, flags: 'w' | 'a' = 'w'): void {
  const fd = openSync(path, flags);
  try {
    for (const size of [MiB, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0xa5);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
    fsyncSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

async function diskFull(type: FsType): Promise<void> {
  const fs = mountLoopFilesystem(type, '300M');
  const outside = mkdtempSync(join(tmpdir(), 'backy-disk-full-'));
  try {
    const source = join(outside, 'vm.img');
    const job = join(fs.path, 'vm');
    writeFileSync(source, randomBytes(16 * MiB));
    assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
    const first = backy(['-b', job, 'backup', 'first']);
    assert.equal(first.status, 0, first.stderr);
    const firstCopy = join(outside, 'first.img');
    copyFileSync(source, firstCopy);
    const [firstId] = revisionIds(job);
    const before = fingerprintJob(job);

    // Leave about 40 MiB free, then grow the source by far more than that.
    const filler = join(fs.path, 'filler');
    execFileSync('sync', ['-f', fs.path]);
    execFileSync('fallocate', ['-l', String(freeBytes(fs.path) - 40 * MiB), filler]);
    writeFileSync(source, randomBytes(128 * MiB));

    const full = backy(['-b', job, 'backup', 'daily']);
    assertOneLineError(full, /^backy: .*: no space left on device$/, `backup on a full ${type}`);
    assert.deepEqual(revisionIds(job), [firstId], 'the failed revision is gone');
    assert.deepEqual(
      readdirSync(job).filter((name) => name.endsWith('.tmp')),
      [],
      'no temporary files left',
    );
    assert.deepEqual(fingerprintJob(job), before, 'the earlier revision is intact');
    const restored = join(outside, 'restored-first.img');
    const restore = backy(['-b', job, 'restore', '-r', 'first', restored]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.ok(sameBytes(restored, firstCopy), 'the earlier revision restores');
    const status = backy(['-b', job, 'status']);
    assert.match(status.stdout, /\n1 revision(s)? containing 16\.00 MiB data \(estimated\)\n$/);

    // Completely full: even the new revision's metadata may not fit.
    const rest = join(fs.path, 'rest');
    fillUp(rest);
    const noRoom = backy(['-b', job, 'backup', 'daily']);
    assertOneLineError(noRoom, /^backy: .*: no space left on device$/, `backup on a completely full ${type}`);
    assert.deepEqual(fingerprintJob(job), before, 'the earlier revision is intact');
    assert.deepEqual(
      readdirSync(job).filter((name) => name.endsWith('.tmp')),
      [],
      'no temporary files left',
    );

    // Space again: the next backup goes through.
    rmSync(rest);
    rmSync(filler);
    execFileSync('sync', ['-f', fs.path]);
    const next = backy(['-b', job, 'backup', 'daily']);
    assert.equal(next.status, 0, next.stderr);
    assert.equal(revisionIds(job).length, 2);
    const latest = join(outside, 'restored-latest.img');
    assert.equal(backy(['-b', job, 'restore', latest]).status, 0);
    assert.ok(sameBytes(latest, source), 'the new revision restores');
  } finally {
    fs.dispose();
    rmSync(outside, { recursive: true, force: true });
  }
}

test('disk full during a backup on btrfs', async () => {
  await diskFull('btrfs');
});

test('disk full during a backup on ext4', async () => {
  await diskFull('ext4');
});

test('disk full with -l on the same filesystem: a backup still removes the incomplete revision that fills it, and warns once instead of a stack trace', () => {
  const fs = mountLoopFilesystem('ext4', '300M');
  const outside = mkdtempSync(join(tmpdir(), 'backy-disk-full-log-'));
  try {
    const source = join(outside, 'vm.img');
    const job = join(fs.path, 'vm');
    const log = join(fs.path, 'backy.log');
    writeFileSync(source, randomBytes(16 * MiB));
    assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
    assert.equal(backy(['-l', log, '-b', job, 'backup', 'first']).status, 0);
    const [firstId] = revisionIds(job);
    // As a backup killed on its way left it: a .rev without a duration and an image that took every byte.
    const incomplete = newRevisionId();
    writeFileSync(join(job, `${incomplete}.rev`), `uuid: ${incomplete}\ntimestamp: 2026-01-01T00:00:00.000Z\nparent: ''\ntags: [daily]\nstats: {}\n`);
    fillUp(join(job, incomplete));
    fillUp(log, 'a');
    const next = backy(['-l', log, '-b', job, 'backup', 'daily']);
    assert.doesNotMatch(next.stderr, /^\s+at /m, 'no stack trace');
    assert.ok(!revisionIds(job).includes(incomplete), `the incomplete revision is still there (stderr: ${next.stderr})`);
    const warnings = next.stderr.split('\n').filter((line) => line.startsWith('backy: warning: cannot write to log file'));
    assert.equal(warnings.length, 1, `one warning about the log: ${JSON.stringify(next.stderr)}`);
    assert.equal(next.status, 0, `with the space it freed the backup goes through (stderr: ${next.stderr})`);
    assert.equal(revisionIds(job).length, 2);
    assert.ok(revisionIds(job).includes(firstId!));
  } finally {
    fs.dispose();
    rmSync(outside, { recursive: true, force: true });
  }
});
