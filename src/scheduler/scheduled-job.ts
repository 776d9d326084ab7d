import type { JobDirectory } from '../job/job-directory.js';
import { missedTags, planNextRun, type RunPlan } from '../schedule/next-run.js';
import { inScheduleOrder, longestInterval, shortestInterval, type HistoryEntry } from '../schedule/schedule.js';
import { jobSpreadSeconds } from '../schedule/spread.js';
import { retryDelaySeconds } from '../schedule/backoff.js';
import { verificationStanding, type VerificationStanding } from '../schedule/scrub.js';
import type { JobConfig } from './config.js';
import type { JobHistory } from './job-setup.js';
import type { QueuedRun } from './run-queue.js';
import type { BackupFailure, JobRunState, JobStatus } from './status-model.js';

/** Failures a job remembers for the HTTP API. */
const RECENT_FAILURES = 10;

interface Retry {
  at: Date;
  tags: string[];
  dueSince: Date;
}

interface Running {
  tags: string[];
  started: Date;
  pid: number | null;
}

/**
 * One job in the running scheduler: its configuration, what its job
 * directory says happened, and where it stands (waiting for its next run,
 * queued for a worker, running, or failed and waiting to retry).
 */
export class ScheduledJob {
  state: JobRunState = 'waiting';
  failures = 0;
  /** Removed from the configuration while running: forgotten once the run ends. */
  removed = false;
  private plan!: RunPlan;
  private standing!: VerificationStanding;
  private retry: Retry | null = null;
  private queuedRun: (QueuedRun & { at: Date }) | null = null;
  private running: Running | null = null;
  /**
   * The last successful run, in case the job directory does not show it
   * (a BACKY_CMD that makes no revision): without it such a job would run
   * again at once, forever.
   */
  private lastSuccess: HistoryEntry | null = null;
  /** The last few failures, oldest first. */
  readonly recentFailures: BackupFailure[] = [];

  constructor(
    public config: JobConfig,
    readonly directory: JobDirectory,
    readonly firstSeen: Date,
    private history: JobHistory,
    now: Date,
  ) {
    this.replan(now);
  }

  get name(): string {
    return this.config.name;
  }

  get spreadSeconds(): number {
    return jobSpreadSeconds(this.name, longestInterval(this.config.schedule));
  }

  /** A new configuration for the job (SIGHUP): plan afresh, keep the backoff. */
  reconfigure(config: JobConfig, now: Date): void {
    this.config = config;
    this.removed = false;
    if (this.retry) {
      const tags = this.scheduleTags(this.retry.tags);
      this.retry.tags = tags.length > 0 ? tags : this.config.schedule.map((rule) => rule.tag);
    }
    this.replan(now);
  }

  setHistory(history: JobHistory, now: Date): void {
    this.history = history;
    this.replan(now);
  }

  /** Whether a scrub may read the job's revisions now: no backup of it is queued or running. */
  get idle(): boolean {
    return !this.removed && (this.state === 'waiting' || this.state === 'failed');
  }

  /** The run that is due now, if any (a regular or catch-up run, or a retry). */
  dueRun(now: Date): QueuedRun | null {
    if (this.state === 'waiting' && this.plan.at <= now) {
      return { job: this.name, tags: this.plan.tags, dueSince: this.plan.dueSince };
    }
    if (this.state === 'failed' && this.retry && this.retry.at <= now) {
      const missed = missedTags(this.config.schedule, this.planningHistory(), now).map((m) => m.tag);
      return { job: this.name, tags: inScheduleOrder(this.config.schedule, [...this.retry.tags, ...missed]), dueSince: this.retry.dueSince };
    }
    return null;
  }

  /** A run now with the next tags, for `runJob` (the telnet shell). */
  runNow(now: Date): QueuedRun {
    const tags = this.state === 'failed' && this.retry ? this.retry.tags : this.plan.tags;
    return { job: this.name, tags, dueSince: now };
  }

  /** When the job wants the scheduler's attention next. */
  wakeAt(): Date | null {
    if (this.state === 'waiting') return this.plan.at;
    if (this.state === 'failed') return this.retry?.at ?? null;
    return null;
  }

  queued(run: QueuedRun, now: Date): void {
    this.state = 'queued';
    this.queuedRun = { ...run, at: now };
  }

  /** Back to waiting (taken off the queue, e.g. at shutdown). */
  unqueued(): void {
    this.queuedRun = null;
    this.state = this.retry ? 'failed' : 'waiting';
  }

  started(tags: string[], at: Date, pid: number | null): void {
    this.queuedRun = null;
    this.state = 'running';
    this.running = { tags, started: at, pid };
  }

  get knownHistory(): JobHistory {
    return this.history;
  }

  get runningBackup(): Running | null {
    return this.running;
  }

  succeeded(history: JobHistory, now: Date): void {
    if (this.running) this.lastSuccess = { timestamp: this.running.started, tags: this.running.tags };
    this.failures = 0;
    this.retry = null;
    this.endRun(history, now);
  }

  /** Returns when the next attempt is due. */
  failed(history: JobHistory, now: Date, dueSince: Date, reason = 'failed'): Date {
    this.failures += 1;
    this.recentFailures.push({ at: now, reason });
    this.recentFailures.splice(0, Math.max(0, this.recentFailures.length - RECENT_FAILURES));
    const at = new Date(now.getTime() + retryDelaySeconds(this.failures) * 1000);
    this.retry = { at, tags: this.running?.tags ?? this.plan.tags, dueSince };
    this.endRun(history, now);
    return at;
  }

  /** Interrupted by shutdown: neither success nor failure. */
  interrupted(history: JobHistory, now: Date): void {
    this.endRun(history, now);
  }

  status(): JobStatus {
    const last = this.history.last;
    const next =
      this.state === 'waiting'
        ? { at: this.plan.at, tags: this.plan.tags }
        : this.state === 'queued' && this.queuedRun
          ? { at: this.queuedRun.at, tags: this.queuedRun.tags }
          : this.state === 'failed' && this.retry
            ? { at: this.retry.at, tags: this.retry.tags }
            : null;
    return {
      name: this.name,
      schedule: this.config.scheduleName,
      slaIntervalSeconds: shortestInterval(this.config.schedule),
      firstSeen: this.firstSeen,
      state: this.state,
      retryAt: this.state === 'failed' ? (this.retry?.at ?? null) : null,
      failures: this.failures,
      lastBackup: last?.timestamp ?? null,
      lastTags: last?.tags ?? [],
      lastDuration: last?.duration ?? null,
      lastBytesWritten: last?.bytesWritten ?? null,
      nextBackup: next?.at ?? null,
      nextTags: next?.tags ?? [],
      revisions: this.history.revisions,
      estimatedBytes: this.history.estimatedBytes,
      distrustedRevisions: this.history.distrusted,
      lastVerified: this.standing.lastVerified,
      verifiedSince: this.standing.verifiedSince,
    };
  }

  private endRun(history: JobHistory, now: Date): void {
    this.running = null;
    this.state = this.retry ? 'failed' : 'waiting';
    this.setHistory(history, now);
  }

  private replan(now: Date): void {
    this.standing = verificationStanding(this.history.stored);
    this.plan = planNextRun(this.config.schedule, this.spreadSeconds, this.planningHistory(), now);
  }

  private planningHistory(): HistoryEntry[] {
    const recorded = this.history.complete;
    const success = this.lastSuccess;
    if (!success || recorded.some((entry) => entry.timestamp >= success.timestamp)) return recorded;
    return [...recorded, success];
  }

  private scheduleTags(tags: string[]): string[] {
    const known = new Set(this.config.schedule.map((rule) => rule.tag));
    return tags.filter((tag) => known.has(tag));
  }
}
