/**
 * The scheduler at scale: 1,000 jobs over three schedules, file sources
 * pointing at small files, every job with a recent revision so that nothing
 * is due (BACKY_CMD=true covers any slot that comes up during the run).
 * Measured on the real process: start-up (process start until the first
 * status file exists), first start (job directories set up) and restart,
 * peak memory (VmHWM); in-process: one status-file write; and how evenly
 * the jobs' runs spread over the hours of the day.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import { JobDirectory } from '../../src/job/job-directory.js';
import { newRevisionId } from '../../src/store/revision-id.js';
import { nextSlot } from '../../src/schedule/next-run.js';
import { jobSpreadSeconds } from '../../src/schedule/spread.js';
import { parseConfig } from '../../src/scheduler/config-load.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { readStatusFile } from '../../src/scheduler/status-file.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { median } from '../lib/measure.js';
import { markdownTable, mib, seconds, type Row } from '../lib/report.js';

const JOBS = 1000;
const SCHEDULES = {
  default: { daily: { interval: '1d', keep: 7 }, weekly: { interval: '1w', keep: 4 }, monthly: { interval: '30d', keep: 3 } },
  frequent: { hourly: { interval: '1h', keep: 24 }, daily: { interval: '1d', keep: 7 }, weekly: { interval: '1w', keep: 12 } },
  nightly: { daily: { interval: '1d', keep: 14 } },
} as const;
const NAMES = Object.keys(SCHEDULES) as (keyof typeof SCHEDULES)[];

const jobName = (i: number) => `vm${String(i).padStart(4, '0')}`;
const scheduleOf = (i: number) => NAMES[i % NAMES.length]!;

/** A base directory as a running installation has it: every job with a complete revision from a minute ago. */
async function setUp(dir: string): Promise<string> {
  const base = join(dir, 'base');
  mkdirSync(base);
  const sources = join(dir, 'sources');
  mkdirSync(sources);
  const jobs: Record<string, unknown> = {};
  const recent = new Date(Date.now() - 60_000);
  for (let i = 0; i < JOBS; i++) {
    const name = jobName(i);
    const filename = join(sources, `${name}.img`);
    writeFileSync(filename, Buffer.alloc(4096, i % 256));
    jobs[name] = { schedule: scheduleOf(i), source: { type: 'file', filename } };
    const job = new JobDirectory(join(base, name));
    mkdirSync(job.path);
    const tags = Object.keys(SCHEDULES[scheduleOf(i)]);
    writeFileSync(job.revisionPath(newRevisionId()), YAML.stringify({ uuid: newRevisionId(), timestamp: recent.toISOString(), parent: '', tags, stats: { duration: 1.5, bytes_written: 4096 } }));
  }
  const conf = join(dir, 'backy.conf');
  writeFileSync(
    conf,
    YAML.stringify({ global: { 'base-dir': base, 'worker-limit': 2, 'status-interval': 1, 'telnet-addrs': '127.0.0.1', 'telnet-port': 16000 + (process.pid % 40000) }, schedules: SCHEDULES, jobs }),
  );
  return conf;
}

interface ProcessRun {
  startupSeconds: number;
  peakRssBytes: number;
}

/** Starts the scheduler, waits for the status file, lets it run `seconds`, reads VmHWM, stops it. */
async function runProcess(conf: string, statusFile: string, seconds: number): Promise<ProcessRun> {
  rmSync(statusFile, { force: true });
  const started = process.hrtime.bigint();
  const child: ChildProcess = spawn(process.execPath, [BACKY_MAIN, '-c', conf, '-l', join(conf, '..', 'scheduler.log'), 'scheduler'], {
    env: { ...process.env, BACKY_CMD: 'true' },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    while (!existsSync(statusFile)) {
      if (child.exitCode !== null) throw new Error(`the scheduler exited with ${child.exitCode}`);
      await sleep(2);
    }
    const startupSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    await sleep(seconds * 1000);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    child.kill('SIGTERM');
    if ((await exited) !== 0) throw new Error('the scheduler did not exit cleanly');
    return { startupSeconds, peakRssBytes: Number(hwm?.[1] ?? NaN) * 1024 };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** One status-file write (snapshot, YAML, atomic replace), in-process, median of several. */
async function statusWriteSeconds(conf: string): Promise<number> {
  const scheduler = new Scheduler({
    configPath: conf,
    config: parseConfig(readFileSync(conf, 'utf8'), conf).config,
    clock: systemClock,
    spawner: () => ({ pid: null, kill: () => undefined, exit: Promise.resolve({ code: 0, signal: null, error: null }) }),
    logger: silentLogger,
    backyCommand: ['true'],
    timers: false,
    frontEnds: [],
  });
  await scheduler.start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = process.hrtime.bigint();
      await scheduler.writeStatus();
      times.push(Number(process.hrtime.bigint() - started) / 1e9);
    }
    return median(times);
  } finally {
    await scheduler.stop();
  }
}

/** The busiest hour of the day against the average, for a list of times. */
function busiestHour(times: Date[]): { busiest: number; average: number } {
  const perHour = new Array<number>(24).fill(0);
  for (const time of times) perHour[time.getUTCHours()]! += 1;
  return { busiest: Math.max(...perHour), average: times.length / 24 };
}

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'backy-bench-scheduler-'));
  try {
    const conf = await setUp(dir);
    const statusFile = join(dir, 'base', 'status');
    const first = await runProcess(conf, statusFile, 3);
    const restart = await runProcess(conf, statusFile, 5);
    const status = await readStatusFile(statusFile);
    const write = await statusWriteSeconds(conf);

    // Jobs whose shortest interval is a day: their next runs, as the scheduler wrote them.
    const dailyNext = status.jobs.filter((j) => j.slaIntervalSeconds === 86400 && j.nextBackup).map((j) => j.nextBackup!);
    const observed = busiestHour(dailyNext);
    // Every job's daily slot (all three schedules have a daily tag), from its spread over its longest interval.
    const now = new Date();
    const longest = (i: number) => (scheduleOf(i) === 'default' ? 30 * 86400 : scheduleOf(i) === 'frequent' ? 7 * 86400 : 86400);
    const slots = Array.from({ length: JOBS }, (_, i) => nextSlot(86400, jobSpreadSeconds(jobName(i), longest(i)), now));
    const computed = busiestHour(slots);

    const rows: Row[] = [
      { figure: 'start-up, first start (sets up 1,000 job directories)', value: seconds(first.startupSeconds), target: '< 5 s', pass: first.startupSeconds < 5 },
      { figure: 'start-up, restart', value: seconds(restart.startupSeconds), target: '< 5 s', pass: restart.startupSeconds < 5 },
      { figure: 'one status-file write (1,000 jobs)', value: seconds(write), target: '< 1 s', pass: write < 1 },
      { figure: 'peak memory of the scheduler (VmHWM)', value: mib(Math.max(first.peakRssBytes, restart.peakRssBytes)), target: '< 200 MiB', pass: Math.max(first.peakRssBytes, restart.peakRssBytes) < 200 * 1024 * 1024 },
      {
        figure: `busiest hour, next runs of the ${dailyNext.length} daily jobs (status file)`,
        value: `${observed.busiest} (avg ${observed.average.toFixed(1)})`,
        target: '<= 2 x average',
        pass: observed.busiest <= 2 * observed.average,
      },
      {
        figure: 'busiest hour, daily slots of all 1,000 jobs',
        value: `${computed.busiest} (avg ${computed.average.toFixed(1)})`,
        target: '<= 2 x average',
        pass: computed.busiest <= 2 * computed.average,
      },
    ];
    return [
      '## Scheduler (1,000 jobs, three schedules)',
      '',
      'Schedules: default (daily, weekly, monthly), frequent (hourly, daily, weekly), nightly (daily), a third of the jobs each; every job has a recent revision, so nothing is due; BACKY_CMD=true. Start-up: process start until the first status file exists. Memory: VmHWM after the first start ran 3 s, the restart 5 s, the status file written every second.',
      '',
      markdownTable(rows),
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await run());
}
