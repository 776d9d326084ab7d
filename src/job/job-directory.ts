import { lstat, rename, stat, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
// js-yaml, as for `.rev` files: every job command reads the config, and
// loading the `yaml` package alone took a fifth of a command's start.
import { CORE_SCHEMA, dump, load } from 'js-yaml';
import { atomicTemporaryOf, createFileAtomic, writeFileAtomic } from '../util/atomic-file.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { syncDirectory } from '../util/fsync.js';
import { DEFAULT_STORE, openJobStores, POOL_CHOICES, type PoolChoice } from '../store/registry.js';
import { assertRevisionId, isGeneratedRevisionId, isRevisionId } from '../store/revision-id.js';
import type { DirectoryListing, Store } from '../store/store.js';
import { readListing } from '../store/directory-listing.js';
import { FileLock } from '../util/lock.js';
import { isDanglingLink, NotRegularFileError, readSmallFile, readSmallFileSync } from '../util/regular-file.js';
import { JobLock } from './job-lock.js';
import { isComplete, isInterrupted, MisnamedRevisionError, parseRevision, RevisionFileError, writeRevisionFile, type Revision } from './revision.js';
import { unlinkIfPresent, unlinkIfStale } from '../util/unlink.js';

/** Asked before each revision a removal takes, and told when it is gone. */
export interface RemovalCheck {
  mayRemove(id: string): boolean;
  removed(id: string): void;
}

export const CONFIG_FILE = 'config';
export const LOCK_FILE = '.backy.lock';
/**
 * Held while existing `.rev` files are rewritten or removed (retention,
 * and noting a verification's outcome), so that a verification never
 * waits for a backup, which holds LOCK_FILE for as long as it runs.
 */
export const METADATA_LOCK_FILE = '.backy.rev.lock';
export const LOG_FILE = 'backy.log';
const LAST_LINKS = ['last', 'last.rev'];

/** How far a revision's timestamp may lie ahead of the clock (skew between hosts) before it is not believed. */
export const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
/** `.rev` files read between turns of the event loop. */
const READ_BATCH = 250;

/** A `.rev` named for a revision that could not be used; its data is left alone. */
export interface UnreadableRevision {
  id: string;
  reason: string;
}

/** A `.rev` under another revision's name whose `uuid` is a revision listed in its own right: a copy, ignored. */
export interface RevisionCopy {
  id: string;
  of: string;
}

/** What one read of a job directory found. */
export interface JobScan {
  /** Revisions with usable metadata, oldest first. */
  revisions: Revision[];
  unreadable: UnreadableRevision[];
  /** Never listed, but like unreadable ones their data is left alone. */
  copies: RevisionCopy[];
  /** The directory's entries as this read found them, for the store's own questions. */
  listing: DirectoryListing;
}

/** A job's `config`: its source, and which store keeps its data (and for a chunked one, which pool). */
export interface JobConfigFile {
  source: Record<string, unknown>;
  store: string;
  pool: PoolChoice;
}

/**
 * A job directory: its source configuration, its revisions' metadata
 * (`{id}.rev`), the `last` links and the lock that serializes every command
 * that changes it. The revisions' data belongs to the job's store.
 */
export class JobDirectory {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  get configPath(): string {
    return join(this.path, CONFIG_FILE);
  }

  revisionPath(id: string): string {
    return join(this.path, `${assertRevisionId(id)}.rev`);
  }

  /** Whether the revision's `.rev` is still there: retention may have removed it since a scan. */
  async hasRevisionFile(id: string): Promise<boolean> {
    return lstat(this.revisionPath(id)).then(
      () => true,
      (err: unknown) => {
        if (errorCode(err) === 'ENOENT') return false;
        throw err;
      },
    );
  }

  /** Fails unless the directory exists. */
  async ensureExists(): Promise<void> {
    try {
      const info = await stat(this.path);
      if (!info.isDirectory()) throw new BackyError(`${this.path} is not a directory`);
    } catch (err) {
      throw describeIoError(err, `job directory ${this.path}`);
    }
  }

  async hasConfig(): Promise<boolean> {
    try {
      await stat(this.configPath);
      return true;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw describeIoError(err, `cannot read ${this.configPath}`);
    }
  }

  /**
   * Fails unless this is a job directory: it exists and has a config. A
   * mistyped `-b` (or none, in the wrong working directory) must not look
   * like a job without revisions.
   */
  async ensureJob(): Promise<void> {
    await this.ensureExists();
    if (!(await this.hasConfig())) throw this.noConfigError();
  }

  /** The source configuration (validated by the source registry) and the store's name. */
  async readConfig(): Promise<JobConfigFile> {
    await this.ensureExists();
    let text: string;
    try {
      text = await readSmallFile(this.configPath);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw this.noConfigError();
      throw describeIoError(err, `cannot read ${this.configPath}`);
    }
    let data: unknown;
    try {
      data = load(text, { schema: CORE_SCHEMA });
    } catch (err) {
      throw new BackyError(`${this.configPath}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (!isMapping(data)) throw new BackyError(`${this.configPath}: expected a mapping with the source's "type" and parameters`);
    const { store = DEFAULT_STORE, chunk_pool: pool = 'job', ...rest } = data;
    if (typeof store !== 'string') throw new BackyError(`${this.configPath}: store: expected the name of a store (e.g. cow)`);
    if (!POOL_CHOICES.includes(pool as PoolChoice)) {
      throw new BackyError(`${this.configPath}: chunk_pool: expected ${POOL_CHOICES.join(' or ')} (where a chunked job keeps its chunks)`);
    }
    // backy 2.0 nested the source under `source:` beside the schedule.
    const source = isMapping(rest.source) ? rest.source : rest;
    return { source, store, pool: pool as PoolChoice };
  }

  /** The stores of this job: the one its `config` names, and those of revisions made before it changed. */
  async store(): Promise<Store> {
    const { store, pool } = await this.readConfig();
    return this.openStore(store, pool);
  }

  openStore(name: string, pool: PoolChoice = 'job'): Store {
    try {
      return openJobStores(name, this.path, pool);
    } catch (err) {
      throw new BackyError(`${this.configPath}: ${(err as Error).message}`);
    }
  }

  private noConfigError(): BackyError {
    return new BackyError(`no job configuration at ${this.configPath} (create it with 'backy init' or the scheduler)`);
  }

  async writeConfig(config: Record<string, unknown>): Promise<void> {
    // Read-only, as backy 2.x writes it; replaced atomically, never in place.
    await writeFileAtomic(this.configPath, serializeJobConfig(config), 0o440);
  }

  /** Writes the config of a new job: EEXIST where the job has one, also one written by another process just now. */
  async createConfig(config: Record<string, unknown>): Promise<void> {
    await createFileAtomic(this.configPath, serializeJobConfig(config), 0o440);
  }

  /**
   * Reads every revision's metadata once. A revision's identity is its file
   * name: `.rev` files not named for a revision ID are no revisions; those
   * that are but cannot be used are reported as unreadable, never deleted,
   * and keep their data from ever being taken for a leftover.
   */
  async scan(logger?: Logger): Promise<JobScan> {
    await this.ensureExists();
    let listing: DirectoryListing;
    try {
      listing = await readListing(this.path);
    } catch (err) {
      throw describeIoError(err, `cannot list job directory ${this.path}`);
    }
    const ids: string[] = [];
    for (const { name } of listing.entries) {
      if (!name.endsWith('.rev') || LAST_LINKS.includes(name)) continue;
      const id = name.slice(0, -'.rev'.length);
      if (isRevisionId(id)) ids.push(id);
      else if (!name.startsWith('.')) logger?.warn(`ignoring ${join(this.path, name)}: not named for a revision ID`);
    }
    const revisions: Revision[] = [];
    const unreadable: UnreadableRevision[] = [];
    const misnamed: (UnreadableRevision & { uuid: string })[] = [];
    // The IDs are checked already: no join and no second check per file (10,000 per `status`).
    const directory = join(this.path, '/');
    for (const [index, id] of ids.entries()) {
      // Read synchronously, a few hundred at a time: a `.rev` is read in
      // microseconds, a round trip through the thread pool takes ten times
      // that; the scheduler's event loop still gets its turns.
      if (index > 0 && index % READ_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
      try {
        revisions.push(parseRevision(readSmallFileSync(`${directory}${id}.rev`), id));
      } catch (err) {
        if (err instanceof MisnamedRevisionError) {
          misnamed.push({ id, uuid: err.uuid, reason: err.message });
          continue;
        }
        // Removed while we listed, unless a link to nothing is left: its image is still no leftover.
        if (errorCode(err) === 'ENOENT' && !isDanglingLink(this.revisionPath(id))) continue;
        const reason =
          err instanceof RevisionFileError || err instanceof NotRegularFileError
            ? err.message
            : errorCode(err) === 'ENOENT'
              ? 'it is a symbolic link to nothing'
              : describeIoError(err, 'cannot read it').message;
        logger?.warn(`revision ${id} is unreadable and left alone: ${this.revisionPath(id)}: ${reason}`);
        unreadable.push({ id, reason });
      }
    }
    // The revision is listed once, under its own file's name, as identity is by file name.
    const listed = new Set(revisions.map((r) => r.uuid));
    const copies: RevisionCopy[] = [];
    for (const { id, uuid, reason } of misnamed) {
      if (listed.has(uuid)) {
        logger?.warn(`ignoring ${this.revisionPath(id)}: a copy of revision ${uuid}'s metadata, which ${this.revisionPath(uuid)} holds`);
        copies.push({ id, of: uuid });
      } else {
        logger?.warn(`revision ${id} is unreadable and left alone: ${this.revisionPath(id)}: ${reason}`);
        unreadable.push({ id, reason });
      }
    }
    revisions.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime() || (a.uuid < b.uuid ? -1 : 1));
    unreadable.sort((a, b) => (a.id < b.id ? -1 : 1));
    return { revisions, unreadable, copies, listing };
  }

  /** Every revision with usable metadata, oldest first. */
  async revisions(logger?: Logger): Promise<Revision[]> {
    return (await this.scan(logger)).revisions;
  }

  async lock(what = `a backup of ${this.path}`): Promise<JobLock> {
    await this.ensureExists();
    return JobLock.acquireOrFail(this.path, LOCK_FILE, CONFIG_FILE, what);
  }

  async waitForLock(): Promise<JobLock> {
    await this.ensureExists();
    return JobLock.acquire(this.path, LOCK_FILE, CONFIG_FILE);
  }

  /** Waits for the lock on rewriting existing revisions' metadata. */
  async metadataLock(): Promise<FileLock> {
    await this.ensureExists();
    return FileLock.acquire(join(this.path, METADATA_LOCK_FILE));
  }

  async writeRevision(revision: Revision): Promise<void> {
    await writeRevisionFile(this.revisionPath(revision.uuid), revision);
  }

  /** Rewrites many revisions' metadata with one flush of the directory (retention's retagging). */
  async writeRevisions(revisions: readonly Revision[]): Promise<void> {
    for (const revision of revisions) await writeRevisionFile(this.revisionPath(revision.uuid), revision, false);
    if (revisions.length > 0) await syncDirectory(this.path);
  }

  /**
   * Removes revisions: each one's metadata first, so a crash never leaves
   * data that looks complete, then its data; the directory is flushed once
   * for all of them. With a `guard`, only those it lets go (it is told when
   * each is gone). Returns the IDs removed.
   */
  async removeRevisions(ids: readonly string[], store: Store, guard?: RemovalCheck): Promise<string[]> {
    const removed: string[] = [];
    for (const id of ids) {
      if (guard && !guard.mayRemove(id)) continue;
      try {
        await unlinkIfPresent(this.revisionPath(id));
        await store.remove(id);
      } finally {
        guard?.removed(id);
      }
      removed.push(id);
    }
    if (removed.length > 0) await syncDirectory(this.path);
    return removed;
  }

  /**
   * Removes what interrupted backups left: revisions whose own metadata
   * says they never finished (as such a backup leaves it, see
   * isInterrupted), and data with no `.rev` at all. Nothing whose `.rev`
   * could not be read, or is damaged, is touched. Caller holds the lock.
   */
  async removeIncomplete(scan: JobScan, store: Store, logger: Logger): Promise<string[]> {
    const incomplete: string[] = [];
    for (const r of scan.revisions) {
      if (isInterrupted(r)) incomplete.push(r.uuid);
      else if (!isComplete(r)) logger.warn(`revision ${r.uuid} has no duration but records what only a finished backup does: its .rev is damaged, left alone: ${this.revisionPath(r.uuid)}`);
    }
    const known = new Set([...scan.revisions.map((r) => r.uuid), ...[...scan.unreadable, ...scan.copies].map((r) => r.id)]);
    const names = new Set(scan.listing.entries.map((entry) => entry.name));
    const orphans = (await store.list(scan.listing)).filter((id) => !known.has(id) && leftByBackup(id, names));
    for (const id of incomplete) logger.info(`removing incomplete revision ${id}`);
    for (const id of orphans) logger.info(`removing data of ${id}, which has no revision metadata`);
    await this.removeRevisions([...incomplete, ...orphans], store);
    // Left by a command killed while it replaced a `last` link; the lock keeps new ones from appearing since the scan.
    for (const entry of scan.listing.entries) {
      const name = entry.name;
      // A directory under such a name is none of ours: unlinking it failed every backup with EISDIR.
      if (name.startsWith('.last') && name.endsWith('.tmp')) {
        if (!entry.isDirectory()) await unlinkIfPresent(join(this.path, name));
      }
      // Left by a command killed while it rewrote a `.rev` or the config; a verification (which takes no lock) may be writing one now, but not for an hour.
      else if (isStaleCandidate(name)) await unlinkIfStale(join(this.path, name));
    }
    const removed = new Set(incomplete);
    scan.revisions = scan.revisions.filter((r) => !removed.has(r.uuid));
    return [...incomplete, ...orphans];
  }

  /**
   * Points `last` and `last.rev` at `newest` (or removes them). A link that
   * cannot be replaced (a directory in the way) is a warning: the links are
   * a convenience, the revisions are what counts.
   */
  async updateLastLinks(newest: Revision | null, logger: Logger): Promise<void> {
    // `last` only where the newest has an image file: the job's store does not tell, since after a change of store the newest may be in the other one.
    const image = newest ? await lstat(join(this.path, assertRevisionId(newest.uuid))).catch(() => null) : null;
    const targets: Array<[string, string | undefined]> = [
      ['last', newest && image?.isFile() ? newest.uuid : undefined],
      ['last.rev', newest ? `${newest.uuid}.rev` : undefined],
    ];
    for (const [link, target] of targets) {
      const linkPath = join(this.path, link);
      try {
        const existing = await lstat(linkPath).catch((err: unknown) => {
          if (errorCode(err) === 'ENOENT') return null;
          throw err;
        });
        if (existing && !existing.isSymbolicLink()) {
          logger.warn(`${linkPath} is not a symbolic link; leaving it alone (remove it to have backy keep it up to date)`);
          continue;
        }
        if (!target) {
          await unlinkIfPresent(linkPath);
          continue;
        }
        const tmp = join(this.path, `.${link}.${process.pid}.tmp`);
        await unlinkIfPresent(tmp);
        await symlink(target, tmp);
        await rename(tmp, linkPath);
      } catch (err) {
        logger.warn(`cannot update ${linkPath}: ${describeIoError(err, 'error').message.replace(/^error: /, '')}`);
      }
    }
    await syncDirectory(this.path);
  }
}

/**
 * Whether data without a `.rev` is what an interrupted backup left, and so
 * backy's to remove: under an ID backy makes, or (for the decimal IDs of
 * backy 2.x, which no backup makes now) beside a hash record or index that
 * only backy writes. A file merely named like a number is the operator's.
 */
function leftByBackup(id: string, names: ReadonlySet<string>): boolean {
  return isGeneratedRevisionId(id) || names.has(`${id}.hashes`) || names.has(`${id}.index`);
}

/**
 * The revision everything defaults to ("last"): the newest complete one
 * whose timestamp is not implausibly far in the future — a clock that was
 * wrong once must not hide every later backup.
 */
export function believable(revisions: readonly Revision[], now: Date): Revision[] {
  const limit = now.getTime() + FUTURE_TOLERANCE_MS;
  return revisions.filter((r) => r.timestamp.getTime() <= limit);
}

/** A job's `config` as written: what the scheduler compares with the file to see whether it changed. */
export function serializeJobConfig(config: Record<string, unknown>): string {
  return dump(config, { schema: CORE_SCHEMA });
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `name` is the temporary file of a `.rev` or of the config. */
function isStaleCandidate(name: string): boolean {
  const written = atomicTemporaryOf(name);
  if (written === undefined) return false;
  return written === 'config' || (written.endsWith('.rev') && isRevisionId(written.slice(0, -'.rev'.length)));
}
