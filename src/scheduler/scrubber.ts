import { join } from 'node:path';
import { LOG_FILE } from '../job/job-directory.js';
import { planScrub, type ScrubCandidate, type ScrubPlan } from '../schedule/scrub.js';
import type { Clock } from '../util/clock.js';
import { formatTimestamp, type Logger } from '../util/logger.js';
import { describeExit, succeeded, verifyArgv, type BackupProcess, type Spawner } from './backup-process.js';
import { lastLogLine } from './job-log.js';
import type { JobHistory } from './job-setup.js';
import type { ScheduledJob } from './scheduled-job.js';
import type { RunningScrub, ScrubStatus } from './status-model.js';

export interface ScrubberOptions {
  clock: Clock;
  spawner: Spawner;
  logger: Logger;
  backyCommand: readonly string[];
  /** The job's revisions read again from its directory. */
  readHistory: (job: ScheduledJob) => Promise<JobHistory>;
  /** A scrub ended and its worker is free. */
  onEnded: () => void;
}

/** A scrub told to stop gets this long before SIGKILL (it stops within one chunk read). */
const STOP_GRACE_MS = 5_000;

interface Scrub {
  job: ScheduledJob;
  revision: string;
  started: Date;
  process: BackupProcess;
  /** Why it was told to stop; null while it runs on. */
  stopping: string | null;
  done?: Promise<void>;
}

/**
 * Continuous scrubbing: starts `backy verify -r ID` of the revisions the
 * plan (src/schedule/scrub.ts) says are due, on workers no backup needs, at
 * most one per job and never while a backup of that job is queued or runs.
 * The dispatcher owns the workers: it calls `fill` with the free ones when
 * no backup waits, and `makeRoom` before it starts backups — a backup is
 * never delayed by a scrub, which is stopped and planned again. After each
 * scrub the job's history is read again, so a revision found damaged shows
 * as distrusted at once (and the job's next backup, which never takes a
 * distrusted parent, is a full one).
 */
export class Scrubber {
  /** `scrub-interval` in seconds; null: off. */
  intervalSeconds: number | null = null;
  private readonly inFlight = new Map<string, Scrub>();
  /** Revisions whose scrub failed (data or hash record unreadable): not tried again before then. */
  private readonly retryAt = new Map<string, number>();
  /**
   * Revisions made before backy recorded hashes, hashed by a scrub (which
   * could check nothing, so their `.rev` says no `verified`): planned as
   * proven then, as a new backup is, rather than read again at once.
   */
  private readonly hashedAt = new Map<string, Date>();
  private plan: ScrubPlan | null = null;
  private stopped = false;

  constructor(private readonly options: ScrubberOptions) {}

  /** Scrubs holding a worker (those told to stop, until they have). */
  get size(): number {
    return this.inFlight.size;
  }

  scrubbing(job: string): boolean {
    return this.inFlight.has(job);
  }

  /** Plans, and starts due scrubs on up to `free` workers. */
  fill(jobs: ReadonlyMap<string, ScheduledJob>, free: number): void {
    if (this.stopped || this.intervalSeconds === null) {
      this.plan = null;
      return;
    }
    const now = this.options.clock.now();
    const candidates: ScrubCandidate[] = [];
    for (const job of jobs.values()) {
      if (job.removed) continue;
      const current = this.inFlight.get(job.name)?.revision;
      for (const revision of job.knownHistory.stored) {
        // `verify -r 1` would take a backy 2.x numeric ID for a relative revision number.
        if (/^\d+$/.test(revision.uuid)) continue;
        const verified = revision.verified ?? this.hashedAt.get(key(job.name, revision.uuid)) ?? null;
        candidates.push({ ...revision, verified, job: job.name, scrubbing: revision.uuid === current });
      }
    }
    this.plan = planScrub(candidates, this.intervalSeconds, now);
    const known = new Set(candidates.map((c) => key(c.job, c.uuid)));
    for (const [revision, at] of this.retryAt) if (!known.has(revision) || at <= now.getTime()) this.retryAt.delete(revision);
    for (const revision of this.hashedAt.keys()) if (!known.has(revision)) this.hashedAt.delete(revision);
    for (const revision of this.plan.due) {
      if (free <= 0) break;
      const job = jobs.get(revision.job);
      if (!job?.idle || this.inFlight.has(job.name) || this.retryAt.has(key(job.name, revision.uuid))) continue;
      this.start(job, revision.uuid);
      free -= 1;
    }
  }

  /**
   * Before backups start: stops the scrubs of the jobs in `starting` and as
   * many others (the youngest: they have read the least) as would keep
   * `free` workers from them.
   */
  makeRoom(starting: readonly string[], free: number): void {
    for (const name of starting) this.stop(name, `for a backup of ${name}`);
    const active = [...this.inFlight.values()].filter((scrub) => !scrub.stopping).reverse();
    const excess = active.length - Math.max(0, free - starting.length);
    for (const scrub of active.slice(0, Math.max(0, excess))) this.stop(scrub.job.name, 'to free a worker for a backup');
  }

  /** Tells the job's scrub to stop (SIGTERM, SIGKILL if it does not); its worker is free once it has. */
  stop(job: string, why: string): void {
    const scrub = this.inFlight.get(job);
    if (!scrub || scrub.stopping) return;
    scrub.stopping = why;
    scrub.process.kill('SIGTERM');
    const kill = setTimeout(() => scrub.process.kill('SIGKILL'), STOP_GRACE_MS);
    kill.unref();
    void scrub.done?.finally(() => clearTimeout(kill));
  }

  /** When the plan changes by itself (a new period, a revision falling overdue, a failed one's retry). */
  wakeAt(): Date | null {
    if (!this.plan) return null;
    return new Date(Math.min(this.plan.wakeAt.getTime(), ...this.retryAt.values()));
  }

  status(): ScrubStatus {
    return {
      intervalSeconds: this.intervalSeconds,
      periodSeconds: this.plan?.periodSeconds ?? null,
      budgetBytes: this.plan?.budgetBytes ?? 0,
      readBytes: this.plan?.readBytes ?? 0,
      running: this.running(),
    };
  }

  running(): RunningScrub[] {
    return [...this.inFlight.values()].map((s) => ({ job: s.job.name, revision: s.revision, started: s.started, pid: s.process.pid }));
  }

  /** Shutdown: no new scrubs; the running ones are told to stop. */
  shutdown(): void {
    this.stopped = true;
    for (const name of [...this.inFlight.keys()]) this.stop(name, 'for shutdown');
  }

  /** Resolves when no scrub runs. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()].map((s) => s.done));
  }

  private start(job: ScheduledJob, revision: string): void {
    const { clock, spawner, logger, backyCommand } = this.options;
    const started = clock.now();
    const process = spawner(verifyArgv(backyCommand, job.directory.path, revision), join(job.directory.path, LOG_FILE));
    logger.info(`job ${job.name}: scrub of revision ${revision} started, pid ${process.pid}`);
    const scrub: Scrub = { job, revision, started, process, stopping: null };
    scrub.done = this.finish(scrub).finally(() => {
      this.inFlight.delete(job.name);
      if (!this.stopped) this.options.onEnded();
    });
    this.inFlight.set(job.name, scrub);
  }

  private async finish(scrub: Scrub): Promise<void> {
    const { clock, logger } = this.options;
    const exit = await scrub.process.exit;
    const { job, revision } = scrub;
    const what = `job ${job.name}: scrub of revision ${revision}`;
    const seconds = ((clock.now().getTime() - scrub.started.getTime()) / 1000).toFixed(1);
    let history: JobHistory;
    try {
      history = await this.options.readHistory(job);
    } catch (err) {
      logger.error(`${what}: cannot read the job's revisions afterwards: ${(err as Error).message}`);
      return;
    }
    const said = await lastLogLine(join(job.directory.path, LOG_FILE));
    job.setHistory(history, clock.now());
    const after = history.stored.find((r) => r.uuid === revision);
    if (after?.distrusted) {
      logger.error(`${what} found damage${said ? ` (${said})` : ''}: it is distrusted now, and the next backup of ${job.name} is a full one`);
    } else if (succeeded(exit)) {
      this.retryAt.delete(key(job.name, revision));
      if (after && !after.verified) this.hashedAt.set(key(job.name, revision), clock.now());
      logger.info(`${what} finished after ${seconds} s`);
    } else if (scrub.stopping) {
      logger.info(`${what} stopped ${scrub.stopping} after ${seconds} s; it is planned again`);
    } else if (!after) {
      logger.info(`${what} ended with ${describeExit(exit)}: the revision is gone`);
    } else {
      const retry = clock.now().getTime() + (this.plan?.periodSeconds ?? 86400) * 1000;
      this.retryAt.set(key(job.name, revision), retry);
      logger.error(`${what} failed with ${describeExit(exit)}${said ? ` (${said})` : ''}; next attempt at ${formatTimestamp(new Date(retry))}`);
    }
  }
}

function key(job: string, revision: string): string {
  return `${job}/${revision}`;
}
