/**
 * `backy mount` of a revision whose data fails its recorded hashes: the
 * user is told the revision is damaged, not that it holds no filesystem.
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
