import { readdir, stat } from 'node:fs/promises';
import { CONFIG_FILE, JobDirectory, LOCK_FILE, LOG_FILE } from '../job/job-directory.js';
import { isRevisionId } from '../store/revision-id.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';

/** Files backy itself keeps in a job directory besides `config` and the revisions. */
const BACKY_FILES = new Set([LOCK_FILE, LOG_FILE, '.first-seen', 'last', 'last.rev']);

/**
 * A directory under a job's name that the scheduler will not take over:
 * the job is skipped (the others run) until it is moved away.
 */
export class ForeignDirectoryError extends BackyError {}

/**
 * Whether the scheduler may use `path` as the job directory of `job`: it is
 * missing, empty, holds only backy's own files, or is a job directory
 * already (a `config` naming a source type, or revision files). Anything
 * else is someone's data, which the scheduler must not write a config into,
 * let alone clean up as incomplete revisions: a ForeignDirectoryError, and
 * nothing in it is touched. Returns whether the directory exists.
 */
export async function checkAdoptable(job: string, path: string): Promise<boolean> {
  let names: string[];
  try {
    if (!(await stat(path)).isDirectory()) throw new ForeignDirectoryError(`job ${job}: ${path} is in the way and not a directory; move it away or rename the job`);
    names = await readdir(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw describeIoError(err, `job ${job}: cannot read ${path}`);
  }
  if (names.some(isRevisionFile)) return true;
  if (names.includes(CONFIG_FILE) && (await namesASource(new JobDirectory(path)))) return true;
  const foreign = names.filter((name) => !BACKY_FILES.has(name) && !(name.startsWith('.') && name.endsWith('.tmp')));
  if (foreign.length === 0) return true;
  const shown = foreign.sort().slice(0, 3).map((name) => JSON.stringify(name)).join(', ');
  const more = foreign.length > 3 ? ` and ${foreign.length - 3} more` : '';
  throw new ForeignDirectoryError(
    `job ${job}: ${path} is not a job directory (it holds ${shown}${more}, but no config naming a source and no revisions); ` +
      'nothing in it was touched: move it away or rename the job',
  );
}

function isRevisionFile(name: string): boolean {
  return isRevisionId(name.endsWith('.rev') ? name.slice(0, -'.rev'.length) : name);
}

async function namesASource(directory: JobDirectory): Promise<boolean> {
  try {
    return typeof (await directory.readConfig()).source.type === 'string';
  } catch {
    return false;
  }
}
