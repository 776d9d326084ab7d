import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTelnetShell, type TelnetShell, type TelnetShellOptions } from '../monitoring/telnet-shell.js';
import type { Clock } from '../util/clock.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { FileLock } from '../util/lock.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../util/version.js';
import type { Spawner } from './backup-process.js';
import { sameJob, type JobConfig, type SchedulerConfig } from './config.js';
import { loadConfig, type LoadedConfig } from './config-load.js';
import { Dispatcher } from './dispatcher.js';
import { prepareJobDirectory, readJobHistory } from './job-setup.js';
import { PoolCollector } from './gc-task.js';
import { ScheduledJob } from './scheduled-job.js';
import type { JobStatus, SchedulerStatus, SchedulerView, StatusSnapshot } from './status-model.js';
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
  startTelnetShell?: (view: SchedulerView, options: TelnetShellOptions) => Promise<TelnetShell>;
  /** How long running backups get to stop after SIGTERM before SIGKILL. */
  shutdownGraceMs?: number;
}

/** The scheduler's lock in the base directory: one scheduler per base directory. */
export const SCHEDULER_LOCK = '.lock';
/** Job directories set up at once: enough to overlap the fsyncs of 1,000 job configs. */
const JOB_SETUP_CONCURRENCY = 64;

/**
 * The scheduler daemon, built without starting (fastify style): `start()`
 * takes the base directory's lock, sets up the job directories, plans every
 * job and opens the telnet shell; `reload()` applies a new configuration;
 * `stop()` shuts down in order (no new backups, stop running ones, final
 * status, close the shell, release the lock).
 */
export class Scheduler implements SchedulerView {
  private config: SchedulerConfig;
  private readonly dispatcher: Dispatcher;
  /** The daily garbage collection of the chunk pool the jobs share. */
  readonly collector: PoolCollector;
  private readonly statusWriter: StatusWriter;
  private lock: FileLock | null = null;
  private telnet: TelnetShell | null = null;
  private readonly startedAt: Date;
  private configLoaded: Date;
  private stopping: Promise<void> | null = null;
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: SchedulerOptions) {
    this.config = options.config;
    this.startedAt = options.clock.now();
    this.configLoaded = this.startedAt;
    this.collector = new PoolCollector(() => this.config.baseDir, options.logger);
    this.dispatcher = new Dispatcher({ ...options, timers: options.timers ?? true, onRevisionsRemoved: () => this.collector.request() });
    this.dispatcher.workerLimit = this.config.workerLimit;
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
      for (const job of await mapLimited([...this.config.jobs.values()], (config) => this.prepareJob(config))) {
        this.dispatcher.jobs.set(job.name, job);
      }
      const { telnetAddresses: addresses, telnetPort: port } = this.config;
      const now = () => this.options.clock.now();
      try {
        this.telnet = await (this.options.startTelnetShell ?? startTelnetShell)(this, { addresses, port, logger, now });
      } catch (err) {
        if (err instanceof BackyError) throw err;
        throw new BackyError(`cannot start the telnet shell on port ${port}: ${(err as Error).message}`);
      }
      logger.info(
        `scheduler ${VERSION} started: ${plural(this.config.jobs.size, 'job')}, worker limit ${this.config.workerLimit}, ` +
          `status file ${this.config.statusFile}` +
          (this.telnet.listening.length > 0 ? `, telnet shell on ${this.telnet.listening.join(' ')}` : ''),
      );
      this.dispatcher.tick();
      await this.statusWriter.write();
      if (this.options.timers ?? true) this.statusWriter.every(this.config.statusIntervalSeconds);
      if (this.options.timers ?? true) this.collector.daily();
    } catch (err) {
      await this.dispatcher.shutdown(0);
      await this.telnet?.close();
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
  reload(): Promise<boolean> {
    // One reload at a time: two quick SIGHUPs apply the file twice, in order.
    const result = this.reloading.then(() => this.reloadNow());
    this.reloading = result.then(() => undefined);
    return result;
  }

  private async reloadNow(): Promise<boolean> {
    const { logger, configPath, clock } = this.options;
    if (this.stopping) return false;
    let next: SchedulerConfig;
    let added: ScheduledJob[];
    let changed: JobConfig[];
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
      // All I/O first (job directories, their configs), so a failure changes nothing.
      added = await mapLimited([...next.jobs.values()].filter((job) => !jobs.has(job.name)), (job) => this.prepareJob(job));
      await mapLimited(changed, (job) => prepareJobDirectory(next.baseDir, job, clock, this.options.logger));
    } catch (err) {
      logger.error(`reloading the configuration failed; keeping the running configuration: ${(err as Error).message}`);
      return false;
    }
    const now = clock.now();
    for (const job of added) this.dispatcher.jobs.set(job.name, job);
    for (const config of changed) {
      this.dispatcher.jobs.get(config.name)?.reconfigure(config, now);
      logger.info(`job ${config.name}: configuration changed`);
    }
    for (const name of [...this.dispatcher.jobs.keys()]) {
      if (!next.jobs.has(name)) {
        logger.info(`job ${name}: removed from the configuration (its job directory is kept)`);
        this.dispatcher.remove(name);
      }
    }
    if (next.telnetPort !== this.config.telnetPort || next.telnetAddresses.join() !== this.config.telnetAddresses.join()) {
      logger.warn('telnet-addrs and telnet-port take effect when the scheduler is restarted');
    }
    const statusIntervalChanged = next.statusIntervalSeconds !== this.config.statusIntervalSeconds;
    this.config = next;
    this.dispatcher.workerLimit = next.workerLimit;
    if (statusIntervalChanged && (this.options.timers ?? true)) this.statusWriter.every(next.statusIntervalSeconds);
    this.configLoaded = now;
    const names = (list: { name: string }[]) => (list.length > 0 ? `: ${list.map((j) => j.name).join(', ')}` : '');
    logger.info(`configuration reloaded from ${configPath}: ${plural(next.jobs.size, 'job')}, added ${added.length}${names(added)}, changed ${changed.length}${names(changed)}`);
    this.dispatcher.tick();
    await this.statusWriter.write();
    return true;
  }

  /** SIGTERM: stop within 30 s; safe to call more than once. */
  stop(): Promise<void> {
    // Never started, or start() failed (and cleaned up): nothing to stop, no status to write.
    if (!this.lock && !this.stopping) return Promise.resolve();
    this.stopping ??= (async () => {
      const { logger } = this.options;
      this.statusWriter.stop();
      await this.dispatcher.shutdown(this.options.shutdownGraceMs ?? 20_000);
      await this.collector.stop();
      await this.statusWriter.write();
      await this.telnet?.close().catch((err: unknown) => logger.warn(`closing the telnet shell: ${String(err)}`));
      await this.lock?.release();
      this.lock = null;
      logger.info('scheduler stopped');
    })();
    return this.stopping;
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
    };
  }

  jobs(): JobStatus[] {
    return [...this.dispatcher.jobs.values()].map((job) => job.status()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  runJob(name: string): { ok: true } | { ok: false; reason: string } {
    return this.dispatcher.runNow(name);
  }

  snapshot(): StatusSnapshot {
    return { written: this.options.clock.now(), scheduler: this.status(), jobs: this.jobs() };
  }

  /** Sets up the job's directory and reads its history; the caller registers the job. */
  private async prepareJob(config: JobConfig): Promise<ScheduledJob> {
    const { clock, logger } = this.options;
    const prepared = await prepareJobDirectory(this.config.baseDir, config, clock, logger);
    if (prepared.configWritten) logger.info(`job ${config.name}: wrote ${prepared.directory.configPath}`);
    const history = await readJobHistory(prepared.directory, logger);
    const job = new ScheduledJob(config, prepared.directory, prepared.firstSeen, history, clock.now());
    const next = job.status();
    logger.debug(`job ${config.name}: next backup (${next.nextTags.join(',')}) at ${next.nextBackup?.toISOString()}`);
    return job;
  }
}

async function requireDirectory(path: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      throw new BackyError(`base-dir ${path} does not exist; create it (on a copy-on-write filesystem) before starting the scheduler`);
    }
    throw describeIoError(err, `base-dir ${path}`);
  }
  if (!isDirectory) throw new BackyError(`base-dir ${path} is not a directory`);
}

/** Maps with at most a few operations at a time (1,000 job directories at start-up). */
async function mapLimited<T, R>(items: T[], action: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await action(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOB_SETUP_CONCURRENCY, items.length) }, worker));
  return results;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
