import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DirectoryListing } from './store.js';

/** One read of a directory's entries, with their types. */
export async function readListing(path: string): Promise<DirectoryListing> {
  return { path: resolve(path), entries: await readdir(path, { withFileTypes: true }) };
}

/** The entries of `directory`: from `listing` where it is of that directory, else read now. */
export async function entriesOf(directory: string, listing?: DirectoryListing): Promise<readonly Dirent[]> {
  return listing && listing.path === resolve(directory) ? listing.entries : (await readListing(directory)).entries;
}
