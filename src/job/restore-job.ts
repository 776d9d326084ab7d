import { constants, type Stats } from 'node:fs';
import { chmod, chown, copyFile, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { blockDeviceSize } from '../util/block-device.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { ProgressListener } from '../sources/source.js';
import { PIPELINE_CHUNK, pipeChunks, type Chunk, type ChunkSource } from '../io/chunk-pipeline.js';
import { ImageFile } from '../io/image-file.js';
import { deviceSink, sparseFileSink, streamSink, type ChunkSink } from '../io/image-copy.js';
import { dataRanges } from '../io/native-io.js';
import { readFully } from '../io/read-fully.js';
import { DamageError, hashCheck } from '../integrity/hash-check.js';
import { distrustRevision } from './damage.js';
import { RootProof } from '../integrity/root-proof.js';
import type { RevisionReader } from '../store/store.js';
import { openRevision, selectRevision, type SelectedRevision } from './revision-data.js';
import { imageFile } from './find-job.js';
import { resolveRestoreTarget } from './restore-target.js';
import { lockTemporary, removeStaleTemporaries, temporaryPath } from './restore-temporary.js';
import type { Revision } from './revision.js';

/** Images are read-only in the job; a restored copy is the operator's to change. */
const RESTORED_MODE = 0o640;

export interface RestoreOptions {
  spec?: string;
  /** A path, or `-` for `stdout`. */
  target: string;
  /** Write damaged blocks as they are, warning about each (exit status 1 all the same). */
  force?: boolean;
  stdout: Writable;
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  onProgress: ProgressListener;
}

/**
 * `backy restore`: copies a revision to a file, onto a block device (in
 * place, without truncating) or to stdout, proving every block against
 * the revision's recorded hashes on the way. A file is written beside the
 * target and renamed over it only when complete, so a failed restore
 * leaves what was there before.
 */
export async function restoreJob(path: string, options: RestoreOptions): Promise<Revision> {
  const selected = await selectRevision(path, options.spec, options.logger, options.clock.now());
  const { revision } = selected;
  const data = await openRevision(selected, options.logger, 'proving its bytes against the root hash in its .rev instead');
  try {
    const damage = new DamageTally(revision, options);
    // A store whose reads prove themselves need not have every block hashed twice.
    const check = data.record && !data.reader.provesReads ? hashCheck(data.record, options.force ? (offset) => damage.found(offset) : undefined) : undefined;
    const proof = !data.record && revision.hashes && PIPELINE_CHUNK % revision.hashes.blockSize === 0 ? new RootProof(revision.hashes, data.reader.size) : undefined;
    // Hashes recorded but nothing to check them with: exit 0 would vouch for bytes nobody proved.
    const unchecked = revision.hashes !== null && !data.record && !proof;
    if (unchecked && !options.force) {
      throw new BackyError(`revision ${revision.uuid} cannot be checked (neither its hash record nor the root hash in its .rev can be used); nothing was restored (--force writes it unchecked)`);
    }
    const restore = new Restore(selected, data.reader, check, proof, options);
    try {
      await restore.run();
    } catch (err) {
      if (err instanceof DamageError) {
        await distrustRevision(selected.job, revision.uuid, err.message, options.logger);
        throw new BackyError(`revision ${revision.uuid} is damaged: ${err.message}; nothing was restored to ${options.target === '-' ? 'standard output past that block' : options.target} (--force writes it anyway)`);
      }
      throw err;
    }
    if (damage.first >= 0) await distrustRevision(selected.job, revision.uuid, `block at offset ${damage.first} does not match its recorded hash`, options.logger);
    damage.finish(options.target);
    if (restore.forcedFailure) throw restore.forcedFailure;
    if (unchecked) throw new BackyError(`revision ${revision.uuid} was restored to ${options.target} unchecked (--force): nothing proved its bytes`);
    return revision;
  } finally {
    await data.close();
  }
}

/** Damage found under `--force`: one warning per block, a failure at the end. */
class DamageTally {
  private count = 0;
  /** The lowest damaged offset, -1 while there is none. */
  first = -1;

  constructor(
    private readonly revision: Revision,
    private readonly options: RestoreOptions,
  ) {}

  /** Chunks are checked ahead, several at a time: the first is the lowest offset, not the first reported. */
  found(offset: number): void {
    if (this.count++ === 0 || offset < this.first) this.first = offset;
    this.options.logger.warn(`revision ${this.revision.uuid}: block at offset ${offset} does not match its recorded hash; written as it is (--force)`);
  }

  finish(target: string): void {
    if (this.count === 0) return;
    throw new BackyError(
      `revision ${this.revision.uuid} is damaged: ${this.count === 1 ? '1 block did not match its recorded hash' : `${this.count} blocks did not match their recorded hashes`} ` +
        `(the first at offset ${this.first}); restored to ${target} anyway (--force)`,
    );
  }
}

class Restore {
  constructor(
    private readonly selected: SelectedRevision,
    private readonly reader: RevisionReader,
    private readonly check: ((chunk: Chunk) => Promise<void>) | undefined,
    private readonly proof: RootProof | undefined,
    private readonly options: RestoreOptions,
  ) {}

  /** What --force wrote all the same: the restore's exit status is still 1. */
  forcedFailure: BackyError | null = null;

  private get id(): string {
    return this.selected.revision.uuid;
  }

  /**
   * Streams the revision through the check (or the root proof) into
   * `write`. `into` is a file not yet renamed into place (a root that does
   * not prove then leaves nothing, unless --force), or a device or stream
   * the bytes already went to.
   */
  private async pipe(source: ChunkSource, write: ChunkSink | undefined, into: { file: string } | { written: string }): Promise<void> {
    const proof = this.proof;
    await pipeChunks(
      source,
      proof
        ? {
            check: proof.check,
            write: async (chunk) => {
              proof.take(chunk);
              await write?.(chunk);
            },
          }
        : { check: this.check, write },
      { signal: this.options.signal, onProgress: (done, total) => this.options.onProgress('restore', done, total) },
    );
    if (!proof || proof.proves()) return;
    const what = `revision ${this.id} does not match the root hash in its .rev: its data is damaged or not this revision's`;
    if ('written' in into) throw new BackyError(`${what}; what was written to ${into.written} is not to be trusted`);
    if (!this.options.force) throw new BackyError(`${what}; nothing was restored to ${into.file} (--force writes it anyway)`);
    // Under --force the file takes its place; the restore fails only at the end.
    this.forcedFailure = new BackyError(`${what}; restored to ${into.file} anyway (--force)`);
  }

  async run(): Promise<void> {
    const { options } = this;
    if (options.target === '-') {
      options.logger.info(`restoring revision ${this.id} to standard output`);
      try {
        await this.pipe(this.reader, streamSink(options.stdout), { written: 'standard output' });
      } catch (err) {
        if (err instanceof BackyError) throw err;
        if (errorCode(err) === 'EPIPE') throw new BackyError('restore to standard output stopped: the reading end of the pipe was closed');
        throw describeIoError(err, 'restore to standard output failed');
      }
      return;
    }
    const target = await resolveRestoreTarget(options.target, this.selected.job.path);
    const existing = await stat(target).catch((err: unknown) => {
      if (errorCode(err) === 'ENOENT') return null;
      throw describeIoError(err, `cannot restore to ${target}`);
    });
    options.logger.info(`restoring revision ${this.id} to ${target}`);
    if (existing?.isBlockDevice()) return this.toDevice(target, await blockDeviceSize(existing));
    if (existing && !existing.isFile()) throw new BackyError(`cannot restore to ${target}: not a regular file or block device`);
    return this.toFile(target, existing);
  }

  /** In place: a device cannot be replaced. Checked first: a device that is too small would be half overwritten. */
  private async toDevice(target: string, deviceSize: number): Promise<void> {
    const size = this.reader.size;
    if (deviceSize < size) {
      throw new BackyError(`cannot restore to ${target}: the device has ${deviceSize} bytes, revision ${this.id} needs ${size}`);
    }
    const output = await openDevice(target);
    // Chunks are written in order: everything below `written` is the revision's, and the old contents are gone.
    let written = 0;
    const sink = deviceSink(output);
    try {
      await this.pipe(
        this.reader,
        async (chunk) => {
          await sink(chunk);
          written = chunk.offset + chunk.length;
        },
        { written: target },
      );
      await output.handle.sync();
    } catch (err) {
      if (err instanceof DamageError) {
        const state = written === 0 ? `nothing was written to ${target}` : `${target} was overwritten up to offset ${written} and cannot be trusted`;
        throw new BackyError(`revision ${this.id} is damaged: ${err.message}; ${state} (--force writes it anyway)`);
      }
      if (err instanceof BackyError) throw err;
      throw describeIoError(err, `restore to ${target} failed`);
    } finally {
      await output.close();
    }
  }

  private async toFile(target: string, existing: Stats | null): Promise<void> {
    await removeStaleTemporaries(target, this.options.logger);
    // Only a restore to the same target starting in the moment between another's creating and locking its file takes that file: a new name then.
    for (let attempt = 1; ; attempt++) {
      const temporary = temporaryPath(target);
      let lock: FileHandle | null = null;
      try {
        lock = await this.written(temporary, target);
        if (!lock) {
          if (attempt < 3) continue;
          throw new BackyError(`restore to ${target} failed: its temporary file was removed as it was made, three times`);
        }
        await chmod(temporary, existing ? existing.mode & 0o7777 : RESTORED_MODE);
        if (existing) await chown(temporary, existing.uid, existing.gid).catch(() => undefined);
        await rename(temporary, target);
        return;
      } catch (err) {
        if (lock) await unlink(temporary).catch(() => undefined);
        if (err instanceof DamageError || err instanceof BackyError) throw err;
        throw describeIoError(err, `restore to ${target} failed`);
      } finally {
        await lock?.close();
      }
    }
  }

  /** Writes the revision into `temporary`, locked from its first byte on (see restore-temporary.ts); null when it was taken from us. */
  private async written(temporary: string, target: string): Promise<FileHandle | null> {
    const clone = await this.clone(temporary);
    const output = clone ? null : await openOutput(temporary, 'wx');
    let lock: FileHandle | null = null;
    try {
      lock = await lockTemporary(temporary);
      if (!lock) return null;
      if (clone) await this.proveClone(temporary, target);
      else {
        // No fsync, like cp: a restore can be repeated. Direct writes are
        // on the disk when they return anyway.
        await this.pipe(this.reader, sparseFileSink(output!), { file: target });
        await output!.handle.truncate(this.reader.size);
      }
      return lock;
    } catch (err) {
      // Ours to remove once locked (and while locked); a file we lost the race for is another restore's or gone.
      if (lock) await unlink(temporary).catch(() => undefined);
      await lock?.close();
      throw err;
    } finally {
      await output?.close();
    }
  }

  /**
   * On the same reflink-capable filesystem a restore is a clone: no space,
   * no copy.
   */
  private async clone(temporary: string): Promise<boolean> {
    const image = await imageFile(this.selected.store, this.id);
    if (!image) return false;
    try {
      await copyFile(image, temporary, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    } catch {
      return false;
    }
    // The clone has the revision's read-only mode: its lock needs it open for writing (and root alone may do that anyway).
    await chmod(temporary, 0o600);
    return true;
  }

  /** A clone is read back all the same, to prove it against the hashes. */
  private async proveClone(temporary: string, target: string): Promise<void> {
    if (this.check || this.proof) {
      const handle = await open(temporary, 'r');
      try {
        const size = (await handle.stat()).size;
        await this.pipe(fileChunkSource(handle, size), undefined, { file: target });
      } finally {
        await handle.close();
      }
    }
    this.options.onProgress('restore', this.reader.size, this.reader.size);
  }
}

/** A plain file as a chunk source (for a clone being proven). */
function fileChunkSource(handle: FileHandle, size: number): ChunkSource {
  return {
    size,
    read: (buffer, length, position) => readFully(handle, buffer, length, position),
    dataRanges: async (start, end) => dataRanges(handle.fd, start, end)?.ranges ?? [[start, Math.min(end, size)]],
  };
}

/**
 * A device opened exclusively (O_EXCL on a block device): the kernel
 * refuses one that is mounted or held by another exclusive user, which a
 * restore would overwrite under its feet.
 */
async function openDevice(target: string): Promise<ImageFile> {
  try {
    return await ImageFile.open(await open(target, constants.O_RDWR | constants.O_EXCL), target, 'r+');
  } catch (err) {
    if (errorCode(err) === 'EBUSY') throw new BackyError(`cannot restore to ${target}: the device is in use (mounted, or held by another program); nothing was written`);
    throw describeIoError(err, `cannot restore to ${target}`);
  }
}

/** The target, written past the page cache where its filesystem allows: a restore is read by a VM, not by us. */
async function openOutput(target: string, flags: string): Promise<ImageFile> {
  try {
    return await ImageFile.open(await open(target, flags, RESTORED_MODE), target, 'r+');
  } catch (err) {
    throw describeIoError(err, `cannot restore to ${target}`);
  }
}
