import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { StatusSnapshot } from './status-model.js';
import { decodeStatus, encodeStatus, StatusFormatError } from './status-wire.js';

export { STATUS_FORMAT, StatusFormatError } from './status-wire.js';

/**
 * The status file: the scheduler's state in its wire form (status-wire.ts)
 * as YAML, replaced atomically so `backy check` never reads half a file.
 *
 * ```yaml
 * format: 1
 * written: 2026-11-27T02:30:00.000Z
 * scheduler: {version, pid, started, config, config_loaded, worker_limit, running: [...], queued: [...], skipped: [...],
 *   finished: {...}, scrub: {interval_seconds, period_seconds, budget_bytes, read_bytes, running: [...]}}
 * jobs:
 *   - {name, schedule, sla_interval, first_seen, state, retry_at, failures,
 *      last_backup, last_tags, last_duration, last_bytes_written, next_backup, next_tags,
 *      revisions, estimated_bytes, distrusted_revisions, last_verified, verified_since}
 * ```
 */
/** `report` hears of job fields written as unknown because the schema refused them (see encodeStatus). */
export function serializeStatus(snapshot: StatusSnapshot, report?: (line: string) => void): string {
  return YAML.stringify(encodeStatus(snapshot, report));
}

export async function writeStatusFile(path: string, snapshot: StatusSnapshot, report?: (line: string) => void): Promise<void> {
  await writeFileAtomic(path, serializeStatus(snapshot, report));
}

/** Parses a status file strictly; any missing or mistyped field is a StatusFormatError. */
export function parseStatus(text: string): StatusSnapshot {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (err) {
    throw new StatusFormatError(`invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return statusFromData(data);
}

/**
 * Validates already-parsed status file data, for readers with their own YAML
 * parser (`backy check` uses a faster one for large files).
 */
export function statusFromData(data: unknown): StatusSnapshot {
  return decodeStatus(data);
}

export async function readStatusFile(path: string): Promise<StatusSnapshot> {
  return parseStatus(await readFile(path, 'utf8'));
}
