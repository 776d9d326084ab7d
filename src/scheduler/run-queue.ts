/**
 * Backups waiting for a worker, the most overdue first (ties by job name, so
 * the order is reproducible). A job is queued at most once.
 */
export interface QueuedRun {
  job: string;
  tags: string[];
  /** Since when this backup is due. */
  dueSince: Date;
}

export class RunQueue {
  private runs: QueuedRun[] = [];

  get size(): number {
    return this.runs.length;
  }

  has(job: string): boolean {
    return this.runs.some((run) => run.job === job);
  }

  /** Queues a run, replacing the job's earlier entry if there is one. */
  add(run: QueuedRun): void {
    this.remove(run.job);
    const index = this.runs.findIndex((other) => before(run, other));
    if (index < 0) this.runs.push(run);
    else this.runs.splice(index, 0, run);
  }

  remove(job: string): boolean {
    const index = this.runs.findIndex((run) => run.job === job);
    if (index < 0) return false;
    this.runs.splice(index, 1);
    return true;
  }

  /** Takes the most overdue run, passing over the jobs `waits` says cannot start yet. */
  take(waits?: (job: string) => boolean): QueuedRun | undefined {
    const index = waits ? this.runs.findIndex((run) => !waits(run.job)) : 0;
    return index < 0 ? undefined : this.runs.splice(index, 1)[0];
  }

  /** Job names in the order they will run. */
  jobs(): string[] {
    return this.runs.map((run) => run.job);
  }
}

function before(a: QueuedRun, b: QueuedRun): boolean {
  const byDue = a.dueSince.getTime() - b.dueSince.getTime();
  return byDue < 0 || (byDue === 0 && a.job < b.job);
}
