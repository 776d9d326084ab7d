/**
 * One thread of the chunk pool's workers: hashes blocks, compresses and
 * writes the new ones as chunk files, and reads chunks back proving each
 * against its name. Everything here blocks (zstd, file I/O), which is why it
 * runs beside the main thread, on shared memory the main thread hands over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, fstatSync, lstatSync, lutimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import fsx from 'fs-native-extensions';
import zstd from 'zstd-napi/binding.js';
import { isZeroBlock, ZERO_ENTRY } from '../../integrity/block-hash.js';
import { syncFilesystem } from '../../io/native-io.js';
import { moveDirectoryAside } from './chunk-aside.js';
import { pathProvesItself, readAll, ZSTD_MAGIC } from './chunk-proof.js';
import type { ChunkFailure, ChunkRequest, PutReply, ReadReply } from './chunk-protocol.js';
import { chunkDirectory, chunkPath, LOCK_FILE, STRIPES, stripeDirectory, stripeOf, TEMPORARY_PREFIX, ZSTD_LEVEL } from './pool-layout.js';

const compressor = new zstd.CCtx();
compressor.setParameter(zstd.CParameter.compressionLevel, ZSTD_LEVEL);
const decompressor = new zstd.DCtx();
let scratch = Buffer.alloc(0);

function scratchOf(size: number): Buffer {
  if (scratch.length < size) scratch = Buffer.alloc(size);
  return scratch;
}

/** Per writer: the chunks it wrote but has not yet renamed into place. */
interface WriterState {
  pool: string;
  /** [temporary, final] paths waiting for a flush. */
  pending: Array<[string, string]>;
  /** Chunks this writer already wrote or found in this backup: not looked up again. */
  known: Set<string>;
  /** Written chunks set aside for the flush under way. */
  sealed: Array<[string, string]>;
}
const writers = new Map<string, WriterState>();
/** Enough to skip repeats within a backup (a template's blocks); the set restarts beyond it, bounding memory. */
const KNOWN_LIMIT = 200_000;
/** Temporary names unique across processes and threads. */
const tmpPrefix = `${TEMPORARY_PREFIX}${randomBytes(6).toString('hex')}-`;
let tmpCounter = 0;

/** Runs `action` with the pool's lock file open (not kept open: a pool's filesystem must be free to unmount). */
function withLockFile<T>(pool: string, action: (fd: number) => T): T {
  const fd = openSync(join(pool, LOCK_FILE), 'r+');
  try {
    return action(fd);
  } finally {
    closeSync(fd);
  }
}

function writerState(writer: string, pool: string): WriterState {
  let state = writers.get(writer);
  if (!state) {
    state = { pool, pending: [], known: new Set(), sealed: [] };
    writers.set(writer, state);
  }
  return state;
}

/** What goes into a chunk file: zstd's frame where smaller (or where the raw bytes would look like one), else the bytes. */
function encode(block: Buffer): Buffer {
  const out = scratchOf(zstd.compressBound(block.length));
  const length = compressor.compress2(out, block);
  if (length < block.length || block.subarray(0, 4).equals(ZSTD_MAGIC)) return out.subarray(0, length);
  return block;
}

/**
 * Makes sure the pool holds chunk `name`: an existing one is touched (so a
 * garbage collection running meanwhile sees it in use), under a shared lock
 * of its stripe so that no collection is deleting from that stripe at the
 * same moment; a missing one is written to a temporary file, renamed into
 * place at the next flush. Returns the bytes written, 0 if it was there.
 */
function ensureChunk(state: WriterState, fd: number, name: string, block: Buffer, now: Date): number {
  if (state.known.has(name)) return 0;
  if (state.known.size >= KNOWN_LIMIT) state.known.clear();
  const stripe = stripeOf(name);
  fsx.waitForLockSync(fd, stripe, 1, { shared: true });
  try {
    // Looked up first: a full backup finds none of its chunks, and a failed
    // utimes throws, which costs more than the lookup and the write together.
    const path = chunkPath(state.pool, name);
    const found = lstatSync(path, { throwIfNoEntry: false });
    if (found?.isFile()) {
      try {
        lutimesSync(path, now, now);
        state.known.add(name);
        return 0;
      } catch (err) {
        // Quarantined meanwhile (that takes no stripe lock): written again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    } else if (found?.isDirectory()) {
      // No chunk, and the chunk's rename into place could not replace it.
      moveDirectoryAside(state.pool, name);
    }
  } finally {
    fsx.unlock(fd, stripe, 1);
  }
  const data = encode(block);
  const temporary = join(chunkDirectory(state.pool, name), `${tmpPrefix}${tmpCounter++}`);
  const out = openSync(temporary, 'wx', 0o440);
  try {
    for (let at = 0; at < data.length; ) at += writeSync(out, data, at, data.length - at);
  } catch (err) {
    // A full disk: the part written is no one's, and forget only removes the temporaries it was told of.
    unlinkSync(temporary);
    throw err;
  } finally {
    closeSync(out);
  }
  state.pending.push([temporary, chunkPath(state.pool, name)]);
  state.known.add(name);
  return data.length;
}

function put(request: Extract<ChunkRequest, { op: 'put' }>): PutReply {
  const data = Buffer.from(request.memory, request.byteOffset, request.length);
  const state = writerState(request.writer, request.pool);
  const count = Math.ceil(request.length / request.blockSize);
  const entries = Buffer.alloc(count * ZERO_ENTRY.length);
  const base = Buffer.from(request.base.buffer, request.base.byteOffset, request.base.byteLength);
  const now = new Date();
  let changed = 0;
  let newChunks = 0;
  let storedBytes = 0;
  withLockFile(request.pool, (fd) => {
  for (let i = 0; i < count; i++) {
    const block = data.subarray(i * request.blockSize, Math.min(request.length, (i + 1) * request.blockSize));
    const entry = entries.subarray(i * ZERO_ENTRY.length, (i + 1) * ZERO_ENTRY.length);
    if (!isZeroBlock(block)) createHash('sha256').update(block).digest().copy(entry);
    if (entry.equals(base.subarray(i * ZERO_ENTRY.length, (i + 1) * ZERO_ENTRY.length))) continue;
    changed += block.length;
    if (entry.equals(ZERO_ENTRY)) continue;
    const written = ensureChunk(state, fd, entry.toString('hex'), block, now);
    if (written > 0) {
      newChunks += 1;
      storedBytes += written;
    }
  }
  });
  return { id: request.id, entries, changedBytes: changed, newChunks, storedBytes };
}

/** Sets the writer's chunks written so far aside for a flush; those written meanwhile wait for the next one. */
function seal(writer: string): number {
  const state = writers.get(writer);
  if (!state) return 0;
  state.sealed.push(...state.pending);
  state.pending = [];
  return state.sealed.length;
}

/**
 * Gives the sealed chunks their names once they are on disk (the caller
 * flushed the filesystem, or each is flushed here), so a crash never leaves
 * a partial chunk under its name.
 */
function rename(writer: string, synced: boolean): void {
  const state = writers.get(writer);
  if (!state) return;
  const sealed = state.sealed;
  state.sealed = [];
  if (!synced) for (const [temporary] of sealed) syncPath(temporary);
  for (const [temporary, final] of sealed) renameSync(temporary, final);
}

function syncNames(pool: string): void {
  if (withLockFile(pool, syncFilesystem)) return;
  for (let stripe = 0; stripe < STRIPES; stripe++) syncPath(stripeDirectory(pool, stripe));
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads one chunk into `target` (exactly its length); 'missing' or
 * 'damaged' when it cannot be those bytes, 'other-length' when the chunk
 * proves itself but is no block of that length: a damaged index naming a
 * sound chunk at the wrong block must not have it quarantined, away from
 * every revision that needs it.
 */
function readChunk(pool: string, name: string, target: Buffer, chunkSize: number): 'ok' | ChunkFailure {
  const outcome = readChunkInto(pool, name, target);
  return outcome === 'damaged' && pathProvesItself(chunkPath(pool, name), name, chunkSize) ? 'other-length' : outcome;
}

/** The chunk opened for reading; 'missing' or 'damaged' where there is no file to read (neither a link nor a FIFO is followed or waited on: no chunk is either). */
function openChunk(pool: string, name: string): number | 'missing' | 'damaged' {
  try {
    return openSync(chunkPath(pool, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a file of another kind in place of its stripe (or of the chunks directory) holds no chunk.
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    if (code === 'ELOOP' || code === 'ENXIO') return 'damaged';
    throw err;
  }
}

function readChunkInto(pool: string, name: string, target: Buffer): 'ok' | 'missing' | 'damaged' {
  const fd = openChunk(pool, name);
  if (typeof fd !== 'number') return fd;
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return 'damaged';
    const size = info.size;
    // A chunk is never larger than its block could compress to.
    if (size > zstd.compressBound(target.length)) return 'damaged';
    const raw = size === target.length ? target : scratchOf(size).subarray(0, size);
    if (readAll(fd, raw) < size) return 'damaged';
    if (raw !== target || raw.subarray(0, 4).equals(ZSTD_MAGIC)) {
      if (!raw.subarray(0, 4).equals(ZSTD_MAGIC)) return 'damaged';
      const source = raw === target ? Buffer.from(raw) : raw;
      try {
        if (decompressor.decompress(target, source) !== target.length) return 'damaged';
      } catch {
        return 'damaged';
      }
    }
  } finally {
    closeSync(fd);
  }
  return createHash('sha256').update(target).digest('hex') === name ? 'ok' : 'damaged';
}

function read(request: Extract<ChunkRequest, { op: 'read' }>): ReadReply {
  const memory = Buffer.from(request.memory);
  const failed: ReadReply['failed'] = [];
  request.blocks.forEach(({ at, length, name }, index) => {
    const outcome = readChunk(request.pool, name, memory.subarray(at, at + length), request.chunkSize);
    if (outcome !== 'ok') failed.push({ index, kind: outcome });
  });
  return { id: request.id, failed };
}

parentPort?.on('message', (request: ChunkRequest) => {
  try {
    if (request.op === 'put') {
      const reply = put(request);
      parentPort!.postMessage(reply, [reply.entries.buffer as ArrayBuffer]);
    } else if (request.op === 'read') {
      parentPort!.postMessage(read(request));
    } else if (request.op === 'seal') {
      parentPort!.postMessage({ id: request.id, count: seal(request.writer) });
    } else if (request.op === 'sync') {
      parentPort!.postMessage({ id: request.id, synced: withLockFile(request.pool, syncFilesystem) });
    } else if (request.op === 'rename') {
      rename(request.writer, request.synced);
      parentPort!.postMessage({ id: request.id });
    } else if (request.op === 'sync-names') {
      syncNames(request.pool);
      parentPort!.postMessage({ id: request.id });
    } else {
      const state = writers.get(request.writer);
      writers.delete(request.writer);
      for (const [temporary] of [...(state?.pending ?? []), ...(state?.sealed ?? [])]) {
        try {
          unlinkSync(temporary);
        } catch {
          // Left for the next garbage collection.
        }
      }
      parentPort!.postMessage({ id: request.id });
    }
  } catch (err) {
    parentPort!.postMessage({ id: request.id, error: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
  }
});
