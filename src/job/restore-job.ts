import { constants } from 'node:fs';
import { chmod, copyFile, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { blockDeviceSize } from '../util/block-device.js';
import type { Logger } from '../util/logger.js';
import type { ProgressListener } from '../sources/source.js';
import { ImageFile } from '../store/direct-io.js';
import { copyToDevice, copyToSparseFile, copyToStream, type CopyOptions } from '../store/image-copy.js';
import { CONFIG_FILE, JobDirectory, LOCK_FILE } from './job-directory.js';
import { resolveRevisionSpec } from './revision-spec.js';
import type { Revision } from './revision.js';

/** Images are read-only in the job; a restored copy is the operator's to change. */
const RESTORED_MODE = 0o640;

export interface RestoreOptions {
  spec?: string;
  /** A path, or `-` for `stdout`. */
  target: string;
  stdout: Writable;
  logger: Logger;
  signal: AbortSignal;
  onProgress: ProgressListener;
}

/** Finds the revision a spec names and the path of its image. */
export async function findRevision(path: string, spec: string | undefined, logger?: Logger): Promise<{ revision: Revision; image: string }> {
  const job = new JobDirectory(path);
  await job.ensureJob();
  const revision = resolveRevisionSpec(spec, await job.revisions(logger));
  return { revision, image: job.imagePath(revision.uuid) };
}

/**
 * `backy restore`: copies a revision's image to a file (sparse, replacing
 * it), onto a block device (in place, without truncating), or to stdout.
 */
export async function restoreJob(path: string, options: RestoreOptions): Promise<Revision> {
  const { revision, image } = await findRevision(path, options.spec, options.logger);
  const progress = (done: number, total: number) => options.onProgress('restore', done, total);
  let input;
  try {
    input = await open(image, 'r');
  } catch (err) {
    throw describeIoError(err, `cannot read image of revision ${revision.uuid}`);
  }
  try {
    const size = (await input.stat()).size;
    if (options.target === '-') {
      options.logger.info(`restoring revision ${revision.uuid} to standard output`);
      await restoreToStream(input, size, options.stdout, { signal: options.signal, onProgress: progress });
      return revision;
    }
    const target = resolve(options.target);
    await refuseJobDirectoryTarget(target, new JobDirectory(path));
    const existing = await stat(target).catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') return null;
      throw describeIoError(err, `cannot restore to ${target}`);
    });
    options.logger.info(`restoring revision ${revision.uuid} to ${target}`);
    if (existing?.isBlockDevice()) {
      // Checked first: a device that is too small would be half overwritten.
      const deviceSize = await blockDeviceSize(existing);
      if (deviceSize < size) {
        throw new BackyError(
          `cannot restore to ${target}: the device has ${deviceSize} bytes, revision ${revision.uuid} needs ${size}`,
        );
      }
      const output = await openTarget(target, 'r+');
      try {
        await copyToDevice(input, size, output, { signal: options.signal, onProgress: progress });
        await output.handle.sync();
      } catch (err) {
        throw describeIoError(err, `restore to ${target} failed`);
      } finally {
        await output.close();
      }
      return revision;
    }
    if (existing && !existing.isFile()) throw new BackyError(`cannot restore to ${target}: not a regular file or block device`);
    if (!existing && (await tryReflink(image, target))) {
      progress(size, size);
      return revision;
    }
    const output = await openTarget(target, 'w');
    try {
      // No fsync, like cp: a restore can be repeated. Direct writes are on
      // the disk when they return anyway; where the filesystem has no direct
      // I/O the page cache is coherent for whoever reads the file next.
      await copyToSparseFile(input, size, output, { signal: options.signal, onProgress: progress });
    } catch (err) {
      throw describeIoError(err, `restore to ${target} failed`);
    } finally {
      await output.close();
    }
    return revision;
  } finally {
    await input.close();
  }
}

/** A reader that goes away (`backy restore - | head`) ends the restore with one line. */
async function restoreToStream(input: FileHandle, size: number, output: Writable, options: CopyOptions): Promise<void> {
  try {
    await copyToStream(input, size, output, options);
  } catch (err) {
    if (errorCode(err) === 'EPIPE') throw new BackyError('restore to standard output stopped: the reading end of the pipe was closed');
    throw describeIoError(err, 'restore to standard output failed');
  }
}

/** The target, written past the page cache where its filesystem allows: a restore is read by a VM, not by us. */
async function openTarget(target: string, flags: string): Promise<ImageFile> {
  try {
    return await ImageFile.open(await open(target, flags, RESTORED_MODE), target, 'r+');
  } catch (err) {
    throw describeIoError(err, `cannot restore to ${target}`);
  }
}

/** On the same reflink-capable filesystem a restore is a clone: instant, no space. */
async function tryReflink(image: string, target: string): Promise<boolean> {
  try {
    await copyFile(image, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    await chmod(target, RESTORED_MODE);
    return true;
  } catch {
    return false;
  }
}

/** A restore must never write into a job directory: it could overwrite a revision. */
async function refuseJobDirectoryTarget(target: string, job: JobDirectory): Promise<void> {
  let directory = dirname(target);
  try {
    directory = await realpath(directory);
  } catch (err) {
    throw describeIoError(err, `cannot restore to ${target}`);
  }
  const jobPath = await realpath(job.path).catch(() => job.path);
  const insideThisJob = directory === jobPath || directory.startsWith(jobPath + sep);
  const looksLikeJob =
    existsSync(join(directory, CONFIG_FILE)) &&
    (existsSync(join(directory, LOCK_FILE)) || existsSync(join(directory, 'last.rev')));
  if (insideThisJob || looksLikeJob) {
    throw new BackyError(
      `refusing to restore into the job directory ${insideThisJob ? jobPath : directory}: ` +
        `choose a target outside it (e.g. /tmp/${basename(target)})`,
    );
  }
}
