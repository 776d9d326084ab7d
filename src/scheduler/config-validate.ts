import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import type { z } from 'zod';
import { parseTags } from '../job/tags.js';
import type { TagRule } from '../schedule/schedule.js';
import { findSourceType, validateSourceConfig } from '../sources/registry.js';
import { DEFAULTS, GLOBAL_KEYS, JOB_KEYS, TAG_RULE_KEYS, TOP_LEVEL_KEYS, globalSection, jobEntry, tagRule } from './config-schema.js';
import type { JobConfig, SchedulerConfig } from './config.js';
import { closestMatch, quotedWithHint } from './suggest.js';

/**
 * Validates a parsed configuration file. Pure: returns every problem at once
 * (each line names the file, the section, job or schedule, and the key) and
 * warnings for what is legal but probably unintended; the caller does the I/O.
 */
export interface ConfigValidation {
  config?: SchedulerConfig;
  errors: string[];
  warnings: string[];
}

/** Job names become directory names: no `..`, no `/`, no leading dot, no blanks. */
const JOB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/;

export function validateConfig(raw: unknown, file: string): ConfigValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  const fail = (where: string, message: string) => errors.push(`${file}: ${where}${message}`);

  if (raw === null || raw === undefined) {
    fail('', 'the file is empty; expected the sections "global", "schedules" and "jobs"');
    return { errors, warnings };
  }
  if (!isMapping(raw)) {
    fail('', 'expected a mapping with the sections "global", "schedules" and "jobs"');
    return { errors, warnings };
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.includes(key)) fail('', `unknown section ${quotedWithHint(key, TOP_LEVEL_KEYS)}; expected global (or config), schedules, jobs`);
  }
  if (raw.global !== undefined && raw.config !== undefined) {
    fail('', 'both "global" and "config" hold the global options; use one of them');
  }
  const globalName = raw.global !== undefined ? 'global' : 'config';
  const global = sectionOf(raw[globalName], `${globalName}: `, fail, globalSection, GLOBAL_KEYS);

  const schedules = new Map<string, TagRule[]>();
  for (const [name, value] of entries(raw.schedules, 'schedules: ', 'schedule names', fail)) {
    const where = `schedule "${name}": `;
    const tags = entries(value, where, 'tags (e.g. daily) with interval and keep', fail);
    if (tags.length === 0 && isMapping(value)) fail(where, 'defines no tags; expected e.g. daily: {interval: 1d, keep: 7}');
    const rules: TagRule[] = [];
    for (const [tag, rule] of tags) {
      const tagWhere = `${where}${tag}: `;
      const problem = tagKeyProblem(tag);
      if (problem) fail(tagWhere, `not a valid tag name: ${problem}`);
      const parsed = sectionOf(rule, tagWhere, fail, tagRule, TAG_RULE_KEYS);
      if (parsed) rules.push({ tag, intervalSeconds: parsed.interval, keep: parsed.keep });
    }
    schedules.set(name, rules);
  }

  const baseDir = global?.['base-dir'] ?? DEFAULTS.baseDir;
  const statusFile = normalize(global?.['status-file'] ?? join(baseDir, DEFAULTS.statusFileName));
  const statusProblem = statusFileProblem(statusFile, baseDir);
  if (statusProblem) fail(`${globalName}: `, `status-file: ${statusProblem}`);
  const jobs = new Map<string, JobConfig>();
  const used = new Set<string>();
  for (const [name, value] of entries(raw.jobs, 'jobs: ', 'job names', fail)) {
    const where = `job "${name}": `;
    if (!JOB_NAME.test(name) || name.length > 200) {
      fail(where, 'not a safe directory name; use letters, digits, "_", "-", ".", "+", "@", not starting with "."');
    } else if (join(baseDir, name) === statusFile) {
      fail(where, `its job directory would be the status file ${statusFile}; rename the job or set status-file`);
    }
    const entry = sectionOf(value, where, fail, jobEntry, JOB_KEYS);
    if (!entry) continue;
    const schedule = schedules.get(entry.schedule);
    if (schedule) used.add(entry.schedule);
    else fail(where, `schedule: ${undefinedSchedule(entry.schedule, schedules)}`);
    const source = validateSource(entry.source);
    for (const problem of source.problems) fail(where, `source${problem.startsWith('expected') ? ': ' : '.'}${problem}`);
    const relative = source.config ? relativeFileName(source.config) : null;
    if (relative !== null) {
      fail(where, `source.filename: ${JSON.stringify(relative)} is relative; the scheduler runs backups elsewhere: give the absolute path`);
    }
    if (schedule && source.config) {
      const store = entry.store ?? global?.store;
      jobs.set(name, { name, scheduleName: entry.schedule, schedule, source: source.config, ...(store ? { store } : {}) });
    }
  }

  for (const name of schedules.keys()) {
    if (!used.has(name)) warnings.push(`${file}: schedule "${name}" is not used by any job`);
  }
  if (isEmpty(raw.jobs)) warnings.push(`${file}: no jobs are defined; the scheduler has nothing to do`);
  if (errors.length > 0 || global === undefined) return { errors, warnings };
  return {
    config: {
      baseDir,
      workerLimit: global['worker-limit'] ?? DEFAULTS.workerLimit,
      statusFile,
      statusIntervalSeconds: global['status-interval'] ?? DEFAULTS.statusIntervalSeconds,
      telnetAddresses: global['telnet-addrs'] ?? [...DEFAULTS.telnetAddresses],
      telnetPort: global['telnet-port'] ?? DEFAULTS.telnetPort,
      telnetMaxSessions: global['telnet-max-sessions'] ?? DEFAULTS.telnetMaxSessions,
      telnetIdleTimeoutSeconds: global['telnet-idle-timeout'] ?? DEFAULTS.telnetIdleTimeoutSeconds,
      httpAddresses: global['http-addrs'] ?? [...DEFAULTS.httpAddresses],
      httpPort: global['http-port'] ?? DEFAULTS.httpPort,
      apiTokensFile: global['api-tokens'] ?? null,
      completionHook: global['backup-completed-callback']
        ? { program: global['backup-completed-callback'], timeoutSeconds: global['callback-timeout'] ?? DEFAULTS.callbackTimeoutSeconds }
        : null,
      scrubIntervalSeconds: global['scrub-interval'] === undefined ? DEFAULTS.scrubIntervalSeconds : global['scrub-interval'],
      schedules,
      jobs,
    },
    errors,
    warnings,
  };
}

type Fail = (where: string, message: string) => void;

/**
 * Why the status file must not be at `path`, or null. It is replaced by a
 * rename on every write: in a job directory it would replace a revision or
 * the job's config, as the base directory's lock file it would let a second
 * scheduler lock the new file, and the base directory's other dotfiles
 * (the chunk pool) are backy's own as well.
 */
function statusFileProblem(path: string, baseDir: string): string | null {
  const inBase = relative(normalize(baseDir), path);
  if (inBase === '..' || inBase.startsWith(`..${sep}`) || isAbsolute(inBase)) return null;
  if (inBase === '') return `${path} is the base directory; name a file (e.g. ${join(baseDir, DEFAULTS.statusFileName)})`;
  if (inBase.includes(sep)) return `${path} is inside a directory of base-dir ${baseDir}, where job directories live; put it in base-dir itself or elsewhere`;
  if (inBase.startsWith('.')) return `${path} is one of base-dir's own files (names starting with "."); use another name (e.g. ${join(baseDir, DEFAULTS.statusFileName)})`;
  return null;
}

/**
 * Why a schedule's key is not exactly one tag, or null. Backups store their
 * tags split at commas and trimmed, so a key such as "daily,weekly" or
 * " daily" would never be found on a revision: the job would catch up
 * forever, one backup after another.
 */
function tagKeyProblem(key: string): string | null {
  let tags: string[];
  try {
    tags = parseTags(key);
  } catch (err) {
    return (err as Error).message;
  }
  if (tags.length === 1 && tags[0] === key) return null;
  return `${JSON.stringify(key)} is not one tag (a schedule names each tag on its own, without blanks or commas)`;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (isMapping(value) && Object.keys(value).length === 0);
}

/** The sub-keys of a section; an absent or empty section has none. */
function entries(value: unknown, where: string, what: string, fail: Fail): [string, unknown][] {
  if (value === undefined || value === null) return [];
  if (!isMapping(value)) {
    fail(where, `expected a mapping of ${what}`);
    return [];
  }
  return Object.entries(value);
}

/** Parses one section against its schema; absent means all defaults. */
function sectionOf<T extends z.ZodType>(value: unknown, where: string, fail: Fail, schema: T, keys: string[]): z.output<T> | undefined {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fail(where, `unknown key ${quotedWithHint(key, keys)}; expected ${keys.join(', ')}`);
    } else if (issue.path.length === 0 && issue.code === 'invalid_type') {
      fail(where, `expected a mapping with ${keys.join(', ')}`);
    } else {
      fail(where, `${issue.path.map(String).join('.')}: ${issue.message}`);
    }
  }
  return undefined;
}

function undefinedSchedule(name: string, schedules: ReadonlyMap<string, TagRule[]>): string {
  const names = [...schedules.keys()];
  if (names.length === 0) return `"${name}" is not defined: there are no schedules; define it under "schedules"`;
  const hints: string[] = [];
  const close = closestMatch(name, names);
  if (close) hints.push(`did you mean "${close}"?`);
  for (const [scheduleName, rules] of schedules) {
    if (rules.some((rule) => rule.tag === name)) hints.push(`"${name}" is a tag of schedule "${scheduleName}"`);
  }
  const defined = `defined schedules: ${names.join(', ')}`;
  return `"${name}" is not a defined schedule (${[defined, ...hints].join('; ')})`;
}

/**
 * The source registry's verdict. When only the type is misspelt (the
 * manual's `type: flyingcircus,`), the other parameters are checked against
 * the type that was meant as well, so one pass reports every mistake.
 */
function validateSource(raw: unknown): ReturnType<typeof validateSourceConfig> {
  const result = validateSourceConfig(raw);
  if (result.config) return result;
  if (!isMapping(raw) || typeof raw.type !== 'string') return { problems: firstPerKey(result.problems) };
  const meant = raw.type.replace(/[,;\s]+$/, '');
  if (meant === raw.type) return result;
  try {
    findSourceType(meant);
  } catch {
    return { problems: firstPerKey(result.problems) };
  }
  const rest = validateSourceConfig({ ...raw, type: meant }).problems;
  return { problems: firstPerKey([...result.problems, ...rest]) };
}

/**
 * A source file named relative to nothing in particular: the scheduler's
 * working directory is not the configuration file's, and guessing either
 * could back up the wrong file. Every source parameter called `filename`
 * is a path on this host.
 */
function relativeFileName(source: Record<string, unknown>): string | null {
  const name = source.filename;
  return typeof name === 'string' && !isAbsolute(name) ? name : null;
}

/** One problem per key: a value with a trailing comma need not also be "not a valid name". */
function firstPerKey(problems: string[]): string[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = problem.split(': ')[0]!;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
