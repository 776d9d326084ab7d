import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../schedule/duration.js';

/**
 * The shapes of the scheduler's configuration file (manual, "Files"), one
 * schema per section so that errors can name the job or schedule they are
 * about. Messages say what was expected, in the manual's words.
 */

const absolutePath = (what: string) =>
  z
    .string({ error: `expected ${what} as an absolute path` })
    .refine((value) => isAbsolute(value), { message: `expected ${what} as an absolute path (e.g. /srv/backy)` });

const positiveInteger = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .min(1, { error: 'expected a positive integer' });

/** `telnet-addrs`: the manual's comma-separated string; a YAML list is accepted too. */
const addressList = z
  .union([z.string(), z.array(z.string())], {
    error: 'expected a comma-separated list of listen addresses (e.g. "127.0.0.1, ::1")',
  })
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((a) => a.trim()).filter((a) => a.length > 0))
  .refine((list) => list.length > 0, { message: 'expected at least one listen address (e.g. "127.0.0.1, ::1")' })
  .refine((list) => list.every((a) => !/\s/.test(a)), { message: 'listen addresses are separated by commas, not blanks' });

/** `store:` globally or per job: how new jobs (and jobs that change store) keep their revisions. */
const storeName = z.enum(['cow', 'chunked'], { error: 'expected cow or chunked' });

export const globalSection = z.strictObject({
  'base-dir': absolutePath('the directory holding the job directories').optional(),
  'worker-limit': positiveInteger.optional(),
  'status-file': absolutePath('the status file').optional(),
  'status-interval': z
    .number({ error: 'expected a number of seconds' })
    .positive({ error: 'expected a positive number of seconds' })
    .optional(),
  'telnet-addrs': addressList.optional(),
  'telnet-port': z
    .number({ error: 'expected a port number' })
    .int({ error: 'expected a port number' })
    .min(1, { error: 'expected a port number from 1 to 65535' })
    .max(65535, { error: 'expected a port number from 1 to 65535' })
    .optional(),
  store: storeName.optional(),
});

export const GLOBAL_KEYS = Object.keys(globalSection.shape);

export const DEFAULTS = {
  baseDir: '/srv/backy',
  workerLimit: 1,
  statusFileName: 'status',
  statusIntervalSeconds: 30,
  telnetAddresses: ['127.0.0.1', '::1'],
  telnetPort: 6023,
} as const;

const DURATION_EXPECTED = 'expected an integer with one of the suffixes s, m, h, d, w (e.g. 1d)';

/** One tag of a schedule: `interval` and `keep`. */
export const tagRule = z.strictObject({
  interval: z.unknown().transform((value, ctx) => {
    const seconds = typeof value === 'string' ? parseDuration(value) : null;
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
