import { randomBytes } from 'node:crypto';
import { chmod, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { HashRecordWriter, type RecordedHashes } from '../integrity/hash-record.js';
import { unlinkIfPresent } from '../util/unlink.js';
import { assertRevisionId } from './revision-id.js';

/**
 * Hash records (a cow store's `{id}.hashes`, a chunked store's
 * `{id}.index`) written after the fact for a committed revision: each under
 * a name of its own, `.{id}{suffix}.{random}.tmp` (two verifications may
 * record the same revision's hashes at once), and renamed into place,
 * read-only, once complete.
 */
export class PendingRecords {
  private readonly pattern: RegExp;
  /**
   * Pending records by revision, listed once per store (per command):
   * removing thousands of revisions must not list the directory for each.
   * One that a verification still running creates later is its own to
   * clean up.
   */
  private listed: Promise<Map<string, string[]>> | null = null;

  constructor(
    private readonly directory: string,
    private readonly suffix: string,
  ) {
    this.pattern = new RegExp(`^\\.(.+)${suffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\.[0-9a-f]{8})?\\.tmp$`);
  }

  /** The revision a pending record's file name belongs to, or undefined where the name is no pending record. */
  owner(name: string): string | undefined {
    return this.pattern.exec(name)?.[1];
  }

  /** The pending records of revision `id`, found by the first call of this store; each is handed out once. */
  async take(id: string): Promise<string[]> {
    this.listed ??= readdir(this.directory)
      .catch(() => [] as string[])
      .then((names) => {
        const byRevision = new Map<string, string[]>();
        for (const name of names) {
          const owner = this.owner(name);
          if (owner) byRevision.set(owner, [...(byRevision.get(owner) ?? []), join(this.directory, name)]);
        }
        return byRevision;
      });
    const byRevision = await this.listed;
    const paths = byRevision.get(id) ?? [];
    byRevision.delete(id);
    return paths;
  }

  /** Fills a new record of revision `id` under a pending name and renames it to `final`; a failure leaves nothing. */
  async write(id: string, final: string, blockSize: number, size: number, fill: (record: HashRecordWriter) => Promise<void>): Promise<RecordedHashes> {
    const pending = join(this.directory, `.${assertRevisionId(id)}${this.suffix}.${randomBytes(4).toString('hex')}.tmp`);
    const record = await HashRecordWriter.create(pending, blockSize, size);
    try {
      await fill(record);
      const recorded = await record.finish();
      await chmod(pending, 0o440);
      await rename(pending, final);
      return recorded;
    } catch (err) {
      await unlinkIfPresent(pending);
      throw err;
    } finally {
      await record.close();
    }
  }
}
