/**
 * A schedule: the tags a job's backups carry, each with how often a new
 * revision is made (`interval`) and how many are kept (`keep`). The order is
 * the configuration file's, so tag lists read the same way everywhere.
 */
export interface TagRule {
  tag: string;
  intervalSeconds: number;
  keep: number;
}

export type Schedule = readonly TagRule[];

/** What the schedule arithmetic needs to know about a revision. */
export interface HistoryEntry {
  timestamp: Date;
  tags: readonly string[];
}

export function shortestInterval(schedule: Schedule): number {
  return Math.min(...schedule.map((rule) => rule.intervalSeconds));
}

export function longestInterval(schedule: Schedule): number {
  return Math.max(...schedule.map((rule) => rule.intervalSeconds));
}

/** `tags` in the schedule's order, without duplicates; tags the schedule lacks come last. */
export function inScheduleOrder(schedule: Schedule, tags: Iterable<string>): string[] {
  const wanted = new Set(tags);
  const ordered = schedule.map((rule) => rule.tag).filter((tag) => wanted.has(tag));
  const rest = [...wanted].filter((tag) => !ordered.includes(tag)).sort();
  return [...ordered, ...rest];
}
