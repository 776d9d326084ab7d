import { join } from 'node:path';

/**
 * Where a chunk pool keeps what (all paths below the pool directory):
 *
 *   pool              YAML: format and chunk size, written once
 *   chunks/XX/NAME    a chunk: NAME is the SHA-256 of its bytes (hex), XX
 *                     its first two digits, so no directory holds more than
 *                     1/256 of the chunks (85,000 for a 1 TiB image with 30
 *                     revisions); the bytes as they are, or a zstd frame of
 *                     them where that is smaller
 *   chunks/XX/.tmp-*  a chunk being written (renamed to NAME once flushed)
 *   locks             byte XX is the lock of stripe XX: shared by writers
 *                     touching chunks there, exclusive while a garbage
 *                     collection deletes from it
 *   writers/ID        one per backup writing into the pool, locked while it
 *                     runs; holds when it started
 *   damaged/NAME      chunks whose bytes did not match their name (or
 *                     that were no regular file), moved out of the way (an
 *                     empty file where one was missing; .NAME.* where NAME
 *                     was taken by a kind of file it could not replace),
 *                     until a garbage collection finds no index naming them
 */
export const POOL_FILE = 'pool';
export const CHUNKS_DIR = 'chunks';
export const LOCK_FILE = 'locks';
export const WRITERS_DIR = 'writers';
export const DAMAGED_DIR = 'damaged';
export const STRIPES = 256;
export const TEMPORARY_PREFIX = '.tmp-';

/** zstd's level 1: 1.5 GB/s on incompressible blocks here, and text shrinks to under 1 %. */
export const ZSTD_LEVEL = 1;

const CHUNK_NAME = /^[0-9a-f]{64}$/;

export function isChunkName(name: string): boolean {
  return CHUNK_NAME.test(name);
}

export function stripeOf(name: string): number {
  return parseInt(name.slice(0, 2), 16);
}

export function stripeDirectory(pool: string, stripe: number): string {
  return join(pool, CHUNKS_DIR, stripe.toString(16).padStart(2, '0'));
}

export function chunkDirectory(pool: string, name: string): string {
  return join(pool, CHUNKS_DIR, name.slice(0, 2));
}

export function chunkPath(pool: string, name: string): string {
  return join(pool, CHUNKS_DIR, name.slice(0, 2), name);
}
