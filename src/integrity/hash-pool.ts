import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hashBlocksHere } from './block-hash.js';
import type { HashRequest } from './hash-worker.js';

/**
 * Below this, a message to a worker costs more than hashing here (a few
 * tens of microseconds against ~45 µs for 64 KiB at 1.4 GB/s).
 */
const SMALLEST_FOR_WORKERS = 256 * 1024;

interface Thread {
  worker: Worker;
  busy: number;
}

interface Pending {
  thread: Thread;
  resolve(entries: Buffer): void;
  reject(err: Error): void;
}

/**
 * SHA-256 off the main thread. Hashing a 4 GiB image takes ~3 s of one core
 * (Node's crypto, SHA instructions), more than reading it: spread over the
 * cores, it keeps up with the disk while the main thread compares and
 * writes. Buffers from `alignedBuffer` live in shared memory, so workers
 * read them in place; any other buffer is hashed here.
 */
class HashPool {
  private threads: Thread[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  hash(data: Buffer, blockSize: number): Promise<Buffer> {
    if (data.length < SMALLEST_FOR_WORKERS || !(data.buffer instanceof SharedArrayBuffer)) {
      return Promise.resolve(hashBlocksHere(data, blockSize));
    }
    if (this.threads.length === 0) this.start();
    const thread = this.threads.reduce((best, t) => (t.busy < best.busy ? t : best));
    const id = this.nextId++;
    const request: HashRequest = { id, memory: data.buffer, byteOffset: data.byteOffset, length: data.length, blockSize };
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { thread, resolve, reject });
      // Idle workers must not keep a finished command alive; busy ones must.
      if (thread.busy++ === 0) thread.worker.ref();
      thread.worker.postMessage(request);
    });
  }

  private start(): void {
    const count = Math.max(1, Math.min(4, availableParallelism()));
    for (let index = 0; index < count; index++) {
      const thread: Thread = { worker: new Worker(new URL('./hash-worker.js', import.meta.url)), busy: 0 };
      thread.worker.unref();
      thread.worker.on('message', ({ id, entries }: { id: number; entries: Uint8Array }) =>
        this.settle(id, null, Buffer.from(entries.buffer, entries.byteOffset, entries.byteLength)),
      );
      thread.worker.on('error', (err) => this.fail(thread, err));
      thread.worker.on('exit', (code) => this.fail(thread, new Error(`a hash worker exited with code ${code}`)));
      this.threads.push(thread);
    }
  }

  private settle(id: number, err: Error | null, entries: Buffer | null): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (--pending.thread.busy === 0) pending.thread.worker.unref();
    if (err) pending.reject(err);
    else pending.resolve(entries!);
  }

  /** A thread that broke fails what it was given and leaves the pool; the others go on. */
  private fail(thread: Thread, err: Error): void {
    this.threads = this.threads.filter((t) => t !== thread);
    for (const [id, pending] of [...this.pending]) if (pending.thread === thread) this.settle(id, err, null);
  }
}

const pool = new HashPool();

/** The entries (see block-hash.ts) of `data`'s blocks, computed on another core where that pays. */
export function hashBlocks(data: Buffer, blockSize: number): Promise<Buffer> {
  return pool.hash(data, blockSize);
}
