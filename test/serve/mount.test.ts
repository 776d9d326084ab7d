/**
 * File-level restore as a user does it: `backy mount` of a revision that
 * holds an ext4 filesystem (on the whole disk, or in a partition), reading
 * a file out of it, and `backy umount` leaving nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError } from '../helpers/job-files.js';
import { MiB, jobWithRevision, mountStateDir, randomBytesFrom } from '../helpers/serve-process.js';

/** An ext4 filesystem holding `files`, at `offset` of a new `size`-byte disk image; with an MBR partition table when offset > 0. */
function diskWithExt4(path: string, size: number, offset: number, files: Record<string, Buffer>): void {
  const content = mkdtempSync(join(tmpdir(), 'backy-fs-content-'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(content, name), data);
  execFileSync('truncate', ['-s', String(size), path]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${offset}`, path, `${(size - offset) / 1024}k`]);
  rmSync(content, { recursive: true });
  if (offset === 0) return;
  // One primary Linux partition from `offset` to the end.
  const mbr = Buffer.alloc(512);
  mbr[446 + 4] = 0x83;
  mbr.writeUInt32LE(offset / 512, 446 + 8);
  mbr.writeUInt32LE((size - offset) / 512, 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  execFileSync('dd', [`of=${path}`, 'bs=512', 'count=1', 'conv=notrunc', 'status=none'], { input: mbr });
}

function loopDevicesOf(pattern: string): string {
  return execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(pattern))
    .join('\n');
}

describe('backy mount and backy umount', () => {
  let dir = '';
  let mountpoint = '';
  const secret = randomBytesFrom('secret', 3 * MiB + 17);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backy-mount-'));
    mountpoint = join(dir, 'mnt');
    mkdirSync(mountpoint);
  });
  after(() => {
    backy(['umount', mountpoint]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a file read out of the ext4 filesystem of a whole-disk revision, read-only; umount leaves nothing behind', () => {
    diskWithExt4(join(dir, 'disk.img'), 24 * MiB, 0, { 'report.txt': Buffer.from('the file a customer deleted\n'), 'data.bin': secret });
    const job = join(dir, 'job-disk');
    const id = jobWithRevision(job, join(dir, 'disk.img'), 'cow');
    const stateDir = mountStateDir(mountpoint);
    assert.equal(existsSync(stateDir), false);
    const mounted = backy(['-b', job, 'mount', '-r', id, mountpoint]);
    assert.equal(mounted.status, 0, mounted.stderr);
    assert.match(mounted.stdout, new RegExp(`revision ${id} mounted read-only on ${mountpoint} \\(ext4 on /dev/loop\\d+\\)`));
    const servePid = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { servePid: number }).servePid;
    try {
      assert.equal(readFileSync(join(mountpoint, 'report.txt'), 'utf8'), 'the file a customer deleted\n');
      assert.equal(createHash('sha256').update(readFileSync(join(mountpoint, 'data.bin'))).digest('hex'), createHash('sha256').update(secret).digest('hex'));
      assert.throws(() => writeFileSync(join(mountpoint, 'new.txt'), 'x'), /EROFS|read-only/);
      assertOneLineError(backy(['-b', job, 'mount', '-r', id, mountpoint]), /is a mountpoint already|has a backy mount already/, 'a second mount');
    } finally {
      const unmounted = backy(['umount', mountpoint]);
      assert.equal(unmounted.status, 0, unmounted.stderr);
    }
    assert.deepEqual(readdirSync(mountpoint), []);
    assert.equal(spawnSync('findmnt', ['--mountpoint', mountpoint]).status, 1, 'still mounted');
    assert.equal(existsSync(stateDir), false, 'the mount state is removed');
    assert.equal(loopDevicesOf(stateDir), '');
    assert.equal(existsSync(`/proc/${servePid}`), false, 'backy serve still runs');
    assertOneLineError(backy(['umount', mountpoint]), /nothing was mounted on .* by backy mount/, 'umount twice');
  });

  test('a partitioned disk: --partition N chooses the filesystem; without it, the partitions are named', () => {
    diskWithExt4(join(dir, 'parted.img'), 24 * MiB, MiB, { 'inside.txt': Buffer.from('in partition 1\n') });
    const job = join(dir, 'job-parted');
    const id = jobWithRevision(job, join(dir, 'parted.img'), 'cow');
    assertOneLineError(backy(['-b', job, 'mount', '-r', id, mountpoint]), /partitioned disk: choose one of its partitions 1 \(23 MiB\) with --partition N/, 'no --partition');
    assertOneLineError(backy(['-b', job, 'mount', '-r', id, '--partition', '2', mountpoint]), /has no partition 2; it has 1/, 'a missing partition');
    assertOneLineError(backy(['-b', job, 'mount', '-r', id, '--partition', 'x', mountpoint]), /--partition "x": expected a partition number/, 'not a number');
    assert.deepEqual(readdirSync(mountpoint), [], 'a failed mount left something mounted');
    const mounted = backy(['-b', job, 'mount', '-r', id, '--partition', '1', mountpoint]);
    assert.equal(mounted.status, 0, mounted.stderr);
    try {
      assert.equal(readFileSync(join(mountpoint, 'inside.txt'), 'utf8'), 'in partition 1\n');
    } finally {
      assert.equal(backy(['umount', mountpoint]).status, 0);
    }
    assert.deepEqual(readdirSync(mountpoint), []);
  });
});
