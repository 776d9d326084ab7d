import type { RevisionRecord } from '../job/revision-report.js';

/**
 * The scheduler's view of its jobs, shared by the status file (written by
 * the scheduler, read by `backy check`) and the telnet shell. Times are
 * Date objects here and ISO 8601 UTC strings in the file.
 */

export type JobRunState = 'waiting' | 'queued' | 'running' | 'failed';

export interface JobStatus {
  name: string;
  schedule: string;
  /** Shortest interval of the job's schedule, in seconds (the SLA's base). */
  slaIntervalSeconds: number;
  /** When the job first appeared in the configuration (SLA of jobs never backed up). */
  firstSeen: Date;
  state: JobRunState;
  /** For `failed`: when the next attempt is due. */
  retryAt: Date | null;
  /** Consecutive failures (reset by a success). */
  failures: number;
  lastBackup: Date | null;
  lastTags: string[];
  /** Seconds the last complete backup took. */
  lastDuration: number | null;
  /** Bytes the last complete backup wrote (its `bytes_written`). */
  lastBytesWritten: number | null;
  nextBackup: Date | null;
  nextTags: string[];
  /** Revisions in the job directory (complete or not). */
  revisions: number;
  /** The sum of the revisions' `bytes_written`: what `backy status` calls the data they contain (estimated). */
  estimatedBytes: number;
  /** Revisions whose data failed a check (issue 13): never used as parents. */
  distrustedRevisions: number;
  /** When one of its complete revisions last proved its bytes (the newest `verified` time: a scrub or `backy verify`). */
  lastVerified: Date | null;
  /**
   * Every trusted complete revision proved its bytes since then (verified,
   * or backed up and verified against the source); while scrubbing keeps
   * up, within the last scrub-interval. Null without complete revisions.
   */
  verifiedSince: Date | null;
}

export interface RunningBackup {
  job: string;
  tags: string[];
  started: Date;
  pid: number | null;
}

/** A scheduled verification of one stored revision (`backy verify -r ID`). */
export interface RunningScrub {
  job: string;
  revision: string;
  started: Date;
  pid: number | null;
}

/** Continuous scrubbing: the interval, the current period's read budget, what runs. */
export interface ScrubStatus {
  /** `scrub-interval` in seconds; null when scrubbing is off. */
  intervalSeconds: number | null;
  /** A UTC day, or the interval when shorter. */
  periodSeconds: number | null;
  /** Bytes the current period may read, and what it has read (running scrubs included). */
  budgetBytes: number;
  readBytes: number;
  running: RunningScrub[];
}

export interface SchedulerStatus {
  version: string;
  pid: number;
  started: Date;
  configPath: string;
  configLoaded: Date;
  workerLimit: number;
  running: RunningBackup[];
  /** Job names waiting for a worker, in the order they will run. */
  queued: string[];
  /** Configured jobs the scheduler does not run, and why (e.g. a foreign directory in the way). */
  skipped: SkippedJob[];
  /** Backups ended since the scheduler started, by outcome. */
  finished: { succeeded: number; failed: number; interrupted: number };
  scrub: ScrubStatus;
}

export interface SkippedJob {
  job: string;
  reason: string;
}

/** What the status file holds. */
export interface StatusSnapshot {
  written: Date;
  scheduler: SchedulerStatus;
  jobs: JobStatus[];
}

/** What the telnet shell can see and do in a running scheduler. */
export interface SchedulerView {
  status(): SchedulerStatus;
  jobs(): JobStatus[];
  /** Queues a backup of the job now with its next tags; a message on failure. */
  runJob(name: string): RunOutcome;
}

/** Why a job could not be run now, for the HTTP API's error codes. */
export type RunRefusal = 'JOB_NOT_FOUND' | 'JOB_RUNNING' | 'JOB_SKIPPED' | 'SHUTTING_DOWN';

export type RunOutcome = { ok: true } | { ok: false; reason: string; code?: RunRefusal };

/** A backup that failed: when it ended, and why (the last line of the job's log). */
export interface BackupFailure {
  at: Date;
  reason: string;
}

export interface JobDetail {
  job: JobStatus;
  revisions: RevisionRecord[];
  /** The most recent failures, oldest first (at most a few). */
  failures: BackupFailure[];
}

/** What the HTTP server can see and do besides: one job in detail, a reload (as SIGHUP). */
export interface SchedulerControl extends SchedulerView {
  jobDetail(name: string): Promise<JobDetail | null>;
  reload(): Promise<{ ok: true } | { ok: false; reason: string }>;
}
