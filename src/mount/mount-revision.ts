import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../util/clock.js';
import { BackyError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { programPath } from '../util/programs.js';
import { HashRecordError } from '../integrity/hash-record.js';
import { openData, requireRecordedSize, selectRevision, type SelectedRevision } from '../job/revision-data.js';
import { attachLoop, filesystemType, loopBackingFile, loopDevicesOf, partitions, readOnlyOptions, run, type Partition } from './block-programs.js';
import { MountPaths, readMountState, writeMountState, type MountState } from './mount-state.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** How long the server and nbdfuse may take to start, and the server to stop. */
const START_LIMIT_MS = 60_000;

export interface MountOptions {
  spec?: string;
  mountpoint: string;
  /** A partition number of a partitioned disk; without it the whole disk holds the filesystem. */
  partition?: number;
  logger: Logger;
  clock: Clock;
}

/**
 * `backy mount`: a revision's filesystem mounted read-only, without
 * restoring it. A `backy serve` on a Unix socket exports the revision
 * (every read checked), nbdfuse shows the export as a file, a read-only
 * loop device (over the partition's bytes, so that the kernel need not
 * scan partitions) holds the filesystem, mounted without journal replay.
 * Each step is recorded as it is taken; a failure undoes them all.
 */
export async function mountRevision(jobPath: string, options: MountOptions): Promise<{ revision: string; device: string; type: string }> {
  const { logger } = options;
  const selected = await selectRevision(jobPath, options.spec, logger, options.clock.now());
  await requireUsableRecord(selected);
  const mountpoint = await existingDirectory(options.mountpoint);
  const paths = new MountPaths(mountpoint);
  await mkdir(resolve(paths.dir, '..'), { recursive: true, mode: 0o700 });
  try {
    await mkdir(paths.dir, { mode: 0o700 });
  } catch (err) {
    if (errorCode(err) === 'EEXIST') throw new BackyError(`${mountpoint} has a backy mount already (backy umount ${mountpoint} undoes it)`);
    throw err;
  }
  const state: MountState = { mountpoint, job: selected.job.path, revision: selected.revision.uuid, servePid: 1, loopDevice: null, mounted: false };
  try {
    state.servePid = await startServer(selected.job.path, state.revision, paths);
    await writeMountState(paths, state);
    await startFuse(paths);
    const range = await chooseRange(paths.disk, options.partition);
    state.loopDevice = await attachLoop(paths.disk, range);
    await writeMountState(paths, state);
    const type = await filesystemType(state.loopDevice);
    if (!type) throw new BackyError(`no filesystem found on ${options.partition ? `partition ${options.partition}` : 'the disk'} of revision ${state.revision}`);
    await run('mount', ['-t', type, '-o', readOnlyOptions(type), state.loopDevice, mountpoint], `mount revision ${state.revision} on ${mountpoint}`);
    state.mounted = true;
    await writeMountState(paths, state);
    return { revision: state.revision, device: state.loopDevice, type };
  } catch (err) {
    // Probing a damaged revision reads I/O errors, which blkid and mount report as no filesystem or a bad superblock.
    const damage = await damageReported(paths);
    await teardown(paths, state, logger).catch((cleanup: unknown) => logger.warn(`undoing the mount failed: ${(cleanup as Error).message}`));
    throw damage ? new BackyError(`revision ${state.revision} is damaged: ${damage}; nothing was mounted`) : err;
  }
}

/** The first damaged block the mount's server refused to serve, as its log says; null when it found none. */
async function damageReported(paths: MountPaths): Promise<string | null> {
  const log = await readFile(paths.serveLog, 'utf8').catch(() => '');
  return /: (block at offset \d+ does not match its recorded hash)/.exec(log)?.[1] ?? null;
}

/**
 * A revision whose `.rev` records hashes is mounted only while its record
 * proves them: without it, backy serve reads the revision unchecked (a
 * warning in its own log only), and a file read from the mount would
 * carry any damage silently. A restore proves such a revision by its
 * root hash as it streams; random reads cannot.
 */
async function requireUsableRecord({ store, revision }: SelectedRevision): Promise<void> {
  if (!revision.hashes) return;
  const reader = await openData(store, revision);
  try {
    // Data of another size fails its record too, but that is not what is wrong with it.
    requireRecordedSize(revision, reader.size);
    await (await reader.hashes(revision.hashes)).close();
  } catch (err) {
    if (!(err instanceof HashRecordError)) throw err;
    throw new BackyError(
      `cannot check revision ${revision.uuid} against its recorded hashes: ${err.message}; not mounting it unchecked (backy restore proves it by the root hash in its .rev)`,
    );
  } finally {
    await reader.close();
  }
}

/** `backy umount`: unmounts, detaches the loop device, ends nbdfuse and the server, removes the state. */
export async function unmountRevision(mountpoint: string, logger: Logger): Promise<void> {
  const path = await realpath(mountpoint).catch(() => resolve(mountpoint));
  const paths = new MountPaths(path);
  const exists = await stat(paths.dir).then(
    () => true,
    () => false,
  );
  if (!exists) throw new BackyError(`nothing was mounted on ${path} by backy mount`);
  await teardown(paths, await readMountState(paths), logger);
}

async function teardown(paths: MountPaths, state: MountState | null, logger: Logger): Promise<void> {
  // Found by what they read, not only by the state: a mount killed while losetup ran never recorded its device,
  // which then kept the FUSE file busy and every umount failing.
  const devices = await loopDevicesOf(paths.disk);
  if (state?.loopDevice && !devices.includes(state.loopDevice) && (await loopBackingFile(state.loopDevice)) === paths.disk) devices.push(state.loopDevice);
  const mounted = await mountedSource(paths.mountpoint);
  if (mounted && devices.includes(mounted)) {
    await run('umount', [paths.mountpoint], `unmount ${paths.mountpoint}`);
  }
  for (const device of devices) await run('losetup', ['-d', device], `detach ${device}`);
  if (await mountedSource(paths.fuseDir)) await run('fusermount3', ['-u', paths.fuseDir], `unmount the FUSE file ${paths.disk}`);
  for (const pid of await ourServers(paths)) await stopProcess(pid, logger);
  await rm(paths.dir, { recursive: true, force: true });
}

async function existingDirectory(path: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    throw new BackyError(`mountpoint ${path}: ${errorCode(err) === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
  }
  if (!(await stat(real)).isDirectory()) throw new BackyError(`mountpoint ${path} is not a directory`);
  if (await mountedSource(real)) throw new BackyError(`${real} is a mountpoint already`);
  return real;
}

/** What is mounted exactly at `path`, or null. */
async function mountedSource(path: string): Promise<string | null> {
  const result = await run('findmnt', ['--noheadings', '--output', 'SOURCE', '--mountpoint', path], `look at ${path}`, [0, 1]);
  return result.exitCode === 0 ? result.stdout.trim().split('\n')[0]! : null;
}

async function chooseRange(disk: string, partition: number | undefined): Promise<Partition | null> {
  const found = await partitions(disk);
  const list = found.map((p) => `${p.number} (${Math.round(p.size / 2 ** 20)} MiB)`).join(', ');
  if (partition === undefined) {
    if (found.length > 0) throw new BackyError(`the revision is a partitioned disk: choose one of its partitions ${list} with --partition N`);
    return null;
  }
  const chosen = found.find((p) => p.number === partition);
  if (!chosen) throw new BackyError(found.length > 0 ? `the revision has no partition ${partition}; it has ${list}` : `the revision has no partition table: mount it without --partition`);
  return chosen;
}

/** `backy serve` on the mount's socket, in the background; its pid once it takes clients. */
async function startServer(job: string, revision: string, paths: MountPaths): Promise<number> {
  const child = spawn(process.execPath, [CLI, '-b', job, '-l', paths.serveLog, 'serve', '-r', revision, '--socket', paths.socket], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const uri = await new Promise<string>((resolveLine, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new BackyError('backy serve did not start in time')), START_LIMIT_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolveLine(out.trim());
      }
    });
    child.on('error', (err) => reject(new BackyError(`cannot start backy serve: ${err.message}`)));
    child.on('exit', async () => {
      clearTimeout(timer);
      const log = await readFile(paths.serveLog, 'utf8').catch(() => '');
      reject(new BackyError(`backy serve ended at once: ${log.trim().split('\n').at(-1)?.replace(/^.* (ERROR|WARN) /, '') ?? 'no log'}`));
    });
  });
  child.stdout.destroy();
  child.unref();
  if (!uri.startsWith('nbd+unix://')) throw new BackyError(`backy serve printed ${JSON.stringify(uri)}`);
  return child.pid!;
}

/** nbdfuse showing the export as the file `paths.disk`, in the background, once its pid file says it is ready. */
async function startFuse(paths: MountPaths): Promise<void> {
  await mkdir(paths.fuseDir);
  const log = await open(paths.fuseLog, 'a');
  const uri = `nbd+unix:///?socket=${paths.socket}`;
  const child = spawn(programPath('nbdfuse'), ['-r', '-P', paths.fusePidFile, paths.disk, uri], { detached: true, stdio: ['ignore', 'ignore', log.fd] });
  await log.close();
  let exited: string | null = null;
  child.on('error', (err) => (exited = errorCode(err) === 'ENOENT' ? 'nbdfuse is not installed (Debian: libnbd-bin)' : err.message));
  child.on('exit', (code, signal) => (exited ??= `nbdfuse exited (${signal ?? code})`));
  const started = Date.now();
  while (!(await stat(paths.fusePidFile).then(() => true, () => false))) {
    if (exited) throw new BackyError(`cannot show the revision as a file: ${exited}: ${(await readFile(paths.fuseLog, 'utf8').catch(() => '')).trim().split('\n').at(-1) ?? ''}`);
    if (Date.now() - started > START_LIMIT_MS) throw new BackyError('nbdfuse did not start in time');
    await sleep(50);
  }
  child.unref();
}

/** Only a `backy serve` on this mount's socket is ever signalled: a pid read back may be anyone's by now. */
async function isOurServer(pid: number, paths: MountPaths): Promise<boolean> {
  try {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return args.includes('serve') && args.includes(paths.socket);
  } catch {
    return false;
  }
}

/**
 * Every `backy serve` on this mount's socket, found in /proc rather than in
 * the state: a mount killed while its server started never wrote the pid
 * down, and the server (detached, holding the revision in use) would
 * outlive every umount.
 */
async function ourServers(paths: MountPaths): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const ours: number[] = [];
  for (const pid of pids) if (pid !== process.pid && (await isOurServer(pid, paths))) ours.push(pid);
  return ours;
}

async function stopProcess(pid: number, logger: Logger): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const started = Date.now();
  while (Date.now() - started < START_LIMIT_MS) {
    if (!(await stat(`/proc/${pid}`).then(() => true, () => false))) return;
    await sleep(50);
  }
  logger.warn(`backy serve (pid ${pid}) did not stop within ${START_LIMIT_MS / 1000} s`);
}
