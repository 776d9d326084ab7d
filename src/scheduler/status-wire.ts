import { z } from 'zod';
import type { JobStatus, RunningBackup, RunningScrub, SchedulerStatus, ScrubStatus, StatusSnapshot } from './status-model.js';

/**
 * The scheduler's state as it leaves the process — the status file, the
 * HTTP API, `backy jobs --json`: snake_case keys and ISO 8601 UTC times.
 * One zod schema per record, in the model's own (camelCase) keys, decodes
 * what is read back and encodes what is written; the wire names follow from
 * the model's by rule (`lastBackup` ↔ `last_backup`) with the two
 * exceptions the first status files had. A new JobStatus field is one line
 * below (with a default, so that older files still read).
 */

/** Wire names that do not follow the snake_case rule. */
const WIRE_NAMES: Record<string, string> = { slaIntervalSeconds: 'sla_interval', configPath: 'config' };
const MODEL_NAMES: Record<string, string> = Object.fromEntries(Object.entries(WIRE_NAMES).map(([model, wire]) => [wire, model]));

export function wireName(key: string): string {
  return WIRE_NAMES[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function modelName(key: string): string {
  return MODEL_NAMES[key] ?? key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** An ISO 8601 time on the wire, a Date in the model. */
export const isoTime = z.codec(
  z.string({ error: 'expected an ISO 8601 time' }).refine((s) => !Number.isNaN(new Date(s).getTime()), { error: 'expected an ISO 8601 time' }),
  z.date(),
  { decode: (text) => new Date(text), encode: (date) => date.toISOString() },
);

const count = z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).min(0, { error: 'expected a whole number' });
const seconds = z.number({ error: 'expected a number' }).min(0, { error: 'expected a number of seconds' });
const strings = z.array(z.string({ error: 'expected a string' }), { error: 'expected a list' });

const runningSchema = z.object({
  job: z.string(),
  tags: strings,
  started: isoTime,
  pid: z.number().int().nullable(),
}) satisfies z.ZodType<RunningBackup, unknown>;

const scrubSchema = z.object({
  intervalSeconds: seconds.nullable(),
  periodSeconds: seconds.nullable(),
  budgetBytes: count,
  readBytes: count,
  running: z.array(z.object({ job: z.string(), revision: z.string(), started: isoTime, pid: z.number().int().nullable() }) satisfies z.ZodType<RunningScrub, unknown>),
}) satisfies z.ZodType<ScrubStatus, unknown>;

/** Status files written before scrubbing: nothing known about it. */
const NO_SCRUB: ScrubStatus = { intervalSeconds: null, periodSeconds: null, budgetBytes: 0, readBytes: 0, running: [] };

export const schedulerStatusSchema = z.object({
  version: z.string(),
  pid: z.number().int(),
  started: isoTime,
  configPath: z.string(),
  configLoaded: isoTime,
  workerLimit: count,
  running: z.array(runningSchema),
  queued: strings,
  skipped: z.array(z.object({ job: z.string(), reason: z.string() })).default([]),
  finished: z.object({ succeeded: count, failed: count, interrupted: count }).default({ succeeded: 0, failed: 0, interrupted: 0 }),
  scrub: scrubSchema.default(NO_SCRUB),
}) satisfies z.ZodType<SchedulerStatus, unknown>;

export const jobStatusSchema = z.object({
  name: z.string(),
  schedule: z.string(),
  slaIntervalSeconds: seconds,
  firstSeen: isoTime,
  state: z.enum(['waiting', 'queued', 'running', 'failed'], { error: 'unknown state' }),
  retryAt: isoTime.nullable().default(null),
  failures: count,
  lastBackup: isoTime.nullable().default(null),
  lastTags: strings,
  lastDuration: seconds.nullable().default(null),
  lastBytesWritten: count.nullable().default(null),
  nextBackup: isoTime.nullable().default(null),
  nextTags: strings,
  revisions: count.default(0),
  estimatedBytes: count.default(0),
  distrustedRevisions: count.default(0),
  lastVerified: isoTime.nullable().default(null),
  verifiedSince: isoTime.nullable().default(null),
}) satisfies z.ZodType<JobStatus, unknown>;

export const STATUS_FORMAT = 1;

export const statusSnapshotSchema = z.object({
  format: z.literal(STATUS_FORMAT, { error: (issue) => `unsupported format ${JSON.stringify(issue.input)}` }),
  written: isoTime,
  scheduler: schedulerStatusSchema,
  jobs: z.array(jobStatusSchema),
});

export class StatusFormatError extends Error {}

/** Wire data (parsed YAML or JSON) to the model; a StatusFormatError names the first field that is wrong. */
export function decodeStatus(data: unknown): StatusSnapshot {
  const result = statusSnapshotSchema.safeParse(renameKeys(data, modelName));
  if (result.success) {
    const { written, scheduler, jobs } = result.data;
    return { written, scheduler, jobs };
  }
  throw new StatusFormatError(describeIssue(result.error.issues[0]!));
}

/**
 * The snapshot in its wire form. A job field the schema refuses is written
 * as "unknown" (null, 0 or no tags) and named through `report`, one line a
 * job: one job's odd `.rev` values must not keep every job's status from
 * `backy check`.
 */
export function encodeStatus(snapshot: StatusSnapshot, report: (line: string) => void = () => undefined): Record<string, unknown> {
  const jobs = snapshot.jobs.map((job) => {
    const { repaired, problems } = repairJob(job);
    if (problems.length > 0) report(`job ${job.name}: ${problems.join('; ')}`);
    return repaired;
  });
  return renameKeys(z.encode(statusSnapshotSchema, { format: STATUS_FORMAT, ...snapshot, jobs }), wireName) as Record<string, unknown>;
}

/** What a refused field is written as: the first of these its schema takes (the name, the state, … take none: they are the scheduler's own). */
const UNKNOWN_VALUES: unknown[] = [null, 0, []];

function repairJob(job: JobStatus): { repaired: JobStatus; problems: string[] } {
  const result = z.safeEncode(jobStatusSchema, job);
  if (result.success) return { repaired: job, problems: [] };
  const repaired: Record<string, unknown> = { ...job };
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    const key = String(issue.path[0]) as keyof JobStatus;
    const field = jobStatusSchema.shape[key] as z.ZodType | undefined;
    const unknown = field ? UNKNOWN_VALUES.find((value) => z.safeEncode(field, value).success) : undefined;
    if (unknown === undefined || problems.some((p) => p.startsWith(`${wireName(key)}:`))) continue;
    repaired[key] = unknown;
    problems.push(`${wireName(key)}: ${issue.message}; written as ${JSON.stringify(unknown)}`);
  }
  return { repaired: repaired as unknown as JobStatus, problems };
}

export function encodeJob(job: JobStatus): Record<string, unknown> {
  return renameKeys(z.encode(jobStatusSchema, job), wireName) as Record<string, unknown>;
}

export function encodeScheduler(status: SchedulerStatus): Record<string, unknown> {
  return renameKeys(z.encode(schedulerStatusSchema, status), wireName) as Record<string, unknown>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${wireName(String(part))}`)).join('').replace(/^\./, '');
  if (path.length === 0) return issue.code === 'invalid_type' ? 'expected a mapping' : issue.message;
  if (path === 'format') return issue.message;
  return `${path}: ${issue.message}`;
}

/** Renames the keys of plain objects at every depth (values, Dates and arrays' items stay). */
function renameKeys(value: unknown, rename: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => renameKeys(item, rename));
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [rename(key), renameKeys(item, rename)]));
}
