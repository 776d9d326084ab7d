import { throwIfAborted } from '../util/abort.js';
import { handled } from '../util/promises.js';
import { alignedBuffer } from './native-io.js';

/** An image to stream: its size, its bytes, and where it may hold data. */
export interface ChunkSource {
  readonly size: number;
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  dataRanges(start: number, end: number): Promise<Array<[number, number]>>;
}

/** One piece of the image in order: `data` (valid until `write` returns) or, where the image holds no data, nothing to read. */
export interface Chunk {
  offset: number;
  length: number;
  /** Null where the whole chunk is a hole: it reads as zeros. */
  data: Buffer | null;
}

export interface PipelineOptions {
  /** A multiple of every block size a check works in. */
  chunkSize?: number;
  /** Chunks read and checked ahead of the one being written. */
  depth?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export const PIPELINE_CHUNK = 4 * 1024 * 1024;

/** Reading the chunk at `offset` failed (an I/O error from the disk): where, with the system call's code kept. */
export class ChunkReadError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly offset: number,
    cause: unknown,
  ) {
    super(`cannot read the chunk at offset ${offset}: ${(cause as Error).message}`, { cause });
    this.code = (cause as NodeJS.ErrnoException).code;
  }
}

/**
 * Streams an image chunk by chunk: reads (skipping holes) and `check`s up
 * to `depth` chunks ahead — on other cores where the check hashes — while
 * `write` takes them strictly in order. Memory stays at depth + 1 chunks
 * whatever the image's size.
 */
export async function pipeChunks(
  source: ChunkSource,
  stages: { check?: (chunk: Chunk) => Promise<void>; write?: (chunk: Chunk) => Promise<void> },
  options: PipelineOptions = {},
): Promise<void> {
  const chunkSize = options.chunkSize ?? PIPELINE_CHUNK;
  const depth = options.depth ?? 4;
  const free: Buffer[] = Array.from({ length: depth + 1 }, () => alignedBuffer(chunkSize));
  const ahead: Array<Promise<Chunk>> = [];
  const prepare = async (offset: number, buffer: Buffer): Promise<Chunk> => {
    const length = Math.min(chunkSize, source.size - offset);
    const ranges = await source.dataRanges(offset, offset + length);
    let chunk: Chunk = { offset, length, data: null };
    if (ranges.length > 0) {
      const got = await source.read(buffer, length, offset).catch((err: unknown) => {
        // A failing system call (an I/O error); a store's own verdicts (damage) pass as they are.
        throw typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall ? new ChunkReadError(offset, err) : err;
      });
      if (got < length) throw new Error(`image ended early at byte ${offset + got} of ${source.size}`);
      chunk = { offset, length, data: buffer.subarray(0, length) };
    }
    await stages.check?.(chunk);
    return chunk;
  };
  const finish = async (chunk: Chunk, buffer: Buffer) => {
    await stages.write?.(chunk);
    free.push(buffer);
    options.onProgress?.(chunk.offset + chunk.length, source.size);
  };
  const buffers = new Map<Promise<Chunk>, Buffer>();
  try {
    for (let offset = 0; offset < source.size; offset += chunkSize) {
      if (options.signal) throwIfAborted(options.signal);
      if (ahead.length >= depth) {
        const next = ahead.shift()!;
        await finish(await next, buffers.get(next)!);
        buffers.delete(next);
      }
      const buffer = free.pop()!;
      const prepared = handled(prepare(offset, buffer));
      buffers.set(prepared, buffer);
      ahead.push(prepared);
    }
    while (ahead.length > 0) {
      if (options.signal) throwIfAborted(options.signal);
      const next = ahead.shift()!;
      await finish(await next, buffers.get(next)!);
    }
  } finally {
    // Nothing may still read into a buffer when the caller closes the files.
    await Promise.allSettled(ahead);
  }
}
