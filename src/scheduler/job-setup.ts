import { constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { believable, FUTURE_TOLERANCE_MS, JobDirectory, serializeJobConfig } from '../job/job-directory.js';
import { isComplete, revisionDuration, type Revision } from '../job/revision.js';
import { bytesWritten, isDistrusted } from '../job/revision-report.js';
import { MAX_DURATION_SECONDS } from '../schedule/duration.js';
import type { HistoryEntry } from '../schedule/schedule.js';
import type { StoredRevision } from '../schedule/scrub.js';
import type { Clock } from '../util/clock.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { JobConfig } from './config.js';
import { checkAdoptable } from './job-adoption.js';
import { storeKeys } from './job-store.js';
import { openRegularFile, readSmallFile } from '../util/regular-file.js';

/**
 * The scheduler's side of a job directory: create it, keep its `config` in
 * step with the main file (so `backy -b DIR backup` works stand-alone), and
 * read the history the schedule is planned from.
 */

/**
 * When the scheduler first saw the job, for the SLA of a job that never
 * completed a backup. Kept in the job directory so that a restart, or a
 * second scheduler host reading the same directory, keeps it.
 */
export const FIRST_SEEN_FILE = '.first-seen';
/** Far more than the ISO date and line break backy writes: anything longer is damage, recorded again. */
const FIRST_SEEN_LIMIT = 256;

export interface PreparedJob {
  directory: JobDirectory;
  firstSeen: Date;
  /** The job's `config` was created or rewritten. */
  configWritten: boolean;
}

/** Creates or adopts the job's directory; a ForeignDirectoryError when something else is in the way. */
export async function prepareJobDirectory(baseDir: string, job: JobConfig, clock: Clock, logger?: Logger): Promise<PreparedJob> {
  const directory = new JobDirectory(join(baseDir, job.name));
  if (!(await checkAdoptable(job.name, directory.path))) {
    try {
      await mkdir(directory.path);
    } catch (err) {
      // Made meanwhile (a second scheduler host on the same files): look again.
      if (errorCode(err) !== 'EEXIST') throw describeIoError(err, `cannot create job directory ${directory.path}`);
      await checkAdoptable(job.name, directory.path);
    }
  }
  await directory.ensureExists();
  const configWritten = await writeConfigIfChanged(directory, job, (line) => logger?.info(`job ${job.name}: ${line}`));
  const firstSeen = await readOrRecordFirstSeen(directory, clock);
  return { directory, firstSeen, configWritten };
}

async function writeConfigIfChanged(directory: JobDirectory, job: JobConfig, log: (line: string) => void): Promise<boolean> {
  const config = { ...job.source, ...(await storeKeys(directory, job.store, log)) };
  const wanted = serializeJobConfig(config);
  let current: string | null = null;
  try {
    current = await readSmallFile(directory.configPath);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw describeIoError(err, `cannot read ${directory.configPath}`);
  }
  if (current === wanted) return false;
  try {
    await directory.writeConfig(config);
  } catch (err) {
    throw describeIoError(err, `cannot write ${directory.configPath}`);
  }
  return true;
}

/** Never through a symlink: one planted as `.first-seen` would have the scheduler overwrite what it points to. */
async function readOrRecordFirstSeen(directory: JobDirectory, clock: Clock): Promise<Date> {
  const path = join(directory.path, FIRST_SEEN_FILE);
  try {
    const handle = await openRegularFile(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      // The date and a line break, never the whole file: one of 1 GiB made the job skipped ("Invalid string length"), smaller ones were read whole at every start.
      const buffer = Buffer.alloc(FIRST_SEEN_LIMIT + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const recorded = bytesRead > FIRST_SEEN_LIMIT ? new Date(Number.NaN) : new Date(buffer.toString('utf8', 0, bytesRead).trim());
      // A date in the future (a wrong clock once) would keep a job that never backed up within its SLA: recorded again.
      if (!Number.isNaN(recorded.getTime()) && recorded.getTime() <= clock.now().getTime() + FUTURE_TOLERANCE_MS) return recorded;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errorCode(err) === 'ELOOP') throw new BackyError(`${path} is a symbolic link; remove it`);
    if (errorCode(err) !== 'ENOENT') throw describeIoError(err, `cannot read ${path}`);
  }
  const now = clock.now();
  try {
    // No fsync: after a crash an empty or missing file is simply recorded again (1,000 jobs start faster).
    const handle = await openRegularFile(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    try {
      await handle.writeFile(`${now.toISOString()}\n`);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errorCode(err) === 'ELOOP') throw new BackyError(`${path} is a symbolic link; remove it`);
    throw describeIoError(err, `cannot write ${path}`);
  }
  return now;
}

export interface LastBackup {
  timestamp: Date;
  tags: string[];
  /** Seconds. */
  duration: number;
  bytesWritten: number;
}

export interface JobHistory {
  /** Complete revisions, oldest first: what the schedule is planned from. */
  complete: HistoryEntry[];
  last: LastBackup | null;
  /** All revisions, complete or not. */
  revisions: number;
  estimatedBytes: number;
  distrusted: number;
  /** Complete revisions and their proof, oldest first: what scrubbing is planned from. */
  stored: StoredRevision[];
}

/**
 * Reads the job directory's revisions; manual backups count like scheduled
 * ones. A revision dated in the future (as retention sees it) plans nothing:
 * it would make the job look fresh to its SLA and suppress catch-up until then.
 */
export async function readJobHistory(directory: JobDirectory, now: Date, logger: Logger): Promise<JobHistory> {
  const all = await directory.revisions(logger);
  const complete = all.filter(isComplete);
  const planned = believable(complete, now);
  const newest = planned.at(-1);
  return {
    complete: planned.map((r) => ({ timestamp: r.timestamp, tags: r.tags })),
    last: newest
      ? { timestamp: newest.timestamp, tags: newest.tags, duration: plausibleDuration(newest), bytesWritten: wholeBytes(bytesWritten(newest)) }
      : null,
    revisions: all.length,
    estimatedBytes: wholeBytes(all.reduce((sum, r) => sum + wholeBytes(bytesWritten(r)), 0)),
    distrusted: all.filter(isDistrusted).length,
    stored: complete.map((r) => ({
      uuid: r.uuid,
      bytes: wholeBytes(imageBytes(r)),
      completed: new Date(r.timestamp.getTime() + plausibleDuration(r) * 1000),
      verified: r.verified,
      distrusted: isDistrusted(r),
    })),
  };
}

/** What a verification of the revision reads: the image size its backup recorded (backy 2.x recorded none: its bytes written). */
function imageBytes(revision: Revision): number {
  const size = Number(revision.stats.size);
  return Number.isSafeInteger(size) && size >= 0 ? size : bytesWritten(revision);
}

/**
 * A `.rev` is anyone's to edit: 1.5 or 1e20 bytes are read as the nearest
 * whole number a count can hold, so that they neither stop the status file
 * nor sum to something no count is.
 */
function wholeBytes(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.min(Math.round(value), Number.MAX_SAFE_INTEGER) : 0;
}

/** A backup is believed to have taken no longer than a schedule's longest interval: a duration beyond it (1e13 s) would complete it past any valid date. */
function plausibleDuration(revision: Revision): number {
  const seconds = Number(revisionDuration(revision));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, MAX_DURATION_SECONDS) : 0;
}
