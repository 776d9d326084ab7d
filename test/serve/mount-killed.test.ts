/**
 * `backy mount` killed at an awkward moment: `backy umount` must still
 * leave nothing running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { backy, backyAsync } from '../helpers/cli.js';
import { MiB, jobWithRevision, mountStateDir } from '../helpers/serve-process.js';

/** Pids of processes whose arguments include `word`. */
function processesWith(word: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(word)) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Loop devices reading `file`. */
function loopDevicesOf(file: string): string[] {
  return readdirSync('/sys/block')
    .filter((name) => /^loop\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim() === file;
      } catch {
        return false;
      }
    });
}

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-mount-killed-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a mount killed while it attached its loop device: umount detaches that device too', async () => {
  execFileSync('truncate', ['-s', String(8 * MiB), join(dir, 'disk-loop.img')]);
  execFileSync('mkfs.ext4', ['-q', '-F', join(dir, 'disk-loop.img')]);
  const job = join(dir, 'job-loop');
  const id = jobWithRevision(job, join(dir, 'disk-loop.img'), 'cow');
  const mountpoint = join(dir, 'mnt-loop');
  mkdirSync(mountpoint);
  const stateDir = mountStateDir(mountpoint);
  const disk = join(stateDir, 'fuse', 'disk');
  // Stopped the moment the kernel has the device, before the mount writes it down (tried again where the poll was late).
  let caught = false;
  for (let attempt = 0; attempt < 5 && !caught; attempt++) {
    const mount = backyAsync(['-b', job, 'mount', '-r', id, mountpoint], { stdio: 'ignore' });
    const exited = new Promise((resolve) => mount.on('exit', resolve));
    try {
      while (loopDevicesOf(disk).length === 0) await sleep(2);
      mount.kill('SIGSTOP');
      caught = (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { loopDevice: string | null }).loopDevice === null;
    } finally {
      mount.kill('SIGKILL');
      await exited;
    }
    if (!caught) assert.equal(backy(['umount', mountpoint]).status, 0);
  }
  assert.ok(caught, 'never stopped the mount between attaching its device and recording it');
  const unmounted = backy(['umount', mountpoint]);
  try {
    assert.equal(unmounted.status, 0, unmounted.stderr);
    assert.deepEqual(loopDevicesOf(disk), []);
    assert.equal(existsSync(stateDir), false);
  } finally {
    for (const name of loopDevicesOf(disk)) spawnSync('losetup', ['-d', `/dev/${name}`]);
    spawnSync('fusermount3', ['-u', join(stateDir, 'fuse')]);
    for (const pid of processesWith(join(stateDir, 'nbd.sock'))) process.kill(pid, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a mount killed while its server starts: umount stops that server too', async () => {
  execFileSync('truncate', ['-s', String(8 * MiB), join(dir, 'disk.img')]);
  execFileSync('mkfs.ext4', ['-q', '-F', join(dir, 'disk.img')]);
  const job = join(dir, 'job');
  const id = jobWithRevision(job, join(dir, 'disk.img'), 'cow');
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint);
  const stateDir = mountStateDir(mountpoint);
  const socket = join(stateDir, 'nbd.sock');
  const mount = backyAsync(['-b', job, 'mount', '-r', id, mountpoint], { stdio: 'ignore' });
  const exited = new Promise((resolve) => mount.on('exit', resolve));
  try {
    // Stopped the moment its server exists, before that server can say it is ready and be written down.
    while (processesWith(socket).length === 0) await sleep(5);
    mount.kill('SIGSTOP');
    assert.equal(existsSync(join(stateDir, 'state.json')), false, 'the state was written before the mount was stopped');
  } finally {
    mount.kill('SIGKILL');
    await exited;
  }
  const servers = processesWith(socket);
  assert.equal(servers.length, 1);
  const unmounted = backy(['umount', mountpoint]);
  try {
    assert.equal(unmounted.status, 0, unmounted.stderr);
    assert.equal(existsSync(stateDir), false);
    assert.deepEqual(processesWith(socket), [], 'backy serve still runs');
  } finally {
    for (const pid of processesWith(socket)) process.kill(pid, 'SIGKILL');
  }
});
