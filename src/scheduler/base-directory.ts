import { realpath, stat } from 'node:fs/promises';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { systemDirectoryProblem } from './config-schema.js';

/**
 * The base directory must exist (the scheduler never creates it: it
 * belongs on a copy-on-write filesystem the operator chose) and must not
 * lead into the system through a symbolic link; the configured path itself
 * was checked with the configuration.
 */
export async function requireDirectory(path: string): Promise<void> {
  let isDirectory: boolean;
  let real: string;
  try {
    isDirectory = (await stat(path)).isDirectory();
    real = await realpath(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      throw new BackyError(`base-dir ${path} does not exist; create it (on a copy-on-write filesystem) before starting the scheduler`);
    }
    throw describeIoError(err, `base-dir ${path}`);
  }
  if (!isDirectory) throw new BackyError(`base-dir ${path} is not a directory`);
  const problem = real === path ? null : systemDirectoryProblem(real);
  if (problem) throw new BackyError(`base-dir ${path} leads to ${real}: ${problem}`);
}
