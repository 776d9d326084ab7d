import type { Logger } from '../util/logger.js';
import { writeStatusFile } from './status-file.js';
import type { StatusSnapshot } from './status-model.js';

/**
 * Writes the status file one write at a time, each with a snapshot taken
 * when its turn comes, so that a slow write never lets an older snapshot
 * replace a newer one. A failed write is logged; the scheduler goes on.
 */
export class StatusWriter {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly snapshot: () => StatusSnapshot,
    private readonly target: () => string,
    private readonly logger: Logger,
  ) {}

  write(): Promise<void> {
    this.chain = this.chain.then(async () => {
      const path = this.target();
      try {
        await writeStatusFile(path, this.snapshot());
      } catch (err) {
        this.logger.error(`cannot write the status file ${path}: ${(err as Error).message}`);
      }
    });
    return this.chain;
  }

  /** Rewrites the file every `seconds` (replacing an earlier period). */
  every(seconds: number): void {
    this.stop();
    this.timer = setInterval(() => void this.write(), seconds * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
