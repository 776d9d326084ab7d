import { readdir, readFile, rename, stat, symlink, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.js';
import { BackyError, describeIoError, errorCode } from '../util/errors.js';
import { FileLock } from '../util/lock.js';
import type { Logger } from '../util/logger.js';
import { syncDirectory } from '../util/fsync.js';
import { isComplete, readRevisionFile, writeRevisionFile, type Revision } from './revision.js';
import { isRevisionId } from './revision-id.js';

export const CONFIG_FILE = 'config';
export const LOCK_FILE = '.backy.lock';
export const LOG_FILE = 'backy.log';

/**
 * A job directory: its source configuration, its revisions (`{id}` image +
 * `{id}.rev` metadata), the `last` links and the lock that serializes
 * every command that changes it.
 */
export class JobDirectory {
  readonly path: string;

  constructor(path: string) {
    this.path = resolve(path);
  }

  get configPath(): string {
    return join(this.path, CONFIG_FILE);
  }

  imagePath(id: string): string {
    return join(this.path, id);
  }

  revisionPath(id: string): string {
    return join(this.path, `${id}.rev`);
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

  /** The raw source configuration (validated by the source registry). */
  async readConfig(): Promise<Record<string, unknown>> {
    await this.ensureExists();
    let text: string;
    try {
      text = await readFile(this.configPath, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') throw this.noConfigError();
      throw describeIoError(err, `cannot read ${this.configPath}`);
    }
    let data: unknown;
    try {
      data = YAML.parse(text);
    } catch (err) {
      throw new BackyError(`${this.configPath}: invalid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      throw new BackyError(`${this.configPath}: expected a mapping with the source's "type" and parameters`);
    }
    const record = data as Record<string, unknown>;
    // backy 2.0 nested the source under `source:` beside the schedule.
    const source = record.source;
    if (source && typeof source === 'object' && !Array.isArray(source)) return source as Record<string, unknown>;
    return record;
  }

  private noConfigError(): BackyError {
    return new BackyError(`no job configuration at ${this.configPath} (create it with 'backy init' or the scheduler)`);
  }

  async writeConfig(config: Record<string, unknown>): Promise<void> {
    await writeFileAtomic(this.configPath, YAML.stringify(config));
  }

  /** Every revision with readable metadata, oldest first. */
  async revisions(logger?: Logger): Promise<Revision[]> {
    await this.ensureExists();
    const names = await readdir(this.path);
    const revisions: Revision[] = [];
    for (const name of names) {
      if (!name.endsWith('.rev') || name.startsWith('.') || name === 'last.rev') continue;
      try {
        revisions.push(await readRevisionFile(join(this.path, name)));
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue; // removed while we listed
        logger?.warn(`ignoring unreadable revision file ${join(this.path, name)}: ${(err as Error).message}`);
      }
    }
    return revisions.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  }

  async lock(what = `a backup of ${this.path}`): Promise<FileLock> {
    await this.ensureExists();
    return FileLock.acquireOrFail(join(this.path, LOCK_FILE), what);
  }

  async waitForLock(): Promise<FileLock> {
    await this.ensureExists();
    return FileLock.acquire(join(this.path, LOCK_FILE));
  }

  async writeRevision(revision: Revision): Promise<void> {
    await writeRevisionFile(this.revisionPath(revision.uuid), revision);
  }

  /** Removes a revision: metadata first, so a crash never leaves an image that looks complete. */
  async removeRevision(id: string): Promise<void> {
    await unlinkIfPresent(this.revisionPath(id));
    await unlinkIfPresent(this.imagePath(id));
    await syncDirectory(this.path);
  }

  /**
   * Removes revisions whose backup never finished and image files without
   * metadata (a backup killed between creating the two). Caller holds the lock.
   */
  async removeIncomplete(logger: Logger): Promise<string[]> {
    const revisions = await this.revisions(logger);
    const removed: string[] = [];
    for (const revision of revisions.filter((r) => !isComplete(r))) {
      logger.info(`removing incomplete revision ${revision.uuid}`);
      await this.removeRevision(revision.uuid);
      removed.push(revision.uuid);
    }
    const known = new Set(revisions.map((r) => r.uuid));
    for (const name of await readdir(this.path)) {
      if (isRevisionId(name) && !known.has(name)) {
        logger.info(`removing image ${name} that has no revision metadata`);
        await unlinkIfPresent(this.imagePath(name));
        removed.push(name);
      } else if (name.startsWith('.') && name.endsWith('.tmp')) {
        await unlinkIfPresent(join(this.path, name));
      }
    }
    return removed;
  }

  /** Points `last` and `last.rev` at the newest complete revision (or removes them). */
  async updateLastLinks(): Promise<void> {
    const complete = (await this.revisions()).filter(isComplete);
    const newest = complete[complete.length - 1];
    for (const [link, target] of [
      ['last', newest?.uuid],
      ['last.rev', newest ? `${newest.uuid}.rev` : undefined],
    ] as const) {
      const linkPath = join(this.path, link);
      if (!target) {
        await unlinkIfPresent(linkPath);
        continue;
      }
      const tmp = join(this.path, `.${link}.${process.pid}.tmp`);
      await unlinkIfPresent(tmp);
      await symlink(target, tmp);
      await rename(tmp, linkPath);
    }
    await syncDirectory(this.path);
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}
