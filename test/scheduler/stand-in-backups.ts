/**
 * A stand-in for `backy backup` behind the scheduler's spawner seam, for
 * driving the daemon in-process against a fixed clock: each "backup" waits
 * until the test finishes it, and a successful one leaves a real revision
 * file (timestamped when it started, as a real backup's is) in the job
 * directory, where the scheduler reads its history from.
 */
import { JobDirectory } from '../../src/job/job-directory.js';
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

export class StandInBackups {
  readonly runs: StandInRun[] = [];
  /** Respond to SIGTERM by exiting 1 (as `backy backup` does); off to simulate a stuck backup. */
  obeySigterm = true;

  constructor(private readonly clock: Clock) {}

  readonly spawner: Spawner = (argv) => {
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

  /** The one running backup of `job`. */
  runningFor(job: string): StandInRun {
    const found = this.running().filter((run) => run.job === job);
    if (found.length !== 1) throw new Error(`${found.length} backups of ${job} running`);
    return found[0]!;
  }
}

/** A complete revision as `backy backup` leaves it (the image content does not matter here). */
export async function writeRevision(directory: JobDirectory, timestamp: Date, tags: string[]): Promise<string> {
  const uuid = newRevisionId();
  const revision = { uuid, timestamp, parent: null, tags, stats: { bytes_written: 0, duration: 1 }, trust: 'trusted', hashes: null, verified: null } as const;
  await directory.writeRevision({ ...revision, tags: [...tags], stats: { ...revision.stats } });
  return uuid;
}

/** A logger that keeps its lines for assertions. */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: at('DEBUG'), info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}
