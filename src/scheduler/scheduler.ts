import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../util/clock.js';
import { BackyError } from '../util/errors.js';
import { FileLock } from '../util/lock.js';
import type { Logger } from '../util/logger.js';
import { mapLimited, settlesWithin } from '../util/promises.js';
import { VERSION } from '../util/version.js';
import type { Spawner } from './backup-process.js';
import { CompletionHooks } from './completion-hook.js';
import { sameJob, type JobConfig, type SchedulerConfig } from './config.js';
import { loadConfig, type LoadedConfig } from './config-load.js';
import { requireDirectory } from './base-directory.js';
import { Dispatcher } from './dispatcher.js';
import type { FrontEnd, FrontEndPlugin } from './front-end.js';
import { prepareJobDirectory, readJobHistory } from './job-setup.js';
import { PoolCollector } from './gc-task.js';
import { ScheduledJob } from './scheduled-job.js';
import { reportRevisions } from '../job/revision-report.js';
import type { JobDetail, JobStatus, RunOutcome, SchedulerControl, SchedulerStatus, StatusSnapshot } from './status-model.js';
import { StatusWriter } from './status-writer.js';

export interface SchedulerOptions {
  configPath: string;
  config: SchedulerConfig;
  clock: Clock;
  spawner: Spawner;
  logger: Logger;
  backyCommand: readonly string[];
  /** Timers for due jobs and the status file; off in tests that drive `tick()` themselves. */
  timers?: boolean;
  /** How `reload()` reads the configuration (default: the file at `configPath`). */
  loadConfig?: (path: string) => Promise<LoadedConfig>;
  /** The ways in (telnet shell, HTTP server): started in this order, closed in reverse. */
  frontEnds?: readonly FrontEndPlugin[];
  /** How long running backups get to stop after SIGTERM before SIGKILL. */
  shutdownGraceMs?: number;
}

/** The scheduler's lock in the base directory: one scheduler per base directory. */
export const SCHEDULER_LOCK = '.lock';
/** Job directories set up at once: enough to overlap the fsyncs of 1,000 job configs. */
const JOB_SETUP_CONCURRENCY = 64;
/**
 * SIGTERM ends the scheduler within 30 s (README): 20 s for running backups
 * to abort, 5 s after SIGKILL for them to be reaped (dispatcher), then at
 * most these for the last status file, the front-ends and the lock, each of
 * which a hung disk or client could otherwise hold up for ever.
 */
const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;
const FINAL_STATUS_WRITE_MS = 2_000;
const FRONT_END_CLOSE_MS = 1_000;

/**
 * The scheduler daemon, built without starting (fastify style): `start()`
 * takes the base directory's lock, sets up the job directories, plans every
 * job and starts the front-ends it was given; `reload()` applies a new
 * configuration; `stop()` shuts down in order (no new backups, stop running
 * ones, final status, close the front-ends in reverse order, release the
 * lock), every step bounded in time.
 */
export class Scheduler implements SchedulerControl {
  private config: SchedulerConfig;
  private readonly dispatcher: Dispatcher;
  /** The daily garbage collection of the chunk pool the jobs share. */
  readonly collector: PoolCollector;
  private readonly statusWriter: StatusWriter;
  private readonly hooks: CompletionHooks;
  private lock: FileLock | null = null;
  private readonly frontEnds: FrontEnd[] = [];
  /** Configured jobs not run, and why (a foreign directory under their name). */
  private readonly skipped = new Map<string, string>();
  private readonly startedAt: Date;
  private configLoaded: Date;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private queuedReload: Promise<ReloadOutcome> | undefined;

  constructor(private readonly options: SchedulerOptions) {
    this.config = options.config;
    this.startedAt = options.clock.now();
    this.configLoaded = this.startedAt;
    this.hooks = new CompletionHooks(options.logger);
    this.collector = new PoolCollector(() => this.config.baseDir, options.logger);
    this.dispatcher = new Dispatcher({
      ...options,
      timers: options.timers ?? true,
      onCompleted: (job) => {
        const hook = this.config.completionHook;
        if (hook) this.hooks.run(hook.program, hook.timeoutSeconds, job.name, job.directory);
      },
      onRevisionsRemoved: () => this.collector.request(),
    });
    this.dispatcher.workerLimit = this.config.workerLimit;
    this.dispatcher.scrubber.intervalSeconds = this.config.scrubIntervalSeconds;
    this.statusWriter = new StatusWriter(() => this.snapshot(), () => this.config.statusFile, options.logger);
  }

  async start(): Promise<void> {
    const { baseDir } = this.config;
    const { logger } = this.options;
    await requireDirectory(baseDir);
    this.lock = await FileLock.tryAcquire(join(baseDir, SCHEDULER_LOCK));
    if (!this.lock) {
      const holder = await readFile(join(baseDir, SCHEDULER_LOCK), 'utf8').catch(() => '');
      const pid = /^\d+$/.test(holder.trim()) ? ` (pid ${holder.trim()})` : '';
      throw new BackyError(`another scheduler is already running for ${baseDir}${pid}`);
    }
    try {
      for (const prepared of await mapLimited([...this.config.jobs.values()], JOB_SETUP_CONCURRENCY, (config) => this.prepareJob(config))) {
        if ('job' in prepared) this.dispatcher.jobs.set(prepared.job.name, prepared.job);
        else this.skip(prepared.name, prepared.reason);
      }
      const context = { view: this, config: this.config, logger, now: () => this.options.clock.now() };
      for (const plugin of this.options.frontEnds ?? []) {
        try {
          this.frontEnds.push(await plugin.start(context));
        } catch (err) {
          if (err instanceof BackyError) throw err;
          throw new BackyError(`cannot start the ${plugin.name}: ${(err as Error).message}`);
        }
      }
      const listening = this.frontEnds.flatMap((frontEnd) => frontEnd.listening);
      logger.info(
        `scheduler ${VERSION} started: ${plural(this.config.jobs.size, 'job')}` +
          (this.skipped.size > 0 ? ` (${this.skipped.size} skipped)` : '') +
          `, worker limit ${this.config.workerLimit}, status file ${this.config.statusFile}` +
          (listening.length > 0 ? `, ${listening.join(', ')}` : ''),
      );
      this.dispatcher.tick();
      await this.statusWriter.write();
      if (this.options.timers ?? true) this.statusWriter.every(this.config.statusIntervalSeconds);
      if (this.options.timers ?? true) this.collector.daily();
    } catch (err) {
      await this.dispatcher.shutdown(0);
      await this.closeFrontEnds();
      await this.lock.release();
      this.lock = null;
      throw err;
    }
  }

  /** Queues and starts what is due (the timers call it; tests may too). */
  tick(): void {
    this.dispatcher.tick();
  }

  /** Waits until no backup is running (tests). */
  settled(): Promise<void> {
    return this.dispatcher.settled();
  }

  writeStatus(): Promise<void> {
    return this.statusWriter.write();
  }

  /**
   * SIGHUP: read the configuration again and apply it — jobs added, removed,
   * changed, new global options. An invalid file changes nothing; the
   * reason is logged. Returns whether the new configuration was applied.
   */
  reload(): Promise<ReloadOutcome> {
    // One reload at a time, in order. One that has not started yet reads the file when it starts, so what is asked
    // meanwhile joins it: a flood of SIGHUPs or API requests queues one reload at most.
    if (this.queuedReload) return this.queuedReload;
    const result = this.reloading.then(() => {
      this.queuedReload = undefined;
      return this.reloadNow();
    });
    this.queuedReload = result;
    this.reloading = result.then(() => undefined);
    return result;
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    const { logger, configPath, clock } = this.options;
    if (this.stopping) return { ok: false, reason: 'the scheduler is shutting down' };
    let next: SchedulerConfig;
    let added: ScheduledJob[];
    let skipped: Array<{ name: string; reason: string }>;
    let changed: JobConfig[];
    let applyFrontEnds: Array<() => void>;
    try {
      const loaded = await (this.options.loadConfig ?? loadConfig)(configPath);
      next = loaded.config;
      if (next.baseDir !== this.config.baseDir) {
        throw new BackyError(`base-dir changed from ${this.config.baseDir} to ${next.baseDir}: restart the scheduler for that`);
      }
      for (const warning of loaded.warnings) logger.warn(warning);
      const jobs = this.dispatcher.jobs;
      changed = [...next.jobs.values()].filter((job) => {
        const known = jobs.get(job.name);
        return known !== undefined && (known.removed || !sameJob(known.config, job));
      });
      // All I/O first (job directories, their configs, the front-ends' files), so a failure changes nothing.
      const prepared = await mapLimited([...next.jobs.values()].filter((job) => !jobs.has(job.name)), JOB_SETUP_CONCURRENCY, (job) => this.prepareJob(job));
      added = prepared.flatMap((p) => ('job' in p ? [p.job] : []));
      skipped = prepared.flatMap((p) => ('job' in p ? [] : [p]));
      const failed = (await mapLimited(changed, JOB_SETUP_CONCURRENCY, (job) => this.prepareChanged(next.baseDir, job))).filter((f) => f !== null);
      skipped.push(...failed);
      changed = changed.filter((job) => !failed.some((f) => f.name === job.name));
      applyFrontEnds = [];
      for (const frontEnd of this.frontEnds) if (frontEnd.prepareReload) applyFrontEnds.push(await frontEnd.prepareReload(next));
    } catch (err) {
      const reason = (err as Error).message;
      logger.error(`reloading the configuration failed; keeping the running configuration: ${reason}`);
      return { ok: false, reason };
    }
    const now = clock.now();
    this.skipped.clear();
    for (const { name, reason } of skipped) this.skip(name, reason);
    for (const job of added) this.dispatcher.jobs.set(job.name, job);
    for (const config of changed) {
      this.dispatcher.jobs.get(config.name)?.reconfigure(config, now);
      logger.info(`job ${config.name}: configuration changed`);
    }
    for (const name of [...this.dispatcher.jobs.keys()]) {
      if (this.skipped.has(name)) {
        // Out of the plan until a later reload prepares it again, as it does a new job.
        this.dispatcher.remove(name);
      } else if (!next.jobs.has(name)) {
        logger.info(`job ${name}: removed from the configuration (its job directory is kept)`);
        this.dispatcher.remove(name);
      }
    }
    for (const apply of applyFrontEnds) apply();
    const statusIntervalChanged = next.statusIntervalSeconds !== this.config.statusIntervalSeconds;
    this.config = next;
    this.dispatcher.workerLimit = next.workerLimit;
    this.dispatcher.scrubber.intervalSeconds = next.scrubIntervalSeconds;
    if (statusIntervalChanged && (this.options.timers ?? true)) this.statusWriter.every(next.statusIntervalSeconds);
    this.configLoaded = now;
    const names = (list: { name: string }[]) => (list.length > 0 ? `: ${list.map((j) => j.name).join(', ')}` : '');
    logger.info(`configuration reloaded from ${configPath}: ${plural(next.jobs.size, 'job')}, added ${added.length}${names(added)}, changed ${changed.length}${names(changed)}`);
    this.dispatcher.tick();
    await this.statusWriter.write();
    return { ok: true };
  }

  /** SIGTERM: stop within 30 s; safe to call more than once. */
  stop(): Promise<void> {
    // Never started, or start() failed (and cleaned up): nothing to stop, no status to write.
    if (!this.lock && !this.stopping) return Promise.resolve();
    this.stopping ??= (async () => {
      const { logger } = this.options;
      this.statusWriter.stop();
      this.hooks.stop();
      await this.dispatcher.shutdown(this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      if (!(await settlesWithin(this.statusWriter.write(), FINAL_STATUS_WRITE_MS))) {
        logger.warn(`the last status file write did not finish within ${FINAL_STATUS_WRITE_MS / 1000} s; not waiting for it`);
      }
      await this.collector.stop();
      await this.closeFrontEnds();
      const lock = this.lock;
      this.lock = null;
      if (lock && !(await settlesWithin(lock.release(), FRONT_END_CLOSE_MS))) logger.warn('releasing the scheduler lock hangs; the exit releases it');
      logger.info('scheduler stopped');
    })();
    return this.stopping;
  }

  /** In reverse order of their start, each given a moment. */
  private async closeFrontEnds(): Promise<void> {
    const { logger } = this.options;
    for (const frontEnd of this.frontEnds.splice(0).reverse()) {
      const closed = frontEnd.close().catch((err: unknown) => logger.warn(`closing ${frontEnd.listening.join(', ')}: ${String(err)}`));
      if (!(await settlesWithin(closed, FRONT_END_CLOSE_MS))) logger.warn(`closing ${frontEnd.listening.join(', ')} hangs; not waiting for it`);
    }
  }

  status(): SchedulerStatus {
    return {
      version: VERSION,
      pid: process.pid,
      started: this.startedAt,
      configPath: this.options.configPath,
      configLoaded: this.configLoaded,
      workerLimit: this.config.workerLimit,
      running: this.dispatcher.running(),
      queued: this.dispatcher.queued(),
      skipped: [...this.skipped].map(([job, reason]) => ({ job, reason })),
      finished: { ...this.dispatcher.finished },
      scrub: this.dispatcher.scrubber.status(),
    };
  }

  jobs(): JobStatus[] {
    return [...this.dispatcher.jobs.values()].map((job) => job.status()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  runJob(name: string): RunOutcome {
    const skipped = this.skipped.get(name);
    if (skipped) return { ok: false, reason: `job "${name}" is skipped: ${skipped}`, code: 'JOB_SKIPPED' };
    return this.dispatcher.runNow(name);
  }

  async jobDetail(name: string): Promise<JobDetail | null> {
    const job = this.dispatcher.jobs.get(name);
    if (!job || job.removed) return null;
    return { job: job.status(), revisions: await reportRevisions(job.directory), failures: [...job.recentFailures] };
  }

  snapshot(): StatusSnapshot {
    return { written: this.options.clock.now(), scheduler: this.status(), jobs: this.jobs() };
  }

  /**
   * Sets up the job's directory and reads its history; the caller registers
   * the job. Whatever is wrong in one job's directory (something foreign in
   * the way, an unreadable config or .first-seen) skips that job with its
   * reason: the others run.
   */
  private async prepareJob(config: JobConfig): Promise<{ job: ScheduledJob } | { name: string; reason: string }> {
    const { clock, logger } = this.options;
    try {
      const prepared = await prepareJobDirectory(this.config.baseDir, config, clock, logger);
      if (prepared.configWritten) logger.info(`job ${config.name}: wrote ${prepared.directory.configPath}`);
      const history = await readJobHistory(prepared.directory, clock.now(), logger);
      const job = new ScheduledJob(config, prepared.directory, prepared.firstSeen, history, clock.now());
      const next = job.status();
      logger.debug(`job ${config.name}: next backup (${next.nextTags.join(',')}) at ${loggedTime(next.nextBackup)}`);
      return { job };
    } catch (err) {
      return { name: config.name, reason: skipReason(config.name, err) };
    }
  }

  /** A changed job's directory set up again; null when it is fine, else why the job is skipped. */
  private async prepareChanged(baseDir: string, config: JobConfig): Promise<{ name: string; reason: string } | null> {
    try {
      await prepareJobDirectory(baseDir, config, this.options.clock, this.options.logger);
      return null;
    } catch (err) {
      return { name: config.name, reason: skipReason(config.name, err) };
    }
  }

  private skip(name: string, reason: string): void {
    this.skipped.set(name, reason);
    this.options.logger.error(`${reason}; the job is skipped until then (the configuration is read again on SIGHUP)`);
  }
}

export type ReloadOutcome = { ok: true } | { ok: false; reason: string };

/** The message names the job (a ForeignDirectoryError's does already). */
function skipReason(name: string, err: unknown): string {
  const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return message.startsWith(`job ${name}: `) ? message : `job ${name}: ${message}`;
}

/** Evaluated even when debug lines are off: an invalid date must not stop the start-up. */
function loggedTime(time: Date | null): string {
  if (time === null) return 'none';
  return Number.isNaN(time.getTime()) ? 'an invalid time' : time.toISOString();
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
