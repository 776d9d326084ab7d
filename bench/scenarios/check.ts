/**
 * Monitoring at scale: `backy check` against a status file of 1,000 jobs
 * (the issue asks for well under a second), and the telnet shell's `jobs`
 * table for the same 1,000 jobs rendered in-process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderJobsTable } from '../../src/monitoring/telnet/jobs-table.js';
import { serializeStatus } from '../../src/scheduler/status-file.js';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { snapshotAt } from '../../test/monitoring/status-fixtures.js';
import { measure, median } from '../lib/measure.js';
import { markdownTable, mib, seconds } from '../lib/report.js';

const JOBS = 1000;
const REPETITIONS = 7;

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'backy-bench-check-'));
  try {
    const now = new Date();
    const snapshot = snapshotAt(
      now,
      Array.from({ length: JOBS }, (_, i) => ({ name: `vm${String(i).padStart(4, '0')}`, lastBackupHoursAgo: (i % 30) + 0.5 })),
    );
    const statusText = serializeStatus(snapshot);
    writeFileSync(join(dir, 'status'), statusText);
    // check judges the configured jobs: the configuration names all of them.
    const jobs = snapshot.jobs.map((job) => `  ${job.name}: {schedule: default, source: {type: file, filename: /srv/${job.name}.img}}\n`).join('');
    writeFileSync(join(dir, 'backy.conf'), `global:\n  base-dir: ${dir}\njobs:\n${jobs}`);

    const runs = [];
    for (let i = 0; i < REPETITIONS; i++) runs.push(await measure(process.execPath, [BACKY_MAIN, '-c', join(dir, 'backy.conf'), 'check']));
    const wall = median(runs.map((m) => m.wallSeconds));
    const cpu = median(runs.map((m) => m.cpuSeconds));
    const rss = Math.max(...runs.map((m) => m.maxRssBytes));
    const baseline = await measure(process.execPath, ['-e', '0']);

    const renders: number[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      const started = process.hrtime.bigint();
      renderJobsTable(snapshot.jobs, now);
      renders.push(Number(process.hrtime.bigint() - started) / 1e9);
    }
    return [
      '## check',
      '',
      `\`backy check\` with ${JOBS} jobs in the status file (${(statusText.length / 1024).toFixed(0)} KiB), median of ${REPETITIONS}; ` +
        `baseline: \`node -e 0\`. Output: ${runs[0].stdout.split(' | ')[0]}.`,
      '',
      markdownTable([
        { figure: 'check: wall time', value: seconds(wall), baseline: seconds(baseline.wallSeconds), target: '< 1 s', pass: wall < 1 },
        { figure: 'check: CPU time', value: seconds(cpu) },
        { figure: 'check: peak memory', value: mib(rss), baseline: mib(baseline.maxRssBytes) },
        { figure: `telnet \`jobs\` table, ${JOBS} jobs`, value: seconds(median(renders)) },
      ]),
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
