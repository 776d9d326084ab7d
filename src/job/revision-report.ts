import type { Logger } from '../util/logger.js';
import type { JobDirectory } from './job-directory.js';
import { isComplete, type Revision } from './revision.js';

/**
 * A job's revisions as data for scripts and front-ends (`backy status
 * --json`/`--yaml`, the HTTP API, the completion hook), in the `.rev`
 * file's own words, oldest first.
 */
export interface RevisionRecord {
  uuid: string;
  /** ISO 8601 UTC; null when the `.rev` is unreadable. */
  timestamp: string | null;
  parent: string | null;
  tags: string[];
  /** `unknown` when the `.rev` is unreadable. */
  trust: 'trusted' | 'distrusted' | 'unknown';
  /** The backup finished (its `.rev` has a duration). */
  complete: boolean;
  /** Bytes of the revision's image; null while its data is missing or unreadable. */
  size: number | null;
  /** Seconds the backup took; null while incomplete. */
  duration: number | null;
  bytes_written: number | null;
  /** Why the `.rev` cannot be used (it is listed, never hidden, and left alone); null for every readable one. */
  unreadable: string | null;
}

/** Whether a revision's data failed a check (`trust: distrusted` in its `.rev`). */
export function isDistrusted(revision: Revision): boolean {
  return revision.trust === 'distrusted';
}

/** `bytes_written` as a number (0 when missing or not a number). */
export function bytesWritten(revision: Revision): number {
  const value = Number(revision.stats.bytes_written ?? 0);
  return Number.isFinite(value) && value >= 0 ? value : 0;
}

export function revisionRecord(revision: Revision, size: number | null): RevisionRecord {
  const written = Number(revision.stats.bytes_written);
  return {
    uuid: revision.uuid,
    timestamp: revision.timestamp.toISOString(),
    parent: revision.parent,
    tags: revision.tags,
    trust: isDistrusted(revision) ? 'distrusted' : 'trusted',
    complete: isComplete(revision),
    size,
    duration: isComplete(revision) ? (revision.stats.duration ?? null) : null,
    bytes_written: Number.isFinite(written) ? written : null,
    unreadable: null,
  };
}

/** A revision whose `.rev` cannot be read: its name, its data's size if the store has it, and why. */
export function unreadableRecord(id: string, reason: string, size: number | null): RevisionRecord {
  return { uuid: id, timestamp: null, parent: null, tags: [], trust: 'unknown', complete: false, size, duration: null, bytes_written: null, unreadable: reason };
}

/** Reads the job directory's revisions and their data's sizes from its store; unreadable `.rev` files last, as `status` lists them. */
export async function reportRevisions(directory: JobDirectory, logger?: Logger): Promise<RevisionRecord[]> {
  const store = await directory.store();
  const { revisions, unreadable, listing } = await directory.scan(logger);
  const present = await store.present(listing);
  const sizes = new Map<string, number>();
  for (const id of [...revisions.map((r) => r.uuid), ...unreadable.map((r) => r.id)]) {
    if (!present.has(id)) continue;
    const state = await store.stat(id).catch(() => null);
    if (state?.state === 'present') sizes.set(id, state.size);
  }
  return [
    ...revisions.map((revision) => revisionRecord(revision, sizes.get(revision.uuid) ?? null)),
    ...unreadable.map((broken) => unreadableRecord(broken.id, broken.reason, sizes.get(broken.id) ?? null)),
  ];
}
