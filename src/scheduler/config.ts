import type { Schedule } from '../schedule/schedule.js';

/** The scheduler's configuration, validated, with the manual's defaults applied. */
export interface SchedulerConfig {
  baseDir: string;
  workerLimit: number;
  statusFile: string;
  statusIntervalSeconds: number;
  telnetAddresses: string[];
  telnetPort: number;
  /** Sessions the telnet shell serves at once; more are told so and closed. */
  telnetMaxSessions: number;
  /** A telnet session that sends nothing for this long is closed. */
  telnetIdleTimeoutSeconds: number;
  /** Where the HTTP server listens; empty (or port 0) when it is off. */
  httpAddresses: string[];
  httpPort: number;
  /** The file of `NAME: TOKEN` lines that clients of the HTTP server authenticate with. */
  apiTokensFile: string | null;
  /** Run after each completed backup with the job's name (`backup-completed-callback`). */
  completionHook: { program: string; timeoutSeconds: number } | null;
  /** Every complete revision is verified at least this often (`scrub-interval`); null: scrubbing is off. */
  scrubIntervalSeconds: number | null;
  /** Schedules by name, in the file's order. */
  schedules: ReadonlyMap<string, Schedule>;
  /** Jobs by name, in the file's order. */
  jobs: ReadonlyMap<string, JobConfig>;
}

export interface JobConfig {
  name: string;
  scheduleName: string;
  schedule: Schedule;
  /** The source in the job directory's flat form: `{type, ...parameters}`. */
  source: { type: string } & Record<string, unknown>;
  /** The store named for it in the configuration (the job's, else the global one). */
  store?: string;
}

/** Equal jobs need no new job config and no new plan. */
export function sameJob(a: JobConfig, b: JobConfig): boolean {
  return JSON.stringify([a.scheduleName, a.schedule, a.source, a.store]) === JSON.stringify([b.scheduleName, b.schedule, b.source, b.store]);
}
