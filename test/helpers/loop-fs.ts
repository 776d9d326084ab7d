/**
 * Real filesystems on loop devices for tests and benchmarks: a btrfs (where
 * reflinks share blocks) or ext4 (where they cannot) of a given size,
 * mounted in a temporary directory and removed again. Needs root.
 */
import { after, before } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type FsType = 'btrfs' | 'ext4';

export interface LoopFilesystem {
  type: FsType;
  /** Where it is mounted. */
  path: string;
  /** Unmounts and deletes the backing file. */
  dispose(): void;
}

export interface LoopOptions {
  /** Where the backing file goes (default: the system's temporary directory). */
  dir?: string;
  /**
   * Attach the loop device with direct I/O on its backing file, as benchmarks
   * do: without it every write is cached twice (the loop filesystem's pages
   * and the backing file's), and a flush costs a second pass through memory
   * that a real disk would not.
   */
  directIo?: boolean;
}

export function mountLoopFilesystem(type: FsType, size = '1G', options: LoopOptions = {}): LoopFilesystem {
  const base = mkdtempSync(join(options.dir ?? tmpdir(), `backy-${type}-`));
  const image = join(base, 'fs.img');
  const mountpoint = join(base, 'mnt');
  execFileSync('mkdir', ['-p', mountpoint]);
  // Allocated up front: the first writes into a sparse backing file would
  // otherwise pay for its allocation and skew whatever runs first.
  execFileSync('fallocate', ['-l', size, image]);
  if (type === 'btrfs') execFileSync('mkfs.btrfs', ['-q', image]);
  else execFileSync('mkfs.ext4', ['-q', '-F', image]);
  let device: string | null = null;
  if (options.directIo) {
    device = execFileSync('losetup', ['--find', '--show', '--direct-io=on', image], { encoding: 'utf8' }).trim();
    execFileSync('mount', [device, mountpoint]);
  } else {
    execFileSync('mount', ['-o', 'loop', image, mountpoint]);
  }
  let disposed = false;
  return {
    type,
    path: mountpoint,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (let attempt = 0; attempt < 10; attempt++) {
        try {
          execFileSync('umount', [mountpoint], { stdio: 'ignore' });
          break;
        } catch {
          execFileSync('sleep', ['0.2']);
        }
      }
      if (device) execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * An ext4 and a btrfs of `size` each, mounted before the file's tests and
 * removed after them: the two kinds of job directory, with and without
 * direct I/O and reflinks. Read the fields inside tests, not before.
 */
export function useExt4AndBtrfs(size: string): { ext4: LoopFilesystem; btrfs: LoopFilesystem } {
  const mounted = {} as { ext4: LoopFilesystem; btrfs: LoopFilesystem };
  before(() => {
    mounted.ext4 = mountLoopFilesystem('ext4', size);
    mounted.btrfs = mountLoopFilesystem('btrfs', size);
  });
  after(() => {
    mounted.ext4?.dispose();
    mounted.btrfs?.dispose();
  });
  return mounted;
}

/** Bytes of the file's extents no other file shares (btrfs only). */
export function exclusiveBytes(path: string): number {
  const out = execFileSync('btrfs', ['filesystem', 'du', '--raw', path], { encoding: 'utf8' });
  const line = out.trim().split('\n').at(-1) ?? '';
  const fields = line.trim().split(/\s+/);
  return Number(fields[1]);
}

export interface LoopDevice {
  /** `/dev/loopN`. */
  device: string;
  /** Detaches the device (the backing file stays). */
  detach(): void;
}

/** Attaches a file as a block device, as an operator's disk would be. */
export function attachLoopDevice(file: string): LoopDevice {
  const device = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
  let detached = false;
  return {
    device,
    detach() {
      if (detached) return;
      detached = true;
      execFileSync('losetup', ['-d', device]);
    },
  };
}

/** A block device's size in bytes, as the kernel reports it. */
export function blockDeviceSize(device: string): number {
  return Number(execFileSync('blockdev', ['--getsize64', device], { encoding: 'utf8' }).trim());
}
