import type { Revision } from './revision.js';

/**
 * A revision as data for scripts and front-ends (`backy status --json`, the
 * HTTP API, the completion hook), in the `.rev` file's own words.
 */

/**
 * Whether a revision's data failed a check (issue 13: `trust: distrusted`
 * in its `.rev`). Read defensively until the Revision type carries it.
 */
export function isDistrusted(revision: Revision): boolean {
  return (revision as Revision & { trust?: unknown }).trust === 'distrusted';
}

/** `bytes_written` as a number (0 when missing or not a number). */
export function bytesWritten(revision: Revision): number {
  const value = Number(revision.stats.bytes_written ?? 0);
  return Number.isFinite(value) && value >= 0 ? value : 0;
}
