/**
 * A real `backy scheduler` process for tests: a temporary base directory, a
 * configuration file, the scheduler's own log, helpers to wait for what a
 * user would see (revisions, status file, log lines), and a cleanup that
 * kills whatever is still running and removes everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import type { StatusSnapshot } from '../../src/scheduler/status-model.js';
import { parseConfig } from '../../src/scheduler/config-load.js';
import { CATCH_UP_WAIT_LIMIT_SECONDS, nextSlot } from '../../src/schedule/next-run.js';
import { longestInterval } from '../../src/schedule/schedule.js';
import { jobSpreadSeconds } from '../../src/schedule/spread.js';
import { BACKY_MAIN } from '../helpers/cli.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SchedulerProcess {
  child: ChildProcess;
  exited: Promise<Exit>;
  output(): string;
  /** Sends SIGTERM and waits for the exit (at most 30 s, the promised limit). */
  stop(): Promise<Exit>;
}

export class SchedulerFixture {
  readonly dir: string;
  readonly base: string;
  readonly conf: string;
  readonly log: string;
  private readonly processes: ChildProcess[] = [];

  /** In a new directory under `parent` (e.g. a loop filesystem; default the system's temporary directory). */
  constructor(parent = tmpdir()) {
    this.dir = mkdtempSync(join(parent, 'backy-scheduler-'));
    this.base = join(this.dir, 'base');
    this.conf = join(this.dir, 'backy.conf');
    this.log = join(this.dir, 'scheduler.log');
    mkdirSync(this.base);
  }

  job(name: string): string {
    return join(this.base, name);
  }

  writeConfig(text: string): void {
    writeFileSync(this.conf, text);
  }

  /** A source file of `size` bytes of varying content (or a sparse one). */
  source(name: string, size: number, options: { sparse?: boolean } = {}): string {
    const path = join(this.dir, name);
    if (options.sparse) {
      writeFileSync(path, '');
      truncateSync(path, size);
    } else {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7 + name.length) % 251;
      writeFileSync(path, data);
    }
    return path;
  }

  /**
   * Starts `backy -c CONF -l LOG scheduler`, optionally under `faketime
   * OFFSET` or with at most `openFiles` descriptors (`prlimit`, which
   * becomes the scheduler).
   */
  start(options: { env?: NodeJS.ProcessEnv; faketime?: string; args?: string[]; openFiles?: number } = {}): SchedulerProcess {
    const args = [BACKY_MAIN, '-c', this.conf, '-l', this.log, ...(options.args ?? []), 'scheduler'];
    const [command, argv] = options.faketime
      ? ['faketime', ['-f', options.faketime, process.execPath, ...args]]
      : options.openFiles
        ? ['prlimit', [`--nofile=${options.openFiles}:${options.openFiles}`, process.execPath, ...args]]
        : [process.execPath, args];
    // Under faketime the scheduler is faketime's child: a process group of its own lets cleanup kill both.
    const child = spawn(command, argv, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.faketime !== undefined,
    });
    this.processes.push(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return {
      child,
      exited,
      output: () => output,
      stop: async () => {
        // faketime does not pass signals on: signal the scheduler itself (its pid is in the status file).
        if (options.faketime) process.kill((await readStatusFile(join(this.base, 'status'))).scheduler.pid, 'SIGTERM');
        else child.kill('SIGTERM');
        const limit = sleep(30_000, undefined, { ref: false }).then(() => 'timeout' as const);
        const result = await Promise.race([exited, limit]);
        if (result === 'timeout') throw new Error('the scheduler did not exit within 30 s of SIGTERM');
        return result;
      },
    };
  }

  /**
   * How much longer a job's next backup may be put off than a test expects:
   * a job that missed a tag waits for its regular slot when that is at most
   * CATCH_UP_WAIT_LIMIT_SECONDS away, and on a few minutes of every day (of
   * every hour, for an hourly tag) a test's job's slot is (CI at 2c9ce2d
   * ran into one). 0 when no job of the configuration has a slot that near.
   */
  catchUpHoldMs(now = new Date()): number {
    let jobs;
    try {
      jobs = parseConfig(readFileSync(this.conf, 'utf8'), this.conf).config.jobs.values();
    } catch {
      return 0;
    }
    const horizon = (CATCH_UP_WAIT_LIMIT_SECONDS + 120) * 1000;
    let hold = 0;
    for (const job of jobs) {
      const spread = jobSpreadSeconds(job.name, longestInterval(job.schedule));
      for (const rule of job.schedule) {
        const wait = nextSlot(rule.intervalSeconds, spread, now).getTime() - now.getTime();
        if (wait <= horizon) hold = Math.max(hold, wait + 30_000);
      }
    }
    return hold;
  }

  /** `waitFor`, with the scheduler's log in the error when it gives up; the limit is extended by catchUpHoldMs. */
  async waitFor<T>(what: string, probe: () => Maybe<T> | Promise<Maybe<T>>, limitMs = 30_000): Promise<T> {
    try {
      return await waitFor(what, probe, limitMs + this.catchUpHoldMs());
    } catch (err) {
      const tail = this.schedulerLog().split('\n').slice(-30).join('\n');
      throw new Error(`${(err as Error).message}; the scheduler's log ends:\n${tail}`);
    }
  }

  /** Waits until the status file (at its default place) shows what `condition` looks for. */
  waitForStatus(what: string, condition: (status: StatusSnapshot) => boolean, limitMs?: number): Promise<StatusSnapshot> {
    return this.waitFor(
      what,
      async () => {
        const status = await readStatusFile(join(this.base, 'status')).catch(() => null);
        return status && condition(status) ? status : null;
      },
      limitMs,
    );
  }

  schedulerLog(): string {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8') : '';
  }

  /** Backups of a job the scheduler's log says finished: on disk, retention removes them as fast as they come. */
  backupsFinished(job: string): number {
    return this.schedulerLog().split('\n').filter((line) => line.includes(` INFO job ${job}: backup (`) && line.includes(') finished after ')).length;
  }

  cleanup(): void {
    for (const child of this.processes) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      if (child.spawnargs[0] === 'faketime') process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value (a safety limit keeps a broken test from hanging). */
type Maybe<T> = T | undefined | null | false;

export async function waitFor<T>(what: string, probe: () => Maybe<T> | Promise<Maybe<T>>, limitMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}

/** The process is alive and not a zombie waiting for its (new) parent to reap it. */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A TCP port nobody listens on right now (for the telnet shell). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

export interface RevisionFile {
  uuid: string;
  timestamp: Date;
  tags: string[];
  complete: boolean;
}

/** The job directory's revisions as their `.rev` files say, oldest first (read as plain YAML). */
export function revisions(job: string): RevisionFile[] {
  if (!existsSync(job)) return [];
  const list: RevisionFile[] = [];
  for (const name of readdirSync(job)) {
    if (!name.endsWith('.rev') || name === 'last.rev' || name.startsWith('.')) continue;
    let data: { uuid: string; timestamp: string; tags: string[]; stats?: { duration?: number } };
    try {
      data = YAML.parse(readFileSync(join(job, name), 'utf8')) as typeof data;
    } catch {
      continue; // removed while we listed
    }
    if (!data) continue;
    list.push({ uuid: data.uuid, timestamp: new Date(data.timestamp), tags: data.tags, complete: typeof data.stats?.duration === 'number' });
  }
  return list.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
}

export interface ConfigOptions {
  base: string;
  port: number;
  workerLimit?: number;
  statusInterval?: number;
  /** Other global options, e.g. `status-file`. */
  global?: Record<string, unknown>;
  schedules: Record<string, Record<string, { interval: string; keep: number }>>;
  jobs: Record<string, { schedule: string; filename: string }>;
}

/** A configuration file in the manual's format. */
export function configText(options: ConfigOptions): string {
  return YAML.stringify({
    global: {
      'base-dir': options.base,
      'worker-limit': options.workerLimit ?? 1,
      'status-interval': options.statusInterval ?? 1,
      'telnet-addrs': '127.0.0.1',
      'telnet-port': options.port,
      // The tests' base directories are on ext4, whose default store is chunked; these test the scheduler.
      store: 'cow',
      // Off unless a test turns it on: the default port would be shared by every test's scheduler.
      'http-port': 0,
      ...options.global,
    },
    schedules: options.schedules,
    jobs: Object.fromEntries(
      Object.entries(options.jobs).map(([name, job]) => [name, { schedule: job.schedule, source: { type: 'file', filename: job.filename } }]),
    ),
  });
}
