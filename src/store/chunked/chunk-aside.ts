import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errorCode } from '../../util/errors.js';
import { pathProvesItself } from './chunk-proof.js';
import { chunkPath, DAMAGED_DIR } from './pool-layout.js';

/**
 * Takes what lies under chunk `name` of `pool` (a damaged chunk, or no
 * chunk at all: a directory, a FIFO, a link) out of the pool and notes it
 * in the damaged directory: 'moved'. Not a sound chunk, which a backup may
 * have written there since the read that failed (no lock guards the two):
 * 'sound'. 'nothing' where nothing lay there.
 */
export function quarantineChunk(pool: string, name: string, chunkSize: number): 'moved' | 'sound' | 'nothing' {
  const path = chunkPath(pool, name);
  if (pathProvesItself(path, name, chunkSize)) return 'sound';
  // First to a name of its own, which no other process writes: what is proven there is what goes back, or is noted.
  const aside = hiddenName(pool, name);
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'nothing';
    throw err;
  }
  if (pathProvesItself(aside, name, chunkSize)) {
    putChunkBack(aside, pool, name);
    return 'sound';
  }
  try {
    renameSync(aside, join(pool, DAMAGED_DIR, name));
  } catch (err) {
    // The damaged directory holds the name in a form a file cannot replace: that already notes it, and the chunk stays under its own name there.
    const code = errorCode(err);
    if (code !== 'EISDIR' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  return 'moved';
}

/**
 * Gives chunk `name` back the file `moved` (a chunk that another backup
 * wrote there meanwhile and that was moved aside with what lay there
 * before), unless yet another took its place since.
 */
function putChunkBack(moved: string, pool: string, name: string): void {
  try {
    linkSync(moved, chunkPath(pool, name));
  } catch (err) {
    if (errorCode(err) !== 'EEXIST') throw err;
  }
  try {
    unlinkSync(moved);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/**
 * Moves a directory that holds chunk `name`'s name out of the way of a
 * backup that writes the chunk (a FIFO or a link needs no moving: the
 * chunk's rename into place replaces it). No stripe lock guards the
 * renames into place, so what was moved is looked at again: a chunk that
 * another backup put there meanwhile goes back.
 */
export function moveDirectoryAside(pool: string, name: string): void {
  const moved = hiddenName(pool, name);
  try {
    renameSync(chunkPath(pool, name), moved);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  if (lstatSync(moved).isFile()) putChunkBack(moved, pool, name);
}

function hiddenName(pool: string, name: string): string {
  return join(pool, DAMAGED_DIR, `.${name}.${randomBytes(4).toString('hex')}`);
}
