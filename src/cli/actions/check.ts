import { CheckConfigError, readCheckSettings, type CheckSettings } from '../../monitoring/check-config.js';
import { evaluateCheck, STATUS_FILE_MAX_AGE_SECONDS, unknownCheck, type CheckResult } from '../../monitoring/check.js';
import { readStatusForCheck, StatusFileKindError } from '../../monitoring/status-reader.js';
import { StatusFormatError } from '../../scheduler/status-file.js';
import type { StatusSnapshot } from '../../scheduler/status-model.js';
import { describeIoError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';

/**
 * Monitoring systems give a plugin 10 s by default; past this `check` says
 * UNKNOWN itself (a hung filesystem under the configuration or status file).
 */
export const CHECK_DEADLINE_MS = 8_000;

/**
 * Nagios plugin: one line on stdout, exit 0 (OK), 2 (CRITICAL) or 3
 * (UNKNOWN), within CHECK_DEADLINE_MS. Every failure, even a bug, becomes
 * an UNKNOWN line, because a monitoring system reads stdout and the exit
 * status, not stderr.
 */
export async function check(context: ActionContext, configPath: string): Promise<number> {
  const deadline = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => {
      deadline.abort();
      resolve(unknownCheck(`no answer from the configuration or status file within ${CHECK_DEADLINE_MS / 1000} s (a hung filesystem?)`));
    }, CHECK_DEADLINE_MS);
  });
  const result = await Promise.race([evaluate(configPath, deadline.signal), late]);
  clearTimeout(timer);
  context.stdout.write(`${result.line}\n`);
  return result.code;
}

async function evaluate(configPath: string, signal: AbortSignal): Promise<CheckResult> {
  let settings: CheckSettings;
  try {
    settings = await readCheckSettings(configPath, signal);
  } catch (err) {
    return unknownCheck(err instanceof CheckConfigError ? err.message : `cannot evaluate configuration: ${String(err)}`);
  }
  let snapshot: StatusSnapshot;
  try {
    snapshot = await readStatusForCheck(settings.statusFile, signal);
  } catch (err) {
    if (err instanceof StatusFormatError) return unknownCheck(`status file ${settings.statusFile} is malformed: ${err.message}`);
    if (err instanceof StatusFileKindError) return unknownCheck(`status file ${settings.statusFile} ${err.message}`);
    return unknownCheck(describeIoError(err, `cannot read status file ${settings.statusFile}`).message);
  }
  // A scheduler configured to write less often than every 2.5 minutes gets twice its interval.
  const maxStatusAgeSeconds = Math.max(STATUS_FILE_MAX_AGE_SECONDS, 2 * (settings.statusIntervalSeconds ?? 0));
  return evaluateCheck(snapshot, new Date(), { configuredJobs: settings.jobNames, maxStatusAgeSeconds });
}
