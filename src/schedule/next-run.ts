import { inScheduleOrder, type HistoryEntry, type Schedule } from './schedule.js';

/**
 * When a job runs next, and with which tags: the regular slots of its
 * schedule, plus catch-up of tags it missed (after downtime, a failure, or
 * a backup that overran its interval). Pure: (schedule, spread, history, now).
 */

/** Missed tags wait for the next regular run only if it is this close. */
export const CATCH_UP_WAIT_LIMIT_SECONDS = 5 * 60;

/**
 * Where interval slots are counted from: 0001-01-01T00:00:00 UTC, Python's
 * `datetime.min`, as backy 2.x counts them. (From the Unix epoch, weekly
 * slots would move by three days and 30-day slots by two.)
 */
export const SLOT_ORIGIN = Date.parse('0001-01-01T00:00:00Z');

/**
 * The first slot strictly after `after`: a multiple of the interval (counted
 * from SLOT_ORIGIN) shifted by the job's spread. The same for every tag,
 * so tags whose intervals divide each other meet in one run.
 */
export function nextSlot(intervalSeconds: number, spreadSeconds: number, after: Date): Date {
  const interval = intervalSeconds * 1000;
  const offset = (spreadSeconds * 1000) % interval;
  const k = Math.floor((after.getTime() - SLOT_ORIGIN - offset) / interval) + 1;
  return new Date(SLOT_ORIGIN + k * interval + offset);
}

export interface MissedTag {
  tag: string;
  /** Since when a revision with this tag is overdue. */
  dueSince: Date;
}

/**
 * Tags of the schedule that no revision younger than the tag's interval
 * carries. Tags outside the schedule (manual, ad hoc) play no part.
 */
export function missedTags(schedule: Schedule, history: readonly HistoryEntry[], now: Date): MissedTag[] {
  const oldest = history.reduce<Date | null>((min, e) => (min === null || e.timestamp < min ? e.timestamp : min), null);
  const missed: MissedTag[] = [];
  for (const rule of schedule) {
    let newest: Date | null = null;
    for (const entry of history) {
      if (entry.tags.includes(rule.tag) && (newest === null || entry.timestamp > newest)) newest = entry.timestamp;
    }
    const interval = rule.intervalSeconds * 1000;
    if (newest !== null && now.getTime() - newest.getTime() < interval) continue;
    // Never carried: overdue since the job has had revisions without it.
    const dueSince = newest !== null ? new Date(newest.getTime() + interval) : (oldest ?? now);
    missed.push({ tag: rule.tag, dueSince: dueSince < now ? dueSince : now });
  }
  return missed;
}

export interface RunPlan {
  at: Date;
  tags: string[];
  /** For ordering the queue: the most overdue run goes first. */
  dueSince: Date;
  /** `first`: no revision yet; `catch-up`: missed tags run now; `regular`: a slot (perhaps with missed tags). */
  reason: 'first' | 'catch-up' | 'regular';
}

export function planNextRun(schedule: Schedule, spreadSeconds: number, history: readonly HistoryEntry[], now: Date): RunPlan {
  const allTags = schedule.map((rule) => rule.tag);
  if (history.length === 0) return { at: now, tags: allTags, dueSince: now, reason: 'first' };

  let at: Date | null = null;
  let regular: string[] = [];
  for (const rule of schedule) {
    const slot = nextSlot(rule.intervalSeconds, spreadSeconds, now);
    if (at === null || slot < at) {
      at = slot;
      regular = [rule.tag];
    } else if (slot.getTime() === at.getTime()) {
      regular.push(rule.tag);
    }
  }
  if (at === null) throw new Error('a schedule needs at least one tag');

  const missed = missedTags(schedule, history, now);
  const tags = inScheduleOrder(schedule, [...regular, ...missed.map((m) => m.tag)]);
  if (missed.length === 0) return { at, tags, dueSince: at, reason: 'regular' };
  const dueSince = new Date(Math.min(at.getTime(), ...missed.map((m) => m.dueSince.getTime())));
  if (at.getTime() - now.getTime() > CATCH_UP_WAIT_LIMIT_SECONDS * 1000) {
    return { at: now, tags, dueSince, reason: 'catch-up' };
  }
  return { at, tags, dueSince, reason: 'regular' };
}
