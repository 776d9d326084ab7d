import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gcSharedPool } from '../job/gc-job.js';
import { GcInProgressError } from '../store/chunked/garbage-collection.js';
import type { Logger } from '../util/logger.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often a collection that found another one (`backy gc` by hand) under way looks again. */
export const IN_PROGRESS_RETRY_MS = 10_000;

/**
 * The scheduler's garbage collection of the chunk pool its jobs share:
 * once a day, and after retention removed revisions. One at a time; a
 * request while one runs makes one more run after it. In this process:
 * the collection is I/O, and it never holds anything a backup waits for
 * longer than one stripe's deletions. One that finds another process
 * collecting the pool (`backy gc` by hand) waits for it and then runs: the
 * other may have listed the revisions before retention removed some.
 */
export class PoolCollector {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly baseDir: () => string,
    private readonly logger: Logger,
  ) {}

  /** Starts the daily runs (the first one a day from now). */
  daily(): void {
    this.timer = setInterval(() => this.request(), DAY_MS);
    this.timer.unref();
  }

  /** Runs a collection soon, if the base directory has a pool. */
  request(): void {
    if (this.running || this.retry) {
      this.again = true;
      return;
    }
    this.start(false);
  }

  /** Stops the daily runs and waits for one under way; none runs after. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.retry = undefined;
    this.again = false;
    await this.running;
  }

  private async run(waiting: boolean): Promise<void> {
    try {
      await gcSharedPool(this.baseDir(), this.logger);
    } catch (err) {
      if (!(err instanceof GcInProgressError)) {
        this.logger.error(`garbage collection of ${join(this.baseDir(), '.chunks')} failed: ${(err as Error).message}`);
        return;
      }
      if (this.stopped) return;
      if (!waiting) this.logger.info(`garbage collection of ${err.poolPath} waits for the one another process is running (looking again every ${IN_PROGRESS_RETRY_MS / 1000} s)`);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        // Requests made meanwhile are served by this run.
        this.again = false;
        this.start(true);
      }, IN_PROGRESS_RETRY_MS);
      this.retry.unref();
    }
  }

  /** A run, unless stopped or the base directory has no pool (a reload may have changed it). */
  private start(waiting: boolean): void {
    if (this.stopped || !existsSync(join(this.baseDir(), '.chunks', 'pool'))) return;
    this.running = this.run(waiting).finally(() => this.settle());
  }

  private settle(): void {
    this.running = null;
    if (this.again) {
      this.again = false;
      this.request();
    }
  }
}
