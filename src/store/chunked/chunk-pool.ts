import { closeSync, constants, lstatSync, mkdirSync, openSync } from 'node:fs';
import { link, mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import fsx from 'fs-native-extensions';
import { CORE_SCHEMA, dump, load } from 'js-yaml';
import { createFileAtomic } from '../../util/atomic-file.js';
import { NotRegularFileError, readSmallFile } from '../../util/regular-file.js';
import { BackyError, errorCode } from '../../util/errors.js';
import { HASH_BLOCK_SIZE, isRecordedBlockSize } from '../../integrity/block-hash.js';
import { chunkPath, CHUNKS_DIR, DAMAGED_DIR, isChunkName, LOCK_FILE, POOL_FILE, STRIPES, stripeDirectory, WRITERS_DIR } from './pool-layout.js';
import { quarantineChunk } from './chunk-aside.js';
import { unlinkIfStale } from '../../util/unlink.js';

/**
 * 64 KiB, the block size in which backups compare and hash (chosen by
 * measurement, see the README): a 1 % change in scattered 64 KiB writes
 * costs 1 % of the image, where 256 KiB chunks cost 4 %.
 */
export const DEFAULT_CHUNK_SIZE = HASH_BLOCK_SIZE;

// js-yaml, as for `.rev` files: `status` loads this module, and another
// YAML library and a schema library would double its start-up time.
function readYaml(text: string): Record<string, unknown> | null {
  try {
    const data: unknown = load(text, { schema: CORE_SCHEMA });
    return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A pool's chunk size from its description, or null where it is none: format 1, a power of two from 4 KiB to 4 MiB. */
function poolChunkSize(text: string): number | null {
  const data = readYaml(text);
  const size: unknown = data?.chunk_size;
  return data?.format === 1 && isRecordedBlockSize(size) ? size : null;
}

/** A pool's description file, or null where there is none; one that is no regular file (a FIFO would block every command) is an error. */
async function readDescription(file: string): Promise<string | null> {
  try {
    return await readSmallFile(file, 64 * 1024);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    if (errorCode(err) === 'ENOTDIR') throw new BackyError(`${dirname(file)} cannot be a chunk pool: it, or a directory above it, is a file of another kind`);
    if (err instanceof NotRegularFileError) throw new BackyError(`${file} cannot be a chunk pool description: ${err.message}`);
    throw err;
  }
}

/** When a registered writer started (ms since the epoch); 0, the oldest possible, where its file says nothing usable. */
function writerStarted(text: string): number {
  const started = readYaml(text)?.started;
  return typeof started === 'number' && Number.isSafeInteger(started) && started >= 0 ? started : 0;
}

/** A live backup writing into the pool. */
export interface WriterRegistration {
  readonly id: string;
  release(): Promise<void>;
}

/**
 * A directory of chunks shared by the revisions of one or many jobs (see
 * pool-layout.ts for what lies where). Chunks are only ever added by
 * backups and deleted by the garbage collection; the two meet through the
 * stripe locks and the writer registrations.
 */
export class ChunkPool {
  private constructor(
    readonly path: string,
    readonly chunkSize: number,
  ) {}

  /** The pool at `path`; created (with `chunkSize`) when `create` and there is none. */
  static async open(path: string, options: { create: boolean; chunkSize?: number }): Promise<ChunkPool> {
    const file = join(path, POOL_FILE);
    let text = await readDescription(file);
    const created = text === null;
    if (created) {
      if (!options.create) throw new BackyError(`there is no chunk pool at ${path} (its ${POOL_FILE} file is missing)`);
      await ChunkPool.create(path, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
      text = await readDescription(file);
    }
    const chunkSize = text === null ? null : poolChunkSize(text);
    if (chunkSize === null) throw new BackyError(`${file} is not a chunk pool description (expected format: 1 and chunk_size)`);
    const pool = new ChunkPool(path, chunkSize);
    if (options.create && !created) pool.checkLayout(true);
    return pool;
  }

  /** Lays out a new pool; a second process doing the same at once is fine. */
  private static async create(path: string, chunkSize: number): Promise<void> {
    await mkdir(path, { recursive: true });
    new ChunkPool(path, chunkSize).checkLayout(true);
    // Last, and never replacing one that another process wrote meanwhile.
    const temporary = join(path, `.${POOL_FILE}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temporary, dump({ format: 1, chunk_size: chunkSize }), { mode: 0o444 });
    try {
      await link(temporary, join(path, POOL_FILE));
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    } finally {
      await unlink(temporary);
    }
  }

  /**
   * Refuses a pool that is a link, or whose stripes are not directories of its own (a link
   * would have chunks written, or collected, wherever it points) or whose
   * lock file is no regular file; with `create` (a backup) makes again what
   * was deleted by hand (the chunks of a stripe deleted are missing: damage
   * that reads find and backups heal). Reads need neither: every chunk
   * read is proven against its name.
   */
  checkLayout(create: boolean): void {
    // The pool's own directory too: `{job}/chunks` linked to the shared pool (or another job's) would have this job's
    // collection delete every chunk only the other jobs name, and their collections delete this job's.
    if (lstatSync(this.path, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new BackyError(`${this.path} is a link, not a chunk pool's own directory (it may be another job's pool): nothing is written or collected there`);
    }
    const directories = [CHUNKS_DIR, WRITERS_DIR, DAMAGED_DIR].map((name) => join(this.path, name));
    for (let stripe = 0; stripe < STRIPES; stripe++) directories.push(stripeDirectory(this.path, stripe));
    for (const directory of directories) {
      const info = lstatSync(directory, { throwIfNoEntry: false });
      if (info?.isDirectory()) continue;
      if (info) throw new BackyError(`${directory} is not a directory of the chunk pool (a link or another kind of file): nothing is written there`);
      if (!create) continue;
      try {
        mkdirSync(directory);
      } catch (err) {
        // Another backup made it meanwhile.
        if (errorCode(err) !== 'EEXIST' || !lstatSync(directory).isDirectory()) throw err;
      }
    }
    const locks = join(this.path, LOCK_FILE);
    const info = lstatSync(locks, { throwIfNoEntry: false });
    if (info && !info.isFile()) throw new BackyError(`${locks} is not the chunk pool's lock file (a link or another kind of file): nothing is written in the pool`);
    if (!info && create) closeSync(openSync(locks, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644));
  }

  chunkPath(name: string): string {
    return chunkPath(this.path, name);
  }

  /**
   * Registers a backup about to write: until it is released (or its
   * process dies) no garbage collection deletes a chunk written or touched
   * after `started`. The file is locked before it is given its name, so a
   * collection never finds it unlocked while the backup lives.
   */
  async registerWriter(): Promise<WriterRegistration> {
    const id = randomBytes(12).toString('hex');
    const temporary = join(this.path, WRITERS_DIR, `.${id}.tmp`);
    const handle = await open(temporary, 'wx', 0o644);
    if (!fsx.tryLock(handle.fd)) throw new Error(`cannot lock ${temporary}`);
    const started = Date.now();
    await handle.writeFile(dump({ started }));
    const final = join(this.path, WRITERS_DIR, id);
    await rename(temporary, final);
    return {
      id,
      release: async () => {
        await unlink(final).catch(() => undefined);
        await handle.close();
      },
    };
  }

  /**
   * When the oldest live writer started (ms), or null without one; removes
   * the registrations of writers that died. Unreadable registrations count
   * as started at 0: nothing is collected until they are gone.
   */
  async oldestWriter(): Promise<number | null> {
    let oldest: number | null = null;
    for (const name of await readdir(join(this.path, WRITERS_DIR))) {
      // A registration being made (see registerWriter), or one a backup killed at that moment left.
      if (/^\.[0-9a-f]{24}\.tmp$/.test(name)) await unlinkIfStale(join(this.path, WRITERS_DIR, name));
      if (name.startsWith('.')) continue;
      const path = join(this.path, WRITERS_DIR, name);
      let handle;
      try {
        handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch (err) {
        // A link is no registration (those are files, locked before they are named): counted, it would stop every collection for good.
        if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ELOOP') continue;
        oldest = 0;
        continue;
      }
      try {
        if (fsx.tryLock(handle.fd, { shared: true })) {
          await unlink(path).catch(() => undefined);
          continue;
        }
        const started = writerStarted(await handle.readFile('utf8'));
        oldest = oldest === null ? started : Math.min(oldest, started);
      } catch {
        oldest = 0;
      } finally {
        await handle.close();
      }
    }
    return oldest;
  }

  /**
   * Moves a chunk whose bytes are not its name out of the pool (or notes
   * one that is missing), so that the next backup of every job that needs
   * its block writes it again; leaves a sound one that a backup wrote
   * again since the read that failed (see quarantineChunk).
   */
  async quarantine(name: string): Promise<void> {
    if (!isChunkName(name)) return;
    // Made again where it was deleted by hand: the rename into it would fail as for a missing chunk, leaving the damaged one in use.
    await mkdir(join(this.path, DAMAGED_DIR)).catch((err: unknown) => {
      if (errorCode(err) !== 'EEXIST') throw err;
    });
    // A link (or a file) in place of one of the pool's directories would have the chunk moved, and notes made, wherever
    // it points: nothing is moved then. The read fails with the damage all the same, and backups refuse such a pool.
    if (!this.ownDirectories([CHUNKS_DIR, join(CHUNKS_DIR, name.slice(0, 2)), DAMAGED_DIR])) return;
    if (quarantineChunk(this.path, name, this.chunkSize) !== 'nothing') return;
    // Missing: noted by an empty file, unless the name is noted already (in whatever form, which it never replaces).
    const marker = join(this.path, DAMAGED_DIR, name);
    if (lstatSync(marker, { throwIfNoEntry: false })) return;
    await createFileAtomic(marker, '', 0o444).catch((err: unknown) => {
      if (errorCode(err) !== 'EEXIST') throw err;
    });
  }

  /** Whether none of these paths below the pool is a link or another kind of file than a directory (missing ones hold nothing). */
  private ownDirectories(paths: string[]): boolean {
    return paths.every((path) => lstatSync(join(this.path, path), { throwIfNoEntry: false })?.isDirectory() ?? true);
  }

  /** Names of the chunks found damaged or missing; none where the damaged directory is none of the pool's (no quarantine notes there). */
  async damaged(): Promise<string[]> {
    if (!this.ownDirectories([DAMAGED_DIR])) return [];
    try {
      return (await readdir(join(this.path, DAMAGED_DIR))).filter(isChunkName);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw err;
    }
  }
}
