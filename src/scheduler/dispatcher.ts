import { join } from 'node:path';
import { LOG_FILE } from '../job/job-directory.js';
import type { Clock } from '../util/clock.js';
import { formatTimestamp, type Logger } from '../util/logger.js';
import { settlesWithin } from '../util/promises.js';
import { backupArgv, describeExit, succeeded, type BackupProcess, type Spawner } from './backup-process.js';
import type { Schedule } from '../schedule/schedule.js';
import { readJobHistory, type JobHistory } from './job-setup.js';
import { lastLogLine } from './job-log.js';
import { expireRevisions } from './retention-apply.js';
import { Scrubber } from './scrubber.js';
import { RunQueue, type QueuedRun } from './run-queue.js';
import type { ScheduledJob } from './scheduled-job.js';
import type { RunningBackup, RunOutcome } from './status-model.js';

export interface DispatcherOptions {
  clock: Clock;
  spawner: Spawner;
  logger: Logger;
  /** The backy command line (without arguments) for backups. */
  backyCommand: readonly string[];
  /** Arm timers for due jobs; without, the owner calls `tick()` (tests with a fixed clock). */
  timers: boolean;
  /** Told of every completed backup (the completion hook); never awaited. */
  onCompleted?: (job: ScheduledJob) => void;
  /** Retention removed revisions (their chunks may now be garbage). */
  onRevisionsRemoved?: () => void;
}

/** Longest sleep between looks at the clock, in case it jumps. */
const MAX_SLEEP_MS = 60_000;
/** After SIGKILL, how long shutdown still waits for runs to finish (their history, logs). */
const KILL_WAIT_MS = 5_000;

/**
 * Starts backups when they are due: a queue, the most overdue first, served
 * by at most `workerLimit` processes; after each backup the job's
 * retention, its history re-read from disk, and its next plan. Workers no
 * backup needs scrub stored revisions (scrubber.ts); backups come first.
 */
export class Dispatcher {
  readonly jobs = new Map<string, ScheduledJob>();
  workerLimit = 1;
  private readonly queue = new RunQueue();
  private readonly inFlight = new Map<string, { process: BackupProcess; done: Promise<void> }>();
  readonly scrubber: Scrubber;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  /** Backups ended since the start, by outcome. */
  readonly finished = { succeeded: 0, failed: 0, interrupted: 0 };

  constructor(private readonly options: DispatcherOptions) {
    this.scrubber = new Scrubber({
      ...options,
      readHistory: (job) => this.history(job),
      onEnded: () => {
        this.startWorkers();
        this.armTimer();
      },
    });
  }

  /** Queues what is due and starts what the worker limit allows. */
  tick(): void {
    if (this.stopping) return;
    const now = this.options.clock.now();
    for (const job of this.jobs.values()) {
      const run = job.dueRun(now);
      if (run) this.enqueue(job, run, now);
    }
    this.startWorkers();
    this.armTimer();
  }

  /** `runJob` of the telnet shell: queue the job now with its next tags. */
  runNow(name: string): RunOutcome {
    const job = this.jobs.get(name);
    if (!job || job.removed) return { ok: false, reason: `no job named "${name}"`, code: 'JOB_NOT_FOUND' };
    if (this.stopping) return { ok: false, reason: 'the scheduler is shutting down', code: 'SHUTTING_DOWN' };
    if (job.state === 'running') return { ok: false, reason: `job "${name}" is running already`, code: 'JOB_RUNNING' };
    if (job.state !== 'queued') {
      const now = this.options.clock.now();
      const run = job.runNow(now);
      this.options.logger.info(`job ${name}: backup (${run.tags.join(',')}) requested now`);
      this.enqueue(job, run, now);
      this.startWorkers();
    }
    return { ok: true };
  }

  /** The job left the configuration: drop it, or once its running backup ends. */
  remove(name: string): void {
    const job = this.jobs.get(name);
    if (!job) return;
    this.queue.remove(name);
    this.scrubber.stop(name, 'as the job left the configuration');
    if (job.state === 'running') job.removed = true;
    else this.jobs.delete(name);
  }

  /** Running backups in the order they started. */
  running(): RunningBackup[] {
    const list: RunningBackup[] = [];
    for (const name of this.inFlight.keys()) {
      const run = this.jobs.get(name)?.runningBackup;
      if (run) list.push({ job: name, tags: run.tags, started: run.started, pid: run.pid });
    }
    return list;
  }

  queued(): string[] {
    return this.queue.jobs();
  }

  /** Resolves when no backup is running (nor finishing: retention, history). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /**
   * Starts nothing more, empties the queue, sends SIGTERM to running backups
   * (they abort and remove their incomplete revision) and waits for them;
   * those still alive after `graceMs` get SIGKILL.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    for (let run = this.queue.take(); run; run = this.queue.take()) this.jobs.get(run.job)?.unqueued();
    for (const [name, flight] of this.inFlight) {
      this.options.logger.info(`job ${name}: stopping its backup (SIGTERM to pid ${flight.process.pid})`);
      flight.process.kill('SIGTERM');
    }
    this.scrubber.shutdown();
    const ended = () => Promise.all([this.settled(), this.scrubber.settled()]);
    if (await settlesWithin(ended(), graceMs)) return;
    for (const [name, flight] of this.inFlight) {
      this.options.logger.warn(`job ${name}: backup did not stop within ${graceMs / 1000} s; killing it`);
      flight.process.kill('SIGKILL');
    }
    if (!(await settlesWithin(ended(), KILL_WAIT_MS))) {
      const names = [...this.inFlight.keys(), ...this.scrubber.running().map((s) => `${s.job} (scrub)`)];
      this.options.logger.warn(`still finishing ${names.join(', ')}; not waiting any longer`);
    }
  }

  private enqueue(job: ScheduledJob, run: QueuedRun, now: Date): void {
    this.queue.add(run);
    job.queued(run, now);
  }

  private startWorkers(): void {
    if (this.stopping) return;
    const free = this.workerLimit - this.inFlight.size;
    this.scrubber.makeRoom(this.queue.jobs().slice(0, Math.max(0, free)), free);
    while (this.inFlight.size + this.scrubber.size < this.workerLimit) {
      // A job whose scrub is still stopping waits for it; the scrub's end starts it.
      const run = this.queue.take((name) => this.scrubber.scrubbing(name));
      if (!run) break;
      const job = this.jobs.get(run.job);
      if (job) this.start(job, run);
    }
    if (this.queue.size === 0) this.scrubber.fill(this.jobs, this.workerLimit - this.inFlight.size - this.scrubber.size);
  }

  private start(job: ScheduledJob, run: QueuedRun): void {
    const { clock, spawner, logger, backyCommand } = this.options;
    const argv = backupArgv(backyCommand, job.directory.path, run.tags);
    const started = clock.now();
    const process = spawner(argv, join(job.directory.path, LOG_FILE));
    job.started(run.tags, started, process.pid);
    logger.info(`job ${job.name}: backup (${run.tags.join(',')}) started, pid ${process.pid}`);
    const done = this.finish(job, run, process, started).finally(() => {
      this.inFlight.delete(job.name);
      this.startWorkers();
      this.armTimer();
    });
    this.inFlight.set(job.name, { process, done });
  }

  private async finish(job: ScheduledJob, run: QueuedRun, process: BackupProcess, started: Date): Promise<void> {
    const { clock, logger } = this.options;
    const exit = await process.exit;
    const seconds = ((clock.now().getTime() - started.getTime()) / 1000).toFixed(1);
    const what = `job ${job.name}: backup (${run.tags.join(',')})`;
    if (succeeded(exit)) {
      this.finished.succeeded++;
      logger.info(`${what} finished after ${seconds} s`);
      // At shutdown, retention waits for the next backup: it could wait for a manual backup's lock.
      if (!job.removed && !this.stopping) await this.expire(job, job.config.schedule);
      job.succeeded(await this.history(job), clock.now());
      if (!this.stopping) this.options.onCompleted?.(job);
    } else if (this.stopping) {
      this.finished.interrupted++;
      logger.info(`${what} stopped for shutdown (${describeExit(exit)})`);
      job.interrupted(await this.history(job), clock.now());
    } else {
      this.finished.failed++;
      const reason = await lastLogLine(join(job.directory.path, LOG_FILE));
      const retryAt = job.failed(await this.history(job), clock.now(), run.dueSince, `${describeExit(exit)}${reason ? `: ${reason}` : ''}`);
      logger.error(
        `${what} failed after ${seconds} s with ${describeExit(exit)}${reason ? ` (${reason})` : ''}; ` +
          `failure ${job.failures}, next attempt at ${formatTimestamp(retryAt)}`,
      );
    }
    if (job.removed && this.jobs.get(job.name) === job) this.jobs.delete(job.name);
    if (!this.stopping) this.tick();
  }

  private async expire(job: ScheduledJob, schedule: Schedule): Promise<void> {
    try {
      const plan = await expireRevisions(job.directory, schedule, this.options.clock, this.options.logger);
      if (plan.remove.length > 0) this.options.onRevisionsRemoved?.();
    } catch (err) {
      this.options.logger.error(`job ${job.name}: retention failed: ${(err as Error).message}`);
    }
  }

  private async history(job: ScheduledJob): Promise<JobHistory> {
    try {
      return await readJobHistory(job.directory, this.options.clock.now(), this.options.logger);
    } catch (err) {
      // Planning from an empty history would start a backup at once, again and again.
      this.options.logger.error(`job ${job.name}: cannot read its revisions (planning from what was known): ${(err as Error).message}`);
      return job.knownHistory;
    }
  }

  private armTimer(): void {
    if (!this.options.timers || this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    let earliest = this.scrubber.wakeAt()?.getTime() ?? Infinity;
    for (const job of this.jobs.values()) {
      const at = job.wakeAt();
      if (at && at.getTime() < earliest) earliest = at.getTime();
    }
    const delay = Math.min(Math.max(0, earliest - this.options.clock.now().getTime()), MAX_SLEEP_MS);
    this.timer = setTimeout(() => this.tick(), delay);
  }
}
