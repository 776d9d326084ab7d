import { readdir, readFile } from 'node:fs/promises';
import { BackyError } from '../util/errors.js';
import { programPath, runProgram, type RunResult } from '../util/programs.js';

/** System programs finish in seconds; a hung one (a dead FUSE file) must not hang backy. */
const PROGRAM_TIMEOUT_MS = 120_000;

/** Runs a system program; its failure is a one-line BackyError saying what `doing` was. */
export async function run(name: string, args: string[], doing: string, accept: number[] = [0]): Promise<RunResult> {
  const program = programPath(name);
  let result: RunResult;
  try {
    result = await runProgram(program, args, { timeoutMs: PROGRAM_TIMEOUT_MS });
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new BackyError(`cannot ${doing}: ${missing ? `${program} is not installed` : (err as Error).message}`);
  }
  if (result.exitCode === null || !accept.includes(result.exitCode)) {
    const said = result.stderr.trim().split('\n').at(-1) ?? '';
    throw new BackyError(`cannot ${doing}: ${name} ${result.signal ? `was killed by ${result.signal}` : `failed (exit status ${result.exitCode})`}${said ? `: ${said}` : ''}`);
  }
  return result;
}

export interface Partition {
  number: number;
  /** Bytes from the start of the disk. */
  offset: number;
  size: number;
}

/** The partitions of a disk image, read by util-linux's partx in user space (the kernel need not scan them); none without a table. */
export async function partitions(file: string): Promise<Partition[]> {
  const result = await run('partx', ['--raw', '--noheadings', '--output', 'NR,START,SECTORS', file], 'read the partition table', [0, 1]);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [number, start, sectors] = line.trim().split(/\s+/).map(Number);
      if (![number, start, sectors].every((n) => Number.isSafeInteger(n) && n! >= 0)) throw new BackyError(`partx printed an unexpected line: ${JSON.stringify(line)}`);
      return { number: number!, offset: start! * 512, size: sectors! * 512 };
    });
}

/** Attaches `file` (or a range of it) as a read-only loop device; its path. */
export async function attachLoop(file: string, range: { offset: number; size: number } | null): Promise<string> {
  const args = ['--read-only', '--find', '--show'];
  if (range) args.push('--offset', String(range.offset), '--sizelimit', String(range.size));
  const device = (await run('losetup', [...args, file], 'attach a loop device')).stdout.trim();
  if (!isLoopDevice(device)) throw new BackyError(`losetup printed ${JSON.stringify(device)}, not a loop device`);
  return device;
}

export function isLoopDevice(device: string): boolean {
  return /^\/dev\/loop\d+$/.test(device);
}

/** The file a loop device reads, as the kernel says; null when it is detached. */
export async function loopBackingFile(device: string): Promise<string | null> {
  try {
    return (await readFile(`/sys/block/${device.slice('/dev/'.length)}/loop/backing_file`, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** The loop devices that read `file`, as the kernel says. */
export async function loopDevicesOf(file: string): Promise<string[]> {
  const names = await readdir('/sys/block').catch(() => [] as string[]);
  const devices: string[] = [];
  for (const name of names.filter((n) => /^loop\d+$/.test(n))) {
    if ((await loopBackingFile(`/dev/${name}`)) === file) devices.push(`/dev/${name}`);
  }
  return devices;
}

/** The filesystem type blkid finds on a device, or null. */
export async function filesystemType(device: string): Promise<string | null> {
  const result = await run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], `probe ${device}`, [0, 2]);
  const type = result.stdout.trim();
  return result.exitCode === 0 && /^[A-Za-z0-9_]+$/.test(type) ? type : null;
}

/**
 * Read-only, and without replaying a journal: a filesystem backed up
 * while in use has one to replay, and the device cannot take writes.
 */
export function readOnlyOptions(type: string): string {
  if (/^ext[234]$/.test(type)) return 'ro,noload';
  if (type === 'xfs') return 'ro,norecovery';
  if (type === 'btrfs') return 'ro,rescue=nologreplay';
  return 'ro';
}
