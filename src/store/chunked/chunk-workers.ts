import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChunkRequest, PutReply, ReadReply } from './chunk-protocol.js';

type Request = ChunkRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Three: two to keep both cores hashing while the third waits for the disk (a fourth only cost memory). */
const THREADS = 3;

interface Thread {
  worker: Worker;
  busy: number;
}

interface Pending {
  thread: Thread;
  resolve(reply: unknown): void;
  reject(err: Error): void;
}

/**
 * The threads that hash, compress, write and read chunks; a writer's
 * pending chunks live in the thread that wrote them, so a flush goes to
 * every thread.
 */
class ChunkWorkers {
  private threads: Thread[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Per writer: chunks renamed since their names were last flushed. */
  private readonly unnamed = new Map<string, number>();
  /** Threads that broke so far: a writer whose chunks one of them held must fail. */
  deaths = 0;

  put(request: Omit<Extract<ChunkRequest, { op: 'put' }>, 'id' | 'op'>): Promise<PutReply> {
    return (this.send(this.leastBusy(), { op: 'put', ...request }) as Promise<PutReply>).then((reply) => {
      const entries = reply.entries as Uint8Array;
      return { ...reply, entries: Buffer.from(entries.buffer, entries.byteOffset, entries.byteLength) };
    });
  }

  read(request: Omit<Extract<ChunkRequest, { op: 'read' }>, 'id' | 'op'>): Promise<ReadReply> {
    return this.send(this.leastBusy(), { op: 'read', ...request }) as Promise<ReadReply>;
  }

  /**
   * Renames every chunk the writer wrote so far into place, after one
   * flush of the pool's filesystem for all of them (and flushes the names
   * after, when `durable`).
   */
  async flush(writer: string, pool: string, durable: boolean): Promise<void> {
    this.ensureStarted();
    const threads = [...this.threads];
    const counts = (await Promise.all(threads.map((thread) => this.send(thread, { op: 'seal', writer })))) as Array<{ count: number }>;
    const renamed = counts.reduce((sum, reply) => sum + reply.count, 0);
    if (renamed > 0) {
      const { synced } = (await this.send(threads[0]!, { op: 'sync', pool })) as { synced: boolean };
      await Promise.all(threads.map((thread) => this.send(thread, { op: 'rename', writer, synced })));
      this.unnamed.set(writer, (this.unnamed.get(writer) ?? 0) + renamed);
    }
    if (durable && (this.unnamed.get(writer) ?? 0) > 0) {
      await this.send(threads[0]!, { op: 'sync-names', pool });
      this.unnamed.delete(writer);
    }
  }

  async forget(writer: string): Promise<void> {
    this.unnamed.delete(writer);
    if (this.threads.length === 0) return;
    await Promise.all(this.threads.map((thread) => this.send(thread, { op: 'forget', writer })));
  }

  private leastBusy(): Thread {
    this.ensureStarted();
    return this.threads.reduce((best, t) => (t.busy < best.busy ? t : best));
  }

  private send(thread: Thread, request: Request): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { thread, resolve, reject });
      // Idle workers must not keep a finished command alive; busy ones must.
      if (thread.busy++ === 0) thread.worker.ref();
      thread.worker.postMessage({ ...request, id });
    });
  }

  private ensureStarted(): void {
    if (this.threads.length > 0) return;
    const count = Math.max(2, Math.min(THREADS, availableParallelism() + 1));
    for (let index = 0; index < count; index++) {
      // Small heaps: a worker holds a few buffers and names, and four full-size V8 heaps were a third of a backup's memory.
      const worker = new Worker(new URL('./chunk-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 } });
      const thread: Thread = { worker, busy: 0 };
      thread.worker.unref();
      thread.worker.on('message', (reply: { id: number; error?: string; code?: string }) => this.settle(reply));
      thread.worker.on('error', (err) => this.fail(thread, err));
      thread.worker.on('exit', (code) => this.fail(thread, new Error(`a chunk worker exited with code ${code}`)));
      this.threads.push(thread);
    }
  }

  private settle(reply: { id: number; error?: string; code?: string }): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (--pending.thread.busy === 0) pending.thread.worker.unref();
    if (reply.error !== undefined) pending.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
    else pending.resolve(reply);
  }

  /** A thread that broke fails what it was given and leaves; the others go on. */
  private fail(thread: Thread, err: Error): void {
    if (this.threads.includes(thread)) this.deaths += 1;
    this.threads = this.threads.filter((t) => t !== thread);
    for (const [id, pending] of [...this.pending]) {
      if (pending.thread !== thread) continue;
      this.pending.delete(id);
      pending.reject(err);
    }
  }
}

export const chunkWorkers = new ChunkWorkers();
