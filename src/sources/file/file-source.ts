import { open, type FileHandle } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { isAbsolute } from 'node:path';
import { BackyError, describeIoError } from '../../util/errors.js';
import type { ImageReader, ImageWriter } from '../../io/image.js';
import { compareImages } from '../../io/compare.js';
import { fileReader, readFully } from '../../io/read-fully.js';
import { throwIfAborted } from '../../util/abort.js';
import { handled } from '../../util/promises.js';
import { blockDeviceSize } from '../../util/block-device.js';
import type { BackupContext, Source, SourceBackup, VerificationResult } from '../source.js';
import { alignedBuffer } from '../../io/native-io.js';
import { CHECKSUM_CHUNK } from '../../io/chunk-checksums.js';

/** Writes of whole checksum chunks let verification compare checksums. */
const CHUNK = CHECKSUM_CHUNK;

/**
 * A regular file or block device read in place. There is no snapshot: the
 * file should not change during the backup, and verification reads all of
 * it again afterwards and compares it with the image (or with checksums of
 * what was written to it) to prove that it did not.
 */
export class FileSource implements Source {
  constructor(
    readonly filename: string,
    private readonly options: { verify: 'checksum' | 'full' } = { verify: 'checksum' },
  ) {}

  describe(): string {
    return `file ${this.filename}`;
  }

  async begin(context: BackupContext): Promise<SourceBackup> {
    let handle: FileHandle;
    let info: Stats;
    // Relative to wherever backy runs, a backup by hand and one by the scheduler would read different files.
    if (!isAbsolute(this.filename)) {
      throw new BackyError(`source file name ${JSON.stringify(this.filename)} in the job's config is relative: give the absolute path`);
    }
    try {
      // Opened first, without blocking, and then looked at: a FIFO put in its place after a stat would block the open for good.
      handle = await open(this.filename, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw describeIoError(err, `cannot read source file ${this.filename}`);
    }
    try {
      info = await handle.stat();
      if (!info.isFile() && !info.isBlockDevice()) {
        throw new BackyError(`source ${this.filename} is neither a regular file nor a block device`);
      }
    } catch (err) {
      await handle.close();
      throw describeIoError(err, `cannot read source file ${this.filename}`);
    }
    const size = info.isBlockDevice() ? await blockDeviceSize(info) : info.size;
    return new FileBackup(this.filename, handle, size, context, this.options.verify);
  }
}

class FileBackup implements SourceBackup {
  constructor(
    private readonly filename: string,
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly context: BackupContext,
    private readonly verifyMode: 'checksum' | 'full',
  ) {}

  async transfer(writer: ImageWriter): Promise<Record<string, unknown>> {
    const { signal, onProgress } = this.context;
    await writer.resize(this.size);
    // Three buffers: while one chunk is compared and written, the previous
    // one's writes may still be on their way to the disk (direct I/O keeps
    // the device busy that way) and the next one is read.
    const buffers = [alignedBuffer(CHUNK), alignedBuffer(CHUNK), alignedBuffer(CHUNK)];
    let next: Promise<Buffer> | null = handled(this.readChunk(buffers[0]!, 0));
    let writing: Promise<void> | null = null;
    try {
      for (let offset = 0, turn = 0; offset < this.size; turn = (turn + 1) % 3) {
        throwIfAborted(signal);
        const data: Buffer = await next!;
        next = null;
        if (data.length === 0) {
          throw new BackyError(`source ${this.filename} shrank during the backup (ended at ${offset} of ${this.size} bytes)`);
        }
        const following = offset + data.length;
        if (following < this.size) next = handled(this.readChunk(buffers[(turn + 1) % 3]!, following));
        const previous = writing;
        writing = handled(writer.write(offset, data));
        // The previous chunk's buffer is read into next, once its writes are done.
        if (previous) await previous;
        offset = following;
        onProgress('backup', offset, this.size);
      }
      await writing;
      writing = null;
    } finally {
      // On failure nothing may still be reading or writing when the files are closed.
      await Promise.allSettled([next, writing]);
    }
    // The loop either read all of it or threw.
    return { bytes_read: this.size };
  }

  async verify(image: ImageReader): Promise<VerificationResult> {
    // The source is read again from the start: a change during the backup shows.
    const now = await this.handle.stat();
    if (now.isFile() && now.size !== this.size) {
      throw new BackyError(`verification failed: ${this.filename} changed its size during the backup (${this.size} -> ${now.size} bytes)`);
    }
    const { difference, bytesRead } = await compareImages(fileReader(this.handle, this.size), image, this.size, {
      signal: this.context.signal,
      onProgress: (done) => this.context.onProgress('verify', done, this.size),
      // Every chunk read back from the disk, checksums or not.
      ...(this.verifyMode === 'full' ? { readBackShare: 1 } : {}),
    });
    if (difference !== null) {
      throw new BackyError(
        `verification failed: the image differs from ${this.filename} at byte ${difference} ` +
          '(the source changed during the backup? freeze it while backing up)',
      );
    }
    if (bytesRead === this.size) return { kind: 'full', bytesVerified: this.size };
    return { kind: 'checksum', bytesVerified: this.size, bytesReadBack: bytesRead };
  }

  async finish(): Promise<void> {
    await this.handle.close();
  }

  private async readChunk(buffer: Buffer, offset: number): Promise<Buffer> {
    return buffer.subarray(0, await readFully(this.handle, buffer, Math.min(buffer.length, this.size - offset), offset));
  }
}
