import { resolve } from 'node:path';
import YAML from 'yaml';
import { MAX_CONFIG_FILE_BYTES } from '../monitoring/check-config.js';
import { BackyError, describeIoError } from '../util/errors.js';
import { readSmallFile } from '../util/regular-file.js';
import type { SchedulerConfig } from './config.js';
import { validateConfig } from './config-validate.js';

export interface LoadedConfig {
  config: SchedulerConfig;
  warnings: string[];
}

/**
 * Reads and validates the configuration file. An invalid file is one
 * BackyError: the first line says the file is invalid, then one line per
 * problem, each naming the file.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    // As `check` reads it: a FIFO here held the scheduler's start (and a reload, gc -c) for ever, /dev/zero took 600 MiB.
    text = await readSmallFile(file, MAX_CONFIG_FILE_BYTES);
  } catch (err) {
    throw describeIoError(err, `cannot read configuration file ${file}`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): LoadedConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    const first = (err as Error).message.split('\n')[0]!.replace(/:$/, '');
    throw new BackyError(`${file}: invalid configuration: not valid YAML: ${first}`);
  }
  const { config, errors, warnings } = validateConfig(raw, file);
  if (!config || errors.length > 0) {
    const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
    throw new BackyError([`${file}: invalid configuration (${count}):`, ...errors].join('\n'));
  }
  return { config, warnings };
}
