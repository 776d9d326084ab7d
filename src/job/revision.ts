import { readFile } from 'node:fs/promises';
// js-yaml: a scheduler start reads every job's revisions, and it parses
// these small files several times faster than `yaml`.
import { CORE_SCHEMA, dump, load } from 'js-yaml';
import { writeFileAtomic } from '../util/atomic-file.js';

/** What a backup recorded about itself; `duration` marks it complete. */
export interface RevisionStats {
  bytes_written?: number;
  duration?: number;
  [key: string]: unknown;
}

/** One revision's metadata, as stored in `{id}.rev`. */
export interface Revision {
  uuid: string;
  timestamp: Date;
  parent: string | null;
  tags: string[];
  stats: RevisionStats;
}

export function isComplete(revision: Revision): boolean {
  return typeof revision.stats.duration === 'number';
}

export function revisionDuration(revision: Revision): number {
  return revision.stats.duration ?? 0;
}

/**
 * Parses a `.rev` file. backy 2.0 wrote timestamps as YAML timestamps,
 * sometimes without a zone; those are UTC.
 */
export function parseRevision(text: string, source: string): Revision {
  const data = load(text, { schema: CORE_SCHEMA, filename: source }) as unknown;
  if (!data || typeof data !== 'object') throw new Error(`${source}: not a revision file`);
  const raw = data as Record<string, unknown>;
  if (typeof raw.uuid !== 'string' || raw.uuid.length === 0) throw new Error(`${source}: no uuid`);
  const timestamp = parseTimestamp(raw.timestamp);
  if (!timestamp) throw new Error(`${source}: invalid timestamp ${JSON.stringify(raw.timestamp)}`);
  const tags = Array.isArray(raw.tags) ? raw.tags.map(String) : [];
  const stats = raw.stats && typeof raw.stats === 'object' ? (raw.stats as RevisionStats) : {};
  const parent = typeof raw.parent === 'string' && raw.parent.length > 0 ? raw.parent : null;
  return { uuid: raw.uuid, timestamp, parent, tags, stats };
}

export function parseTimestamp(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value !== 'string') return null;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) return null;
  const fraction = match[3] ? match[3].slice(0, 4).padEnd(4, '0') : '';
  let zone = match[4] ?? 'Z';
  if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${match[1]}T${match[2]}${fraction}${zone}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function serializeRevision(revision: Revision): string {
  return dump(
    {
    uuid: revision.uuid,
    timestamp: revision.timestamp.toISOString(),
    parent: revision.parent ?? '',
    tags: revision.tags,
    stats: revision.stats,
    },
    // Unquoted, so YAML 1.1 readers (backy 2.0) see a timestamp.
    { schema: CORE_SCHEMA },
  );
}

export async function readRevisionFile(path: string): Promise<Revision> {
  return parseRevision(await readFile(path, 'utf8'), path);
}

export async function writeRevisionFile(path: string, revision: Revision): Promise<void> {
  await writeFileAtomic(path, serializeRevision(revision));
}
