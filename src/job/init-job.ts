import { mkdir } from 'node:fs/promises';
import { BackyError, describeIoError } from '../util/errors.js';
import { findSourceType } from '../sources/registry.js';
import { JobDirectory } from './job-directory.js';

/** `backy init TYPE SOURCE`: creates the job directory and writes its config. */
export async function initJob(path: string, typeName: string, argument: string): Promise<JobDirectory> {
  const type = findSourceType(typeName);
  const config = type.fromInitArgument(argument);
  const job = new JobDirectory(path);
  try {
    await mkdir(job.path, { recursive: true });
  } catch (err) {
    throw describeIoError(err, `cannot create job directory ${job.path}`);
  }
  if (await job.hasConfig()) {
    throw new BackyError(`${job.configPath} already exists; refusing to overwrite the job's configuration`);
  }
  await job.writeConfig(config);
  return job;
}
