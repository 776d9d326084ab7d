import { readCheckSettings } from '../../monitoring/check-config.js';
import { jobRecord } from '../../monitoring/job-record.js';
import { readStatusForCheck } from '../../monitoring/status-reader.js';
import { renderJobsTable } from '../../monitoring/telnet/jobs-table.js';
import { BackyError, describeIoError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';
import { renderData, type DataFormat } from '../render/structured.js';

/**
 * `backy -c CONFIG jobs [--json]`: what telnet `jobs` shows, read from the
 * scheduler's status file (so it works while the scheduler runs elsewhere
 * or has stopped; `written` says how current it is).
 */
export async function jobs(context: ActionContext, configPath: string, format: DataFormat | null): Promise<number> {
  let settings;
  try {
    settings = await readCheckSettings(configPath);
  } catch (err) {
    throw new BackyError((err as Error).message);
  }
  let snapshot;
  try {
    snapshot = await readStatusForCheck(settings.statusFile);
  } catch (err) {
    throw describeIoError(err, `cannot read status file ${settings.statusFile}`);
  }
  const now = new Date();
  // By name, as telnet `jobs` lists them.
  const sorted = [...snapshot.jobs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (format) {
    context.stdout.write(await renderData({ written: snapshot.written.toISOString(), jobs: sorted.map((job) => jobRecord(job, now)) }, format));
  } else {
    context.stdout.write(`${renderJobsTable(sorted, now)}\n`);
  }
  return 0;
}
