import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { throwIfAborted } from '../util/abort.js';
import { readFully } from './compare.js';
import type { ImageFile } from './direct-io.js';
import { alignedBuffer, dataRanges } from './native-io.js';
import { isZero, ZERO_BLOCK } from './zero.js';

const CHUNK = 4 * 1024 * 1024;

export interface CopyOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Streams an image chunk by chunk, in order, into `sink` (a pipe, for
 * `restore -`): the next chunk is read while the current one is written,
 * and memory stays at two chunks whatever the image size.
 */
async function streamChunks(
  input: FileHandle,
  size: number,
  sink: (data: Buffer, offset: number) => Promise<void>,
  options: CopyOptions,
): Promise<void> {
  const buffers = [alignedBuffer(CHUNK), alignedBuffer(CHUNK)];
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

/** What one synchronous read or write moves: small enough to stay in the CPU's cache between the two. */
const PIECE = 1024 * 1024;
/** Direct writes copy nothing through the CPU's cache; larger requests keep the device busy. */
const DIRECT_PIECE = 8 * 1024 * 1024;
/** How much is copied between returns to the event loop (signals, progress). */
const SLICE = 32 * 1024 * 1024;

/**
 * Copies an image into a file or device with synchronous reads and writes,
 * like cp: the double-buffered asynchronous copy took about 1.6 x cp's
 * time onto ext4, the same system calls made in turn match it. Only the
 * image's data ranges are read; `onHole` decides what its holes become.
 */
async function copyInTurn(
  input: FileHandle,
  size: number,
  output: ImageFile,
  onHole: (start: number, end: number) => void,
  options: CopyOptions,
): Promise<void> {
  const piece = output.isDirect ? DIRECT_PIECE : PIECE;
  const buffer = alignedBuffer(piece);
  for (let window = 0; window < size; window += SLICE) {
    if (options.signal) throwIfAborted(options.signal);
    const windowEnd = Math.min(size, window + SLICE);
    const map = dataRanges(input.fd, window, windowEnd);
    const ranges = map ? map.ranges : [[window, windowEnd] as [number, number]];
    if (map && map.size < windowEnd) throw new Error(`image ended early at byte ${map.size} of ${size}`);
    let at = window;
    for (const [start, end] of ranges) {
      if (start > at) onHole(at, start);
      for (let offset = start; offset < end; offset += piece) {
        const length = Math.min(piece, end - offset);
        const got = readSync(input.fd, buffer, 0, length, offset);
        if (got < length) throw new Error(`image ended early at byte ${offset + got} of ${size}`);
        const data = buffer.subarray(0, length);
        if (isZero(data)) onHole(offset, offset + length);
        else output.writeSync(data, offset);
      }
      at = end;
    }
    if (windowEnd > at) onHole(at, windowEnd);
    options.onProgress?.(windowEnd, size);
    // Lets signal handlers and the progress display run.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Copies into a regular file, leaving holes where the image reads as zeros. */
export async function copyToSparseFile(input: FileHandle, size: number, output: ImageFile, options: CopyOptions): Promise<void> {
  await output.handle.truncate(0);
  await copyInTurn(input, size, output, () => undefined, options);
  await output.handle.truncate(size);
}

/** Overwrites a block device in place: zeros are written too, the device keeps its size. */
export async function copyToDevice(input: FileHandle, size: number, output: ImageFile, options: CopyOptions): Promise<void> {
  await copyInTurn(input, size, output, (start, end) => {
    for (let at = start; at < end; at += ZERO_BLOCK.length) output.writeSync(ZERO_BLOCK.subarray(0, Math.min(ZERO_BLOCK.length, end - at)), at);
  }, options);
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
