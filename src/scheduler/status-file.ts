import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { JobStatus, RunningBackup, SchedulerStatus, StatusSnapshot } from './status-model.js';

/**
 * The status file: YAML with snake_case keys and ISO 8601 UTC times,
 * replaced atomically so `backy check` never reads half a file.
 *
 * ```yaml
 * format: 1
 * written: 2026-11-27T02:30:00.000Z
 * scheduler: {version, pid, started, config, config_loaded, worker_limit, running: [...], queued: [...]}
 * jobs:
 *   - {name, schedule, sla_interval, first_seen, state, retry_at, failures,
 *      last_backup, last_tags, last_duration, next_backup, next_tags}
 * ```
 */
export const STATUS_FORMAT = 1;

export function serializeStatus(snapshot: StatusSnapshot): string {
  const s = snapshot.scheduler;
  return YAML.stringify({
    format: STATUS_FORMAT,
    written: snapshot.written.toISOString(),
    scheduler: {
      version: s.version,
      pid: s.pid,
      started: s.started.toISOString(),
      config: s.configPath,
      config_loaded: s.configLoaded.toISOString(),
      worker_limit: s.workerLimit,
      running: s.running.map((r) => ({ job: r.job, tags: r.tags, started: r.started.toISOString(), pid: r.pid })),
      queued: s.queued,
    },
    jobs: snapshot.jobs.map((j) => ({
      name: j.name,
      schedule: j.schedule,
      sla_interval: j.slaIntervalSeconds,
      first_seen: j.firstSeen.toISOString(),
      state: j.state,
      retry_at: iso(j.retryAt),
      failures: j.failures,
      last_backup: iso(j.lastBackup),
      last_tags: j.lastTags,
      last_duration: j.lastDuration,
      next_backup: iso(j.nextBackup),
      next_tags: j.nextTags,
    })),
  });
}

export async function writeStatusFile(path: string, snapshot: StatusSnapshot): Promise<void> {
  await writeFileAtomic(path, serializeStatus(snapshot));
}

export class StatusFormatError extends Error {}

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
  const root = record(data, 'status file');
  if (root.format !== STATUS_FORMAT) throw new StatusFormatError(`unsupported format ${JSON.stringify(root.format)}`);
  const s = record(root.scheduler, 'scheduler');
  const scheduler: SchedulerStatus = {
    version: string(s.version, 'scheduler.version'),
    pid: number(s.pid, 'scheduler.pid'),
    started: date(s.started, 'scheduler.started'),
    configPath: string(s.config, 'scheduler.config'),
    configLoaded: date(s.config_loaded, 'scheduler.config_loaded'),
    workerLimit: number(s.worker_limit, 'scheduler.worker_limit'),
    running: list(s.running, 'scheduler.running').map((item, i): RunningBackup => {
      const r = record(item, `scheduler.running[${i}]`);
      return {
        job: string(r.job, 'job'),
        tags: strings(r.tags, 'tags'),
        started: date(r.started, 'started'),
        pid: r.pid === null ? null : number(r.pid, 'pid'),
      };
    }),
    queued: strings(s.queued, 'scheduler.queued'),
  };
  const jobs = list(root.jobs, 'jobs').map((item, i): JobStatus => {
    const j = record(item, `jobs[${i}]`);
    const where = `jobs[${i}]`;
    const state = string(j.state, `${where}.state`);
    if (!['waiting', 'queued', 'running', 'failed'].includes(state)) {
      throw new StatusFormatError(`${where}.state: unknown state ${JSON.stringify(state)}`);
    }
    return {
      name: string(j.name, `${where}.name`),
      schedule: string(j.schedule, `${where}.schedule`),
      slaIntervalSeconds: number(j.sla_interval, `${where}.sla_interval`),
      firstSeen: date(j.first_seen, `${where}.first_seen`),
      state: state as JobStatus['state'],
      retryAt: optionalDate(j.retry_at, `${where}.retry_at`),
      failures: number(j.failures, `${where}.failures`),
      lastBackup: optionalDate(j.last_backup, `${where}.last_backup`),
      lastTags: strings(j.last_tags, `${where}.last_tags`),
      lastDuration: j.last_duration === null ? null : number(j.last_duration, `${where}.last_duration`),
      nextBackup: optionalDate(j.next_backup, `${where}.next_backup`),
      nextTags: strings(j.next_tags, `${where}.next_tags`),
    };
  });
  return { written: date(root.written, 'written'), scheduler, jobs };
}

export async function readStatusFile(path: string): Promise<StatusSnapshot> {
  return parseStatus(await readFile(path, 'utf8'));
}

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new StatusFormatError(`${where}: expected a mapping`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new StatusFormatError(`${where}: expected a list`);
  return value;
}

function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new StatusFormatError(`${where}: expected a string`);
  return value;
}

function strings(value: unknown, where: string): string[] {
  return list(value, where).map((v, i) => string(v, `${where}[${i}]`));
}

function number(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new StatusFormatError(`${where}: expected a number`);
  return value;
}

function date(value: unknown, where: string): Date {
  const parsed = new Date(string(value, where));
  if (Number.isNaN(parsed.getTime())) throw new StatusFormatError(`${where}: expected an ISO 8601 time`);
  return parsed;
}

function optionalDate(value: unknown, where: string): Date | null {
  return value === null || value === undefined ? null : date(value, where);
}
