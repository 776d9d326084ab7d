import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { CONFIG_FILE, JobDirectory, LOCK_FILE } from './job-directory.js';

/** Links followed to find where a target really is: the kernel's own limit. */
const MAX_LINKS = 40;

/**
 * Where a restore to `target` would really write: the path with every
 * symlink followed, a dangling one included (writing through it would
 * create the file it points to). Refused when that lies in a job
 * directory — this one or any other — so that a restore can never
 * overwrite a revision.
 */
export async function resolveRestoreTarget(target: string, jobPath: string): Promise<string> {
  const resolved = await followLinks(resolve(target));
  const job = await realpath(jobPath).catch(() => resolve(jobPath));
  for (let directory = dirname(resolved); ; directory = dirname(directory)) {
    if (directory === job || (await looksLikeJobDirectory(directory))) {
      const where = resolved === resolve(target) ? '' : ` (${target} leads to ${resolved})`;
      throw new BackyError(
        `refusing to restore into the job directory ${directory}${where}: choose a target outside it (e.g. /tmp/${basename(resolved)})`,
      );
    }
    if (dirname(directory) === directory) break;
  }
  return resolved;
}

/** The real path of `path`: an existing file's, or where a missing one (or a dangling link) would be created. */
async function followLinks(path: string): Promise<string> {
  let current = path;
  for (let hop = 0; hop < MAX_LINKS; hop++) {
    const parent = await realpath(dirname(current)).catch((err: unknown) => {
      throw describeIoError(err, `cannot restore to ${path}`);
    });
    current = join(parent, basename(current));
    let info;
    try {
      info = await lstat(current);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return current;
      throw describeIoError(err, `cannot restore to ${path}`);
    }
    if (!info.isSymbolicLink()) return current;
    const link = await readlink(current);
    current = isAbsolute(link) ? link : join(parent, link);
  }
  throw new BackyError(`cannot restore to ${path}: too many levels of symbolic links`);
}

/**
 * A directory holding a job's `config` beside revision files or the job
 * lock, or a `config` naming a source: a job not backed up yet, whose
 * config a restore would overwrite.
 */
async function looksLikeJobDirectory(directory: string): Promise<boolean> {
  try {
    if (!(await stat(join(directory, CONFIG_FILE))).isFile()) return false;
  } catch {
    return false;
  }
  try {
    const names = await readdir(directory);
    if (names.some((name) => name === LOCK_FILE || name === 'last.rev' || name.endsWith('.rev'))) return true;
  } catch {
    return true; // a config we cannot look beside: better refused than overwritten
  }
  try {
    return typeof (await new JobDirectory(directory).readConfig()).source.type === 'string';
  } catch {
    return false;
  }
}
