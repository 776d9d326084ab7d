import { linkSync, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errorCode } from '../../util/errors.js';
import { chunkPath, DAMAGED_DIR } from './pool-layout.js';

/**
 * Moves what lies under chunk `name` of `pool` (a damaged chunk, or no
 * chunk at all: a directory, a FIFO, a link) into its damaged directory;
 * where it lies now, or 'nothing' where nothing lay there, 'moved' where
 * another process moved it meanwhile. Where the damaged directory holds
 * that name already in a form it cannot replace, it goes under a hidden
 * name beside it (the name already marks the chunk as damaged).
 */
export function moveChunkAside(pool: string, name: string): string | 'nothing' | 'moved' {
  const noted = join(pool, DAMAGED_DIR, name);
  try {
    renameSync(chunkPath(pool, name), noted);
    return noted;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return 'nothing';
    if (code !== 'EISDIR' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  const hidden = hiddenName(pool, name);
  try {
    renameSync(chunkPath(pool, name), hidden);
    return hidden;
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    return 'moved';
  }
}

/**
 * Gives chunk `name` back the file `moved` (a chunk that another backup
 * wrote there meanwhile and that was moved aside with what lay there
 * before), unless yet another took its place since.
 */
export function putChunkBack(moved: string, pool: string, name: string): void {
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
