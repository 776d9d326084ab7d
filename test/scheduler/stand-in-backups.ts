/**
 * A stand-in for `backy backup` and `backy verify` behind the scheduler's
 * spawner seam, for driving the daemon in-process against a fixed clock:
 * each "backup" or "scrub" waits until the test finishes it; a successful
 * backup leaves a real revision file (timestamped when it started, as a
 * real backup's is) in the job directory, where the scheduler reads its
 * history from, and a scrub notes its outcome in the `.rev` as verify does.
 */
import { JobDirectory } from '../../src/job/job-directory.js';
import { readFileSync } from 'node:fs';
import { readRevisionFile } from '../../src/job/revision.js';
import { parseConfig } from '../../src/scheduler/config-load.js';
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/scheduler.js';
import { newRevisionId } from '../../src/store/revision-id.js';
import type { BackupProcess, ProcessExit, Spawner } from '../../src/scheduler/backup-process.js';
import type { Clock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/logger.js';

export interface StandInRun {
  job: string;
  tags: string[];
  started: Date;
  pid: number;
  signals: NodeJS.Signals[];
  done: boolean;
  /** Ends the backup: exit status 0 makes a revision. */
  finish(code?: number): Promise<void>;
}

export interface StandInScrub {
  job: string;
  revision: string;
  argv: readonly string[];
  signals: NodeJS.Signals[];
  done: boolean;
  /**
   * Ends the verification: `verified` (exit 0) or `damaged` (exit 1) noted in
   * the `.rev`; `recorded` (exit 0: a revision without hashes, hashed now)
   * and `failed` (exit 1) note nothing.
   */
  finish(outcome: 'verified' | 'recorded' | 'damaged' | 'failed'): Promise<void>;
}

export class StandInBackups {
  readonly runs: StandInRun[] = [];
  readonly scrubs: StandInScrub[] = [];
  /** Respond to SIGTERM by exiting 1 (as `backy backup` does); off to simulate a stuck backup. */
  obeySigterm = true;

  constructor(private readonly clock: Clock) {}

  readonly spawner: Spawner = (argv) => {
    if (argv.includes('verify')) return this.scrub(argv);
    const jobPath = argv[argv.indexOf('-b') + 1]!;
    const tags = argv.at(-1)!.split(',');
    let resolveExit!: (exit: ProcessExit) => void;
    const exit = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
    const started = this.clock.now();
    const run: StandInRun = {
      job: jobPath.split('/').at(-1)!,
      tags,
      started,
      pid: 10_000 + this.runs.length,
      signals: [],
      done: false,
      finish: async (code = 0) => {
        if (run.done) throw new Error(`${run.job}: finished twice`);
        run.done = true;
        if (code === 0) await writeRevision(new JobDirectory(jobPath), started, tags);
        resolveExit({ code, signal: null, error: null });
      },
    };
    this.runs.push(run);
    const process: BackupProcess = {
      pid: run.pid,
      kill: (signal) => {
        run.signals.push(signal);
        if (signal === 'SIGKILL' || (signal === 'SIGTERM' && this.obeySigterm)) {
          run.done = true;
          resolveExit(signal === 'SIGKILL' ? { code: null, signal, error: null } : { code: 1, signal: null, error: null });
        }
      },
      exit,
    };
    return process;
  };

  running(): StandInRun[] {
    return this.runs.filter((run) => !run.done);
  }

  scrubbing(): StandInScrub[] {
    return this.scrubs.filter((scrub) => !scrub.done);
  }

  /** The one running scrub of `job`. */
  scrubFor(job: string): StandInScrub {
    const found = this.scrubbing().filter((scrub) => scrub.job === job);
    if (found.length !== 1) throw new Error(`${found.length} scrubs of ${job} running`);
    return found[0]!;
  }

  private scrub(argv: readonly string[]): BackupProcess {
    const jobPath = argv[argv.indexOf('-b') + 1]!;
    let resolveExit!: (exit: ProcessExit) => void;
    const exit = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
    const scrub: StandInScrub = {
      job: jobPath.split('/').at(-1)!,
      revision: argv.at(-1)!,
      argv,
      signals: [],
      done: false,
      finish: async (outcome) => {
        if (scrub.done) throw new Error(`${scrub.job}: scrub finished twice`);
        scrub.done = true;
        const directory = new JobDirectory(jobPath);
        if (outcome === 'verified' || outcome === 'damaged') {
          const revision = await readRevisionFile(directory.revisionPath(scrub.revision), scrub.revision);
          if (outcome === 'verified') revision.verified = this.clock.now();
          else revision.trust = 'distrusted';
          await directory.writeRevision(revision);
        }
        resolveExit({ code: outcome === 'verified' || outcome === 'recorded' ? 0 : 1, signal: null, error: null });
      },
    };
    this.scrubs.push(scrub);
    return {
      pid: 20_000 + this.scrubs.length,
      kill: (signal) => {
        scrub.signals.push(signal);
        if (!scrub.done && (signal === 'SIGKILL' || this.obeySigterm)) {
          scrub.done = true;
          resolveExit(signal === 'SIGKILL' ? { code: null, signal, error: null } : { code: 1, signal: null, error: null });
        }
      },
      exit,
    };
  }

  /** The one running backup of `job`. */
  runningFor(job: string): StandInRun {
    const found = this.running().filter((run) => run.job === job);
    if (found.length !== 1) throw new Error(`${found.length} backups of ${job} running`);
    return found[0]!;
  }
}

/** A complete revision as `backy backup` leaves it (the image content does not matter here; `size` is what its `.rev` says). */
export async function writeRevision(directory: JobDirectory, timestamp: Date, tags: string[], size?: number): Promise<string> {
  const uuid = newRevisionId();
  const stats = { bytes_written: 0, duration: 1, ...(size === undefined ? {} : { size }) };
  await directory.writeRevision({ uuid, timestamp, parent: null, tags: [...tags], stats, trust: 'trusted', hashes: null, verified: null });
  return uuid;
}

/**
 * A scheduler on the configuration file `conf`, built (not started) in this
 * process with these stand-ins and a fixed clock: no timers (the test
 * calls `tick()`), no front-ends, a short shutdown grace.
 */
export function inProcessScheduler(
  conf: string,
  clock: Clock,
  backups: StandInBackups,
  logger: Logger,
  overrides: Partial<SchedulerOptions> = {},
): Scheduler {
  return new Scheduler({
    configPath: conf,
    config: parseConfig(readFileSync(conf, 'utf8'), conf).config,
    clock,
    spawner: backups.spawner,
    logger,
    backyCommand: ['backy'],
    timers: false,
    frontEnds: [],
    shutdownGraceMs: 200,
    ...overrides,
  });
}

/** A logger that keeps its lines for assertions. */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}
