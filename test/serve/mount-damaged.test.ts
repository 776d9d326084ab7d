/**
 * `backy mount` of a revision whose data fails its recorded hashes, or
 * whose hash record is gone: the user is told, and nothing unchecked is
 * mounted.
 */
import { after, before, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, writeAt } from '../helpers/job-files.js';
import { MiB, jobWithRevision } from '../helpers/serve-process.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-mount-damaged-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a revision damaged where its superblock is: mount names the damage and leaves nothing mounted', () => {
  const disk = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', String(8 * MiB), disk]);
  execFileSync('mkfs.ext4', ['-q', '-F', disk]);
  const job = join(dir, 'job');
  const id = jobWithRevision(job, disk, 'cow');
  chmodSync(join(job, id), 0o640);
  writeAt(join(job, id), 1024 + 100, Buffer.from('rotten'));
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  assertOneLineError(
    backy(['-b', job, 'mount', '-r', id, mountpoint]),
    new RegExp(`revision ${id} is damaged: block at offset 0 does not match its recorded hash; nothing was mounted`),
    'mount',
  );
  assert.deepEqual(readdirSync(mountpoint), []);
});

test('a revision whose hash record is gone is not mounted unchecked', () => {
  const disk = join(dir, 'disk-unchecked.img');
  execFileSync('truncate', ['-s', String(8 * MiB), disk]);
  execFileSync('mkfs.ext4', ['-q', '-F', disk]);
  const job = join(dir, 'job-unchecked');
  const id = jobWithRevision(job, disk, 'cow');
  rmSync(join(job, `${id}.hashes`));
  const mountpoint = join(dir, 'mnt-unchecked');
  mkdirSync(mountpoint);
  assertOneLineError(
    backy(['-b', job, 'mount', '-r', id, mountpoint]),
    new RegExp(`cannot check revision ${id} against its recorded hashes: its hash record is missing; not mounting it unchecked`),
    'mount',
  );
  assert.deepEqual(readdirSync(mountpoint), []);
});

test('a revision whose image is longer than its .rev records is refused for that reason', () => {
  const disk = join(dir, 'disk-long.img');
  execFileSync('truncate', ['-s', String(8 * MiB), disk]);
  execFileSync('mkfs.ext4', ['-q', '-F', disk]);
  const job = join(dir, 'job-long');
  const id = jobWithRevision(job, disk, 'cow');
  chmodSync(join(job, id), 0o640);
  execFileSync('truncate', ['-s', String(8 * MiB + 4096), join(job, id)]);
  const mountpoint = join(dir, 'mnt-long');
  mkdirSync(mountpoint);
  assertOneLineError(
    backy(['-b', job, 'mount', '-r', id, mountpoint]),
    new RegExp(`revision ${id} has ${8 * MiB + 4096} bytes of data, but its .rev records ${8 * MiB}: it is damaged`),
    'mount',
  );
  assert.deepEqual(readdirSync(mountpoint), []);
});
