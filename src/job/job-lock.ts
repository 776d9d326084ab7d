import { constants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryFlock } from '../io/native-io.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { FileLock } from '../util/lock.js';
import { openRegularFile } from '../util/regular-file.js';

/** How often a waiting command looks again at a `config` lock held by backy 2.x. */
const CONFIG_LOCK_POLL_MS = 200;
/** How long a command that must not wait still waits for a lock held only briefly. */
const LOCK_GRACE_MS = 3000;
const BUSY_POLL_MS = 50;

/**
 * The lock every command that changes a job directory holds: backy's own
 * `.backy.lock`, and flock(2) on the job's `config`, which is the lock the
 * original backy 2.x takes, so that an old backy still run by a forgotten
 * cron job and this one never write one job at once. The kernel drops both
 * when the process dies.
 */
export class JobLock {
  private constructor(
    private readonly own: FileLock,
    private readonly config: FileHandle | null,
  ) {}

  /**
   * Takes both locks, or fails with a message naming the holder. A holder
   * that lets go within `graceMs` (a verification noting its outcome, a
   * retention pass) is waited for.
   */
  static async acquireOrFail(jobPath: string, lockFile: string, configFile: string, what: string, graceMs = LOCK_GRACE_MS): Promise<JobLock> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      const own = await FileLock.tryAcquire(join(jobPath, lockFile));
      if (own) {
        const config = await lockConfig(join(jobPath, configFile)).catch(async (err: unknown) => {
          await own.release();
          throw err;
        });
        if (config !== 'held') return new JobLock(own, config);
        await own.release();
        if (Date.now() >= deadline) {
          throw new BackyError(`${what} is already in progress (another program, e.g. backy 2.x, holds the lock on ${join(jobPath, configFile)})`);
        }
      } else if (Date.now() >= deadline) {
        // Names the holder's pid.
        return JobLock.fromOwn(await FileLock.acquireOrFail(join(jobPath, lockFile), what), jobPath, configFile, what);
      }
      await sleep(BUSY_POLL_MS);
    }
  }

  private static async fromOwn(own: FileLock, jobPath: string, configFile: string, what: string): Promise<JobLock> {
    const config = await lockConfig(join(jobPath, configFile)).catch(async (err: unknown) => {
      await own.release();
      throw err;
    });
    if (config !== 'held') return new JobLock(own, config);
    await own.release();
    throw new BackyError(`${what} is already in progress (another program, e.g. backy 2.x, holds the lock on ${join(jobPath, configFile)})`);
  }

  /** Waits until both locks are free, then takes them. */
  static async acquire(jobPath: string, lockFile: string, configFile: string): Promise<JobLock> {
    for (;;) {
      const own = await FileLock.acquire(join(jobPath, lockFile));
      const config = await lockConfig(join(jobPath, configFile)).catch(async (err: unknown) => {
        await own.release();
        throw err;
      });
      if (config !== 'held') return new JobLock(own, config);
      // Not held while waiting, so that the other program's next command is not blocked by us.
      await own.release();
      await sleep(CONFIG_LOCK_POLL_MS);
    }
  }

  async release(): Promise<void> {
    try {
      await this.config?.close();
    } finally {
      await this.own.release();
    }
  }
}

/**
 * flock(2) on the job's `config`, held until the returned descriptor is
 * closed; null where there is nothing to lock (no `config` yet, or no
 * native helper to lock with), 'held' when another process has it.
 */
async function lockConfig(path: string): Promise<FileHandle | null | 'held'> {
  let handle: FileHandle;
  try {
    // Through a symlink, as backy 2.x and every reader of the config go: both must lock the same file.
    handle = await openRegularFile(path, constants.O_RDONLY);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw describeIoError(err, `cannot open ${path} to lock it`);
  }
  let taken: boolean | null;
  try {
    taken = tryFlock(handle.fd);
  } catch (err) {
    await handle.close();
    throw describeIoError(err, `cannot lock ${path}`);
  }
  if (taken) return handle;
  await handle.close();
  return taken === null ? null : 'held';
}
