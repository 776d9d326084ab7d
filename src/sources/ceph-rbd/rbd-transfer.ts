import { BackyError } from '../../util/errors.js';
import { throwIfAborted } from '../../util/abort.js';
import type { ImageWriter } from '../../io/image.js';
import { RangeSet } from '../../io/range-set.js';
import type { ProgressListener } from '../source.js';
import { ByteReader } from './byte-reader.js';
import { consumeRbdStream, type RbdClient } from './rbd-client.js';
import { parseRbdDiff } from './rbd-diff.js';
import { alignedBuffer } from '../../io/native-io.js';
import { handled } from '../../util/promises.js';

export interface TransferContext {
  rbd: RbdClient;
  /** The snapshot being backed up, and its size. */
  snapshot: string;
  size: number;
  writer: ImageWriter;
  signal: AbortSignal;
  onProgress: ProgressListener;
}

export interface TransferResult {
  /** Bytes rbd sent (the diff stream, or the whole image). */
  bytesRead: number;
  /** Ranges written or zeroed, for the verification sample. */
  written: RangeSet;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Applies the changes between the parent's snapshot (whose content the
 * image already holds) and the new one: written data without comparing
 * (zero blocks as holes), zeroed extents as holes, the new size.
 */
export async function transferDifferential(context: TransferContext, fromSnapshot: string): Promise<TransferResult> {
  const { rbd, snapshot, size, writer, signal, onProgress } = context;
  const written = new RangeSet();
  await writer.resize(size);
  const summary = await consumeRbdStream(rbd.exportDiff(fromSnapshot, snapshot, signal), signal, (stdout) =>
    parseRbdDiff(stdout, {
      size: async (streamSize) => {
        if (streamSize !== size) {
          throw new BackyError(`rbd export-diff of ${rbd.spec(snapshot)} reports ${streamSize} bytes, the snapshot has ${size}`);
        }
      },
      data: async (offset, data) => {
        throwIfAborted(signal);
        // Ceph says these bytes changed: comparing them would read the
        // parent image at random (cold pages: seconds per thousand extents).
        await writer.overwrite(offset, data);
        written.add(offset, offset + data.length);
        onProgress('backup', offset + data.length, size);
      },
      zero: async (offset, length) => {
        throwIfAborted(signal);
        await writer.zero(offset, length);
        written.add(offset, offset + length);
      },
    }),
  );
  if (summary.fromSnapshot !== fromSnapshot || summary.toSnapshot !== snapshot) {
    throw new BackyError(
      `rbd export-diff sent the changes from ${summary.fromSnapshot ?? 'the start'} to ${summary.toSnapshot ?? 'the image'}, ` +
        `not from ${fromSnapshot} to ${snapshot}`,
    );
  }
  onProgress('backup', size, size);
  return { bytesRead: summary.streamBytes, written };
}

/**
 * Streams the whole snapshot through the delta writer, which keeps blocks
 * that equal the parent's shared. The next chunk is read from rbd while
 * the writer compares the current one.
 */
export async function transferFull(context: TransferContext): Promise<TransferResult> {
  const { rbd, snapshot, size, writer, signal, onProgress } = context;
  await writer.resize(size);
  await consumeRbdStream(rbd.export(snapshot, signal), signal, async (stdout) => {
    const reader = new ByteReader(stdout);
    // Two buffers, reused: fresh 4 MiB buffers per chunk would double the time (GC).
    const buffers = [alignedBuffer(CHUNK), alignedBuffer(CHUNK)];
    const chunkAt = (offset: number, buffer: Buffer) => {
      // If the writer fails first, this read may fail unobserved when rbd is stopped.
      return handled(reader.readInto(buffer, Math.min(CHUNK, size - offset)).then((got) => buffer.subarray(0, got)));
    };
    let next = chunkAt(0, buffers[0]!);
    for (let offset = 0, turn = 0; offset < size; turn ^= 1) {
      throwIfAborted(signal);
      const data = await next;
      if (data.length < Math.min(CHUNK, size - offset)) {
        throw new BackyError(`rbd export of ${rbd.spec(snapshot)} ended at byte ${offset + data.length} of ${size} (cut off?)`);
      }
      const following = offset + data.length;
      if (following < size) next = chunkAt(following, buffers[turn ^ 1]!);
      await writer.write(offset, data);
      offset = following;
      onProgress('backup', offset, size);
    }
    if (!(await reader.atEnd())) throw new BackyError(`rbd export of ${rbd.spec(snapshot)} sent more than the snapshot's ${size} bytes`);
  });
  const written = new RangeSet();
  written.add(0, size);
  return { bytesRead: size, written };
}
