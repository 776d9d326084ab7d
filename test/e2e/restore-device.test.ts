/**
 * Restores onto a block device (a loop device, as an operator's disk would
 * be): one that is mounted is refused before a byte is written, and one a
 * damaged block stopped midway is said to be overwritten, not untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, revisionIds, writeAt } from '../helpers/job-files.js';
import { attachLoopDevice } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;

function jobOf(dir: string, size: number): { job: string; source: string; id: string } {
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(size));
  const job = join(dir, 'job');
  assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
  const backup = backy(['-b', job, 'backup', 'daily']);
  assert.equal(backup.status, 0, backup.stderr);
  return { job, source, id: revisionIds(job)[0]! };
}

test('a restore onto a mounted device is refused with one line, and the device is not written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-restore-device-'));
  const backing = join(dir, 'disk.img');
  writeFileSync(backing, '');
  truncateSync(backing, 16 * MiB);
  execFileSync('mkfs.ext4', ['-q', backing]);
  const device = attachLoopDevice(backing);
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  let mounted = false;
  try {
    const { job, source } = jobOf(dir, 4 * MiB);
    execFileSync('mount', [device.device, mountpoint]);
    mounted = true;
    writeFileSync(join(mountpoint, 'kept'), 'the mounted filesystem\n');
    execFileSync('sync', ['-f', mountpoint]);
    const restore = backy(['-b', job, 'restore', device.device]);
    assertOneLineError(restore, new RegExp(`^backy: cannot restore to ${device.device}: the device is in use \\(mounted, or held by another program\\); nothing was written$`), 'restore onto a mounted device');
    execFileSync('umount', [mountpoint]);
    mounted = false;
    // Overwritten, the filesystem would not check clean (and its start would be the revision's bytes).
    execFileSync('e2fsck', ['-f', '-n', backing], { stdio: 'ignore' });
    assert.ok(!readFileSync(backing).subarray(0, MiB).equals(readFileSync(source).subarray(0, MiB)), 'the device holds the revision\'s bytes');
  } finally {
    if (mounted) execFileSync('umount', [mountpoint]);
    device.detach();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a restore onto a device stopped by a damaged block says how far the device was overwritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-restore-device-'));
  const backing = join(dir, 'disk.img');
  writeFileSync(backing, '');
  truncateSync(backing, 16 * MiB);
  const device = attachLoopDevice(backing);
  try {
    const { job, source, id } = jobOf(dir, 16 * MiB);
    writeAt(join(job, id), 13 * MiB, Buffer.from('rot'));
    const restore = backy(['-b', job, 'restore', device.device]);
    assertOneLineError(
      restore,
      new RegExp(`^backy: revision ${id} is damaged: block at offset ${13 * MiB} does not match its recorded hash; ${device.device} was overwritten up to offset \\d+ and cannot be trusted \\(--force writes it anyway\\)$`),
      'restore of a damaged revision onto a device',
    );
    const written = Number(/up to offset (\d+)/.exec(restore.stderr)![1]);
    assert.ok(written <= 13 * MiB);
    device.detach();
    assert.ok(readFileSync(backing).subarray(0, written).equals(readFileSync(source).subarray(0, written)), 'the bytes said to be written are the revision\'s');
  } finally {
    device.detach();
    rmSync(dir, { recursive: true, force: true });
  }
});
