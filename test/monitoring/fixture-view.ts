/** A SchedulerView with fixed jobs and a fixed clock, for driving the telnet shell in tests. */
import type { JobStatus, SchedulerStatus, SchedulerView } from '../../src/scheduler/status-model.js';
import { jobStatus as job } from '../helpers/job-status.js';

export const FIXTURE_NOW = new Date('2015-11-06T10:00:00Z');

/** The `jobs` table of the manual's Example section, character for character: the fixture's test01-03 at FIXTURE_NOW. */
export const MANUAL_JOBS_TABLE = [
  '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
  '| Job    | SLA | Status  | Last Backup (UTC)   | Last Tags | Last Dur | Next Backup (UTC)   | Next Tags    |',
  '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
  '| test01 | OK  | waiting | 2015-11-05 11:56:10 | daily     |   50.7 s | 2015-11-06 11:56:10 | daily,weekly |',
  '| test02 | OK  | waiting | 2015-11-05 10:32:03 | daily     |   88.1 s | 2015-11-06 10:32:03 | daily        |',
  '| test03 | OK  | waiting | 2015-11-06 09:49:27 | hourly    |   17.7 s | 2015-11-06 10:15:09 | hourly       |',
  '+--------+-----+---------+---------------------+-----------+----------+---------------------+--------------+',
].join('\n');

/** What `jobs ^test` answers: the manual's table and backy 2.x's count line. */
export const MANUAL_JOBS_OUTPUT = `${MANUAL_JOBS_TABLE}\n3 jobs shown`;

export interface FixtureView extends SchedulerView {
  /** Jobs queued through `run`, in order. */
  readonly runs: string[];
}

/** The manual's three example jobs plus `web01`, which is overdue, failing, and holds a distrusted revision. */
export function fixtureView(): FixtureView {
  const runs: string[] = [];
  const jobs: JobStatus[] = [
    job({
      name: 'test01',
      lastBackup: new Date('2015-11-05T11:56:10Z'),
      lastTags: ['daily'],
      lastDuration: 50.7,
      nextBackup: new Date('2015-11-06T11:56:10Z'),
      nextTags: ['daily', 'weekly'],
    }),
    job({
      name: 'test02',
      lastBackup: new Date('2015-11-05T10:32:03Z'),
      lastTags: ['daily'],
      lastDuration: 88.08,
      nextBackup: new Date('2015-11-06T10:32:03Z'),
      nextTags: ['daily'],
    }),
    job({
      name: 'test03',
      slaIntervalSeconds: 3600,
      lastBackup: new Date('2015-11-06T09:49:27Z'),
      lastTags: ['hourly'],
      lastDuration: 17.7,
      nextBackup: new Date('2015-11-06T10:15:09Z'),
      nextTags: ['hourly'],
    }),
    job({
      name: 'web01',
      state: 'failed',
      failures: 3,
      retryAt: new Date('2015-11-06T10:32:00Z'),
      lastBackup: new Date('2015-11-03T08:00:00Z'),
      lastTags: ['daily'],
      lastDuration: 301.25,
      nextBackup: new Date('2015-11-06T10:32:00Z'),
      nextTags: ['daily'],
      distrustedRevisions: 1,
      lastVerified: new Date('2015-11-06T03:00:00Z'),
      verifiedSince: new Date('2015-10-20T08:00:00Z'),
    }),
  ];
  const status: SchedulerStatus = {
    version: '2.0',
    pid: 4711,
    started: new Date('2015-11-04T08:00:00Z'),
    configPath: '/etc/backy.conf',
    configLoaded: new Date('2015-11-05T09:30:00Z'),
    workerLimit: 2,
    running: [{ job: 'test02', tags: ['daily'], started: new Date('2015-11-06T09:58:30Z'), pid: 4802 }],
    queued: [],
    skipped: [],
    finished: { succeeded: 0, failed: 0, interrupted: 0 },
    scrub: {
      intervalSeconds: 30 * 86400,
      periodSeconds: 86400,
      budgetBytes: 12 * 1024 ** 3,
      readBytes: 5 * 1024 ** 3,
      running: [{ job: 'test01', revision: 'FqZGAe6iG2hadwJoHdpigW', started: new Date('2015-11-06T09:59:00Z'), pid: 4803 }],
    },
  };
  return {
    runs,
    status: () => status,
    jobs: () => jobs,
    runJob: (name) => {
      if (!jobs.some((j) => j.name === name)) return { ok: false, reason: `no job named "${name}"` };
      runs.push(name);
      status.queued.push(name);
      return { ok: true };
    },
  };
}
