/** Hand-made status files for `backy check`, around a fixed "now". */
import type { StatusSnapshot } from '../../src/scheduler/status-model.js';
import { jobStatus } from '../helpers/job-status.js';

const HOUR = 3600_000;

export interface JobSpec {
  name: string;
  /** Hours since the last complete backup; null for never. */
  lastBackupHoursAgo: number | null;
  /** Hours since the job appeared in the configuration (default 1000). */
  firstSeenHoursAgo?: number;
  /** The schedule's shortest interval (default 1 day). */
  intervalHours?: number;
  /** Distrusted revisions (default none). */
  distrusted?: number;
  /** Hours since every revision proved its bytes (default: no revisions to prove). */
  verifiedHoursAgo?: number;
}

export function snapshotAt(now: Date, jobs: JobSpec[], writtenSecondsAgo = 20): StatusSnapshot {
  const ago = (hours: number) => new Date(now.getTime() - hours * HOUR);
  return {
    written: new Date(now.getTime() - writtenSecondsAgo * 1000),
    scheduler: {
      version: '2.5.0',
      pid: 4711,
      started: ago(100),
      configPath: '/etc/backy.conf',
      configLoaded: ago(100),
      workerLimit: 1,
      running: [],
      queued: [],
      skipped: [],
      finished: { succeeded: 0, failed: 0, interrupted: 0 },
      scrub: { intervalSeconds: 30 * 86400, periodSeconds: 86400, budgetBytes: 0, readBytes: 0, running: [] },
    },
    jobs: jobs.map((spec) =>
      jobStatus({
        name: spec.name,
        slaIntervalSeconds: (spec.intervalHours ?? 24) * 3600,
        firstSeen: ago(spec.firstSeenHoursAgo ?? 1000),
        lastBackup: spec.lastBackupHoursAgo === null ? null : ago(spec.lastBackupHoursAgo),
        lastTags: ['daily'],
        lastDuration: 42.5,
        nextBackup: ago(-1),
        nextTags: ['daily'],
        distrustedRevisions: spec.distrusted ?? 0,
        verifiedSince: spec.verifiedHoursAgo === undefined ? null : ago(spec.verifiedHoursAgo),
      }),
    ),
  };
}

export interface PerfDatum {
  label: string;
  value: number;
  uom: string;
  warn: string;
  crit: string;
  min: string;
  max: string;
}

/**
 * Splits plugin output the way Nagios does (Nagios Plugin Development
 * Guidelines, "Performance data"): text before the first `|`, then
 * space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`. Throws on
 * anything a Nagios parser would reject.
 */
export function parsePluginOutput(output: string): { text: string; perfdata: PerfDatum[] } {
  const [first, ...more] = output.split('\n');
  if (more.length !== 1 || more[0] !== '') throw new Error(`expected exactly one line, got ${JSON.stringify(output)}`);
  const bar = first.indexOf('|');
  if (bar < 0) return { text: first, perfdata: [] };
  const text = first.slice(0, bar).trimEnd();
  const datum = /^('(?:[^'=]|'')+'|[^'= ]+)=(-?\d+(?:\.\d+)?)(s|ms|us|%|B|KB|MB|TB|c)?(?:;([\d.:~@-]*)(?:;([\d.:~@-]*)(?:;(-?[\d.]*)(?:;(-?[\d.]*))?)?)?)?$/;
  const perfdata = first
    .slice(bar + 1)
    .trim()
    .split(/ +/)
    .map((token) => {
      const m = datum.exec(token);
      if (!m) throw new Error(`not Nagios performance data: ${JSON.stringify(token)}`);
      return {
        label: m[1].replace(/^'(.*)'$/, '$1'),
        value: Number(m[2]),
        uom: m[3] ?? '',
        warn: m[4] ?? '',
        crit: m[5] ?? '',
        min: m[6] ?? '',
        max: m[7] ?? '',
      };
    });
  return { text, perfdata };
}
