import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { formatDuration, MAX_DURATION_SECONDS, parseDuration } from '../schedule/duration.js';

/**
 * The shapes of the scheduler's configuration file (manual, "Files"), one
 * schema per section so that errors can name the job or schedule they are
 * about. Messages say what was expected, in the manual's words.
 */

const absolutePath = (what: string, example = '/srv/backy') =>
  z
    .string({ error: `expected ${what} as an absolute path` })
    .refine((value) => isAbsolute(value), { message: `expected ${what} as an absolute path (e.g. ${example})` });

/** Directories the system lives in: nothing of backy's belongs there or below. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr'];
/** Directories that hold other things: fine above a base directory, never one themselves. */
const SHARED_DIRECTORIES = ['/', '/home', '/root', '/tmp', '/var', '/var/lib', '/var/tmp', '/var/log', '/opt', '/srv'];

/** Why `path` must not be a base directory (job directories are made in it), or null when it may. */
export function systemDirectoryProblem(path: string): string | null {
  const clean = normalize(path).replace(/(.)\/+$/, '$1');
  const tree = SYSTEM_TREES.find((top) => clean === top || clean.startsWith(`${top}/`));
  if (tree) return `${tree} is a system directory; use a directory of its own (e.g. /srv/backy)`;
  if (SHARED_DIRECTORIES.includes(clean)) return `${clean} holds more than backups; use a directory of its own (e.g. /srv/backy)`;
  return null;
}

/** Why `path` must not be the status file (which is replaced on every write), or null. /run is fine for it. */
function systemFileProblem(path: string): string | null {
  const clean = normalize(path);
  const tree = SYSTEM_TREES.filter((top) => top !== '/run').find((top) => clean === top || clean.startsWith(`${top}/`));
  return tree ? `${tree} is a system directory; the status file is replaced on every write: put it elsewhere (e.g. /srv/backy/status)` : null;
}

const checkedPath = (what: string, problemOf: (path: string) => string | null) =>
  absolutePath(what).superRefine((value, ctx) => {
    const problem = problemOf(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Within limits an operator can mean: e.g. 1 s to 1 h. */
const secondsBetween = (min: number, max: number, example: number) => {
  const expected = `expected a number of seconds from ${min} to ${max} (e.g. ${example})`;
  return z.number({ error: expected }).min(min, { error: expected }).max(max, { error: expected });
};

const positiveInteger = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .min(1, { error: 'expected a positive integer' });

/** `telnet-addrs`: the manual's comma-separated string; a YAML list is accepted too. */
const addresses = z
  .union([z.string(), z.array(z.string())], {
    error: 'expected a comma-separated list of listen addresses (e.g. "127.0.0.1, ::1")',
  })
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((a) => a.trim()).filter((a) => a.length > 0))
  .refine((list) => list.every((a) => !/\s/.test(a)), { message: 'listen addresses are separated by commas, not blanks' });
const addressList = addresses.refine((list) => list.length > 0, { message: 'expected at least one listen address (e.g. "127.0.0.1, ::1")' });

/** `store:` globally or per job: how new jobs (and jobs that change store) keep their revisions. */
const storeName = z.enum(['cow', 'chunked'], { error: 'expected cow or chunked' });

const port = (zeroMeansOff: boolean) => {
  const expected = `expected a port number from ${zeroMeansOff ? '0 (off)' : '1'} to 65535`;
  return z
    .number({ error: 'expected a port number' })
    .int({ error: 'expected a port number' })
    .min(zeroMeansOff ? 0 : 1, { error: expected })
    .max(65535, { error: expected });
};

function tooLong(value: unknown, ctx: z.core.$RefinementCtx): never {
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is longer than 100 years (${formatDuration(MAX_DURATION_SECONDS)}); expected a shorter duration` });
  return z.NEVER;
}

const SCRUB_EXPECTED = 'expected a duration with one of the suffixes s, m, h, d, w (e.g. 30d), or 0 to turn scrubbing off';

/** `scrub-interval`: a duration as the schedules write them; 0 (or `0d`) turns scrubbing off (null). */
const scrubInterval = z.unknown().transform((value, ctx): number | null => {
  if (value === 0 || (typeof value === 'string' && /^\s*0+[smhdw]?\s*$/.test(value))) return null;
  const seconds = typeof value === 'string' ? parseDuration(value) : null;
  if (seconds !== null && seconds > MAX_DURATION_SECONDS) return tooLong(value, ctx);
  if (seconds !== null) return seconds;
  const hint = typeof value === 'number' ? `${value} has no unit (e.g. ${value}d): ` : `${JSON.stringify(value)} is not a duration: `;
  ctx.addIssue({ code: 'custom', message: `${hint}${SCRUB_EXPECTED}` });
  return z.NEVER;
});

export const globalSection = z.strictObject({
  'base-dir': checkedPath('the directory holding the job directories', systemDirectoryProblem).optional(),
  'worker-limit': positiveInteger.optional(),
  'status-file': checkedPath('the status file', systemFileProblem).optional(),
  'status-interval': secondsBetween(1, 3600, 30).optional(),
  'telnet-addrs': addressList.optional(),
  'telnet-max-sessions': positiveInteger.max(1000, { error: 'expected a number of sessions from 1 to 1000' }).optional(),
  'telnet-idle-timeout': secondsBetween(1, 86400, 600).optional(),
  'telnet-port': port(false).optional(),
  // An empty list, or port 0, turns the HTTP server off.
  'http-addrs': addresses.optional(),
  'http-port': port(true).optional(),
  'api-tokens': absolutePath('the token file', '/etc/backy/api-tokens').optional(),
  'backup-completed-callback': absolutePath('the program to run after each backup', '/usr/local/bin/backup-completed').optional(),
  'callback-timeout': secondsBetween(1, 3600, 60).optional(),
  store: storeName.optional(),
  'scrub-interval': scrubInterval.optional(),
});

export const GLOBAL_KEYS = Object.keys(globalSection.shape);

export const DEFAULTS = {
  baseDir: '/srv/backy',
  workerLimit: 1,
  statusFileName: 'status',
  statusIntervalSeconds: 30,
  telnetAddresses: ['127.0.0.1', '::1'],
  telnetPort: 6023,
  telnetMaxSessions: 64,
  telnetIdleTimeoutSeconds: 600,
  httpAddresses: ['127.0.0.1', '::1'],
  httpPort: 6024,
  callbackTimeoutSeconds: 60,
  scrubIntervalSeconds: 30 * 86400,
} as const;

const DURATION_EXPECTED = 'expected an integer with one of the suffixes s, m, h, d, w (e.g. 1d)';

/** One tag of a schedule: `interval` and `keep`. */
export const tagRule = z.strictObject({
  interval: z.unknown().transform((value, ctx) => {
    const seconds = typeof value === 'string' ? parseDuration(value) : null;
    if (seconds !== null && seconds > MAX_DURATION_SECONDS) return tooLong(value, ctx);
    if (seconds !== null) return seconds;
    const hint =
      value === undefined
        ? 'missing: '
        : typeof value === 'number'
          ? `${value} has no unit (e.g. ${value}s): `
          : `${JSON.stringify(value)} is not a duration: `;
    ctx.addIssue({ code: 'custom', message: `${hint}${DURATION_EXPECTED}` });
    return z.NEVER;
  }),
  keep: positiveInteger,
});

export const TAG_RULE_KEYS = Object.keys(tagRule.shape);

/** One job: which schedule, and the source (validated by the source registry). */
export const jobEntry = z.strictObject({
  schedule: z
    .string({ error: 'expected the name of a schedule defined under "schedules"' })
    .min(1, { error: 'expected the name of a schedule defined under "schedules"' }),
  source: z.unknown().refine((value) => value !== undefined, {
    message: 'missing: expected the source\'s "type" and its parameters',
  }),
  store: storeName.optional(),
});

export const JOB_KEYS = Object.keys(jobEntry.shape);

export const TOP_LEVEL_KEYS = ['global', 'config', 'schedules', 'jobs'];
