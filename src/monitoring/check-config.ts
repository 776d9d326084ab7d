import { isAbsolute, join } from 'node:path';
// js-yaml: the configuration of 1,000 jobs parses in 55 ms, with `yaml` in 360 ms (check's whole budget is 1 s).
import { CORE_SCHEMA, load } from 'js-yaml';
import { DEFAULTS, globalSection } from '../scheduler/config-schema.js';
import { describeIoError } from '../util/errors.js';
import { FileKindError, readFileBounded } from './bounded-read.js';

/**
 * As for the status file: far beyond the configuration of its 20,000 jobs.
 * A bigger file (or `/dev/zero`) is no configuration; reading it took
 * `check` past its deadline and hundreds of megabytes.
 */
export const MAX_CONFIG_FILE_BYTES = 8 * 1024 * 1024;

/** What `backy check` needs from the configuration file. */
export interface CheckSettings {
  statusFile: string;
  /** `status-interval` when it is a number of seconds the scheduler accepts, else null. */
  statusIntervalSeconds: number | null;
  /** The names under `jobs`, whatever their entries say: the jobs `check` judges. */
  jobNames: string[];
}

/** The configuration cannot tell `check` where the status file is. */
export class CheckConfigError extends Error {}

/**
 * Reads only `base-dir`, `status-file` and `status-interval` from the global
 * section (`config` or `global`) and the names of the jobs, and ignores
 * everything else, so that a configuration the scheduler would refuse for
 * an unrelated mistake still lets `check` judge the scheduler that is
 * running.
 */
export async function readCheckSettings(configPath: string, signal?: AbortSignal): Promise<CheckSettings> {
  let text: string;
  try {
    // In a process of its own, as the status file: a FIFO or a hung disk here would keep `check` from ever exiting.
    text = await readFileBounded(configPath, MAX_CONFIG_FILE_BYTES, signal, 'configuration');
  } catch (err) {
    if (err instanceof FileKindError) throw new CheckConfigError(`configuration ${configPath} ${err.message}`);
    throw new CheckConfigError(describeIoError(err, `cannot read configuration ${configPath}`).message);
  }
  return checkSettingsFromText(text, configPath);
}

export function checkSettingsFromText(text: string, configPath: string): CheckSettings {
  const where = `configuration ${configPath}`;
  let data: unknown;
  try {
    data = load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    throw new CheckConfigError(`${where} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) data = {};
  if (!isMapping(data)) throw new CheckConfigError(`${where}: expected a mapping of sections`);
  if (data.config !== undefined && data.global !== undefined) {
    throw new CheckConfigError(`${where}: both "config" and "global" sections given; use one`);
  }
  const sectionName = data.global !== undefined ? 'global' : 'config';
  const section = data[sectionName] ?? {};
  if (!isMapping(section)) throw new CheckConfigError(`${where}: "${sectionName}" must be a mapping`);

  // The scheduler's defaults, so that both agree on where the file is.
  const baseDir = pathSetting(section, 'base-dir', sectionName, where) ?? DEFAULTS.baseDir;
  const statusFile = pathSetting(section, 'status-file', sectionName, where) ?? join(baseDir, DEFAULTS.statusFileName);
  const interval = section['status-interval'];
  const jobs = data.jobs ?? {};
  if (!isMapping(jobs)) throw new CheckConfigError(`${where}: "jobs" must be a mapping of job names`);
  return {
    statusFile,
    // Only a value the scheduler takes: it refuses .inf or a day (keeping its old one on reload), and either would hide a dead scheduler.
    statusIntervalSeconds: typeof interval === 'number' && globalSection.shape['status-interval'].safeParse(interval).success ? interval : null,
    jobNames: Object.keys(jobs),
  };
}

function pathSetting(section: Record<string, unknown>, key: string, sectionName: string, where: string): string | undefined {
  const value = section[key];
  if (value === undefined || value === null) return undefined;
  // Absolute like the scheduler requires: a relative path would depend on where each runs.
  if (typeof value !== 'string' || !isAbsolute(value)) {
    throw new CheckConfigError(`${where}: ${sectionName}.${key} must be an absolute path`);
  }
  return value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
