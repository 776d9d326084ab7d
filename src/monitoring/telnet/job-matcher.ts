import { Worker } from 'node:worker_threads';
import type { MatchRequest } from './job-matcher-worker.js';

/** How long one `jobs REGEX` may take to match every job name. */
export const MATCH_BUDGET_MS = 1_000;

export type MatchResult = { ok: true; matches: boolean[] } | { ok: false; reason: string };

interface Pending extends MatchRequest {
  resolve(result: MatchResult): void;
}

/**
 * Matches job names against an expression a telnet client typed, off the
 * scheduler's thread: JavaScript's regular expressions backtrack, and one
 * like `(a+)+$` against a long name takes longer than the universe has.
 * One worker thread serves the requests in turn; one that runs over its
 * budget is stopped (V8 interrupts the match), answered with a message, and
 * the next request gets a fresh worker. The event loop never waits.
 */
export class JobMatcher {
  private worker: Worker | null = null;
  private readonly queue: Pending[] = [];
  private current: { request: Pending; timer: NodeJS.Timeout } | null = null;
  private closed = false;

  constructor(private readonly budgetMs = MATCH_BUDGET_MS) {}

  /** `source` is a compiled RegExp's source (so it is known to be valid). */
  match(source: string, names: string[]): Promise<MatchResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'the shell is closing' });
    return new Promise((resolve) => {
      this.queue.push({ source, names, resolve });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const request of this.queue.splice(0)) request.resolve({ ok: false, reason: 'the shell is closing' });
    this.finish({ ok: false, reason: 'the shell is closing' });
    await this.stopWorker();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const request = this.queue.shift();
    if (!request) return;
    const worker = this.ensureWorker();
    const timer = setTimeout(() => {
      const seconds = this.budgetMs / 1000;
      this.finish({
        ok: false,
        reason: `the regular expression took more than ${seconds} s to match the job names and was stopped; simplify it (nested repetition such as (a+)+ backtracks)`,
      });
      void this.stopWorker();
      this.next();
    }, this.budgetMs);
    this.current = { request, timer };
    worker.postMessage({ source: request.source, names: request.names } satisfies MatchRequest);
  }

  private finish(result: MatchResult): void {
    if (!this.current) return;
    clearTimeout(this.current.timer);
    this.current.request.resolve(result);
    this.current = null;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./job-matcher-worker.js', import.meta.url));
    // An idle matcher must not keep the scheduler's process alive.
    worker.unref();
    worker.on('message', (matches: boolean[]) => {
      if (this.worker !== worker) return;
      this.finish({ ok: true, matches });
      this.next();
    });
    worker.on('error', (err) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.finish({ ok: false, reason: `matching failed: ${err.message}` });
      this.next();
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    return worker;
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }
}
