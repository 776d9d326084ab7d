import { Worker } from 'node:worker_threads';
import type { MatchRequest } from './job-matcher-worker.js';

/** How long one `jobs REGEX` may take to match every job name. */
export const MATCH_BUDGET_MS = 1_000;
/** What a worker sends once it has loaded: a match's budget counts matching, not a thread's start on a busy machine. */
export const READY = 'ready';
/** How long a fresh worker may take to load before the request it was started for is refused. */
const START_BUDGET_MS = 15_000;

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
  /** Until the worker has loaded, the budget of a match has not begun. */
  private starting: NodeJS.Timeout | null = null;
  private readonly queue: Pending[] = [];
  private current: { request: Pending; timer: NodeJS.Timeout } | null = null;
  private closed = false;

  constructor(
    private readonly budgetMs = MATCH_BUDGET_MS,
    private readonly workerUrl = new URL('./job-matcher-worker.js', import.meta.url),
  ) {}

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
    if (this.current || this.closed || this.queue.length === 0) return;
    const worker = this.ensureWorker();
    if (this.starting) return;
    const request = this.queue.shift()!;
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
    const worker = new Worker(this.workerUrl);
    // An idle matcher must not keep the scheduler's process alive.
    worker.unref();
    worker.on('message', (message: typeof READY | boolean[]) => {
      if (this.worker !== worker) return;
      if (message === READY) {
        this.started();
        this.next();
        return;
      }
      this.finish({ ok: true, matches: message });
      this.next();
    });
    worker.on('error', (err) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.refuseWhileStarting(`matching failed: ${err.message}`);
      this.finish({ ok: false, reason: `matching failed: ${err.message}` });
      this.next();
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    this.worker = worker;
    this.starting = setTimeout(() => {
      this.refuseWhileStarting(`matching failed: the matching thread did not start within ${START_BUDGET_MS / 1000} s`);
      void this.stopWorker();
      this.next();
    }, START_BUDGET_MS);
    this.starting.unref();
    return worker;
  }

  private started(): void {
    if (this.starting) clearTimeout(this.starting);
    this.starting = null;
  }

  /** The request a worker was started for, when that worker never became ready. */
  private refuseWhileStarting(reason: string): void {
    if (!this.starting) return;
    this.started();
    this.queue.shift()?.resolve({ ok: false, reason });
  }

  private async stopWorker(): Promise<void> {
    this.started();
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }
}
