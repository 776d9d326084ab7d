import type { Writable } from 'node:stream';
import type { Chunk } from './chunk-pipeline.js';
import type { ImageFile } from './image-file.js';
import { isZero, ZERO_BLOCK } from './zero.js';

/**
 * Where a restore writes the chunks of a revision, in order. Sinks for a
 * file leave holes where the revision reads as zeros; a device gets every
 * byte; a stream (`restore -`) too, with backpressure.
 */
export type ChunkSink = (chunk: Chunk) => Promise<void>;

/** Zero runs at least this long become holes in a restored file. */
const HOLE_PIECE = 1024 * 1024;

/** Into a new, empty regular file: data where there is any, holes elsewhere. The caller sets the final size. */
export function sparseFileSink(output: ImageFile): ChunkSink {
  return async ({ offset, data }) => {
    if (!data) return;
    let runStart = -1;
    const flush = async (end: number) => {
      if (runStart >= 0) await output.write(data.subarray(runStart, end), offset + runStart);
      runStart = -1;
    };
    for (let at = 0; at < data.length; at += HOLE_PIECE) {
      const end = Math.min(data.length, at + HOLE_PIECE);
      if (isZero(data.subarray(at, end))) await flush(at);
      else if (runStart < 0) runStart = at;
    }
    await flush(data.length);
  };
}

/** Onto a block device, in place: zeros are written too, the device keeps its size. */
export function deviceSink(output: ImageFile): ChunkSink {
  return async ({ offset, length, data }) => {
    if (data) {
      await output.write(data, offset);
      return;
    }
    for (let at = 0; at < length; at += ZERO_BLOCK.length) {
      await output.write(ZERO_BLOCK.subarray(0, Math.min(ZERO_BLOCK.length, length - at)), offset + at);
    }
  };
}

/** Into a pipe or socket (`restore -`), honouring backpressure. */
export function streamSink(output: Writable): ChunkSink {
  const send = (bytes: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      output.once('error', onError);
      output.write(bytes, (err) => {
        output.off('error', onError);
        if (err) reject(err);
        else resolve();
      });
    });
  return async ({ length, data }) => {
    // The chunk's buffer is reused once this returns: the stream gets a copy.
    if (data) return send(Buffer.from(data));
    for (let at = 0; at < length; at += ZERO_BLOCK.length) await send(Buffer.alloc(Math.min(ZERO_BLOCK.length, length - at)));
  };
}
