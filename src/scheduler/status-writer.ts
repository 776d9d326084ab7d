import type { Logger } from '../util/logger.js';
import { writeStatusFile } from './status-file.js';
import type { StatusSnapshot } from './status-model.js';

/**
 * Writes the status file one write at a time, each with a snapshot taken
 * when its turn comes, so that a slow write never lets an older snapshot
 * replace a newer one. A periodic write while one is still in progress
 * (a slow or hung disk) is skipped rather than queued, so nothing piles
 * up behind it: one write at most is ever waiting on the disk. A failed
 * write is logged; the scheduler goes on.
 */
export class StatusWriter {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** Writes queued or in progress. */
  private pending = 0;
  /** Periodic writes skipped since the last write finished. */
  private skipped = 0;
  /** Odd job fields already logged: the same ones come back with every write. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly snapshot: () => StatusSnapshot,
    private readonly target: () => string,
    private readonly logger: Logger,
  ) {}

  write(): Promise<void> {
    this.pending++;
    this.chain = this.chain.then(async () => {
      const path = this.target();
      try {
        await writeStatusFile(path, this.snapshot(), (line) => this.reportOnce(`status file ${path}: ${line}`));
      } catch (err) {
        // Only the first line: a schema's error is a page of JSON.
        this.logger.error(`cannot write the status file ${path}: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        this.pending--;
        if (this.skipped > 0) {
          this.logger.info(`status file ${path} written again (${this.skipped} periodic updates skipped while the write was in progress)`);
          this.skipped = 0;
        }
      }
    });
    return this.chain;
  }

  /** Rewrites the file every `seconds` (replacing an earlier period). */
  every(seconds: number): void {
    this.stop();
    this.timer = setInterval(() => this.periodic(), seconds * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private reportOnce(line: string): void {
    if (this.reported.has(line)) return;
    this.reported.add(line);
    this.logger.warn(line);
  }

  private periodic(): void {
    if (this.pending === 0) {
      void this.write();
      return;
    }
    if (this.skipped++ === 0) {
      this.logger.warn(`status file ${this.target()}: the last write is still in progress; skipping updates until it finishes`);
    }
  }
}
