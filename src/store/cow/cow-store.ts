import { constants } from 'node:fs';
import { chmod, copyFile, lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { ImageFile } from '../../io/image-file.js';
import { HASH_BLOCK_SIZE } from '../../integrity/block-hash.js';
import { HashRecord, HashRecordWriter, readRecordHeader, type RecordedHashes } from '../../integrity/hash-record.js';
import { openRegularFile } from '../../util/regular-file.js';
import { assertRevisionId, isRevisionId } from '../revision-id.js';
import type { CloneMethod, DataState, DirectoryListing, RevisionWriter, Store } from '../store.js';
import { entriesOf } from '../directory-listing.js';
import { ParentUnreadableError, StoreError } from '../store.js';
import { PendingRecords } from '../pending-records.js';
import { CowRevisionReader } from './cow-reader.js';
import { CowRevisionWriter } from './cow-writer.js';
import { DeltaWriter } from './delta-writer.js';
import { HashTracker } from './hash-tracker.js';
import { unlinkIfPresent } from '../../util/unlink.js';

const REFLINK_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);
/** Failures of cloning that are the new image's (a full disk), not the parent's. */
const OUR_SIDE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EEXIST']);
const RECORD_SUFFIX = '.hashes';

/**
 * backy 2.0's layout: one plain image file `{job}/{id}` per revision,
 * created as a reflink clone of the parent's image so that unchanged
 * blocks are shared by the filesystem (btrfs, XFS), read-only once
 * complete; its block hashes beside it in `{id}.hashes`. Without reflink
 * support every revision is a full sparse copy of the source: that works,
 * but costs the space of the whole image.
 */
export class CowStore implements Store {
  readonly name = 'cow';

  private readonly pendingRecords: PendingRecords;

  constructor(private readonly directory: string) {
    this.pendingRecords = new PendingRecords(directory, RECORD_SUFFIX);
  }

  filePath(id: string): string {
    return join(this.directory, assertRevisionId(id));
  }

  private recordPath(id: string): string {
    return join(this.directory, `${assertRevisionId(id)}${RECORD_SUFFIX}`);
  }

  async create(id: string, parent: { id: string; hashes: RecordedHashes | null } | null, logger: Logger): Promise<RevisionWriter> {
    const clone = await this.createImage(id, parent?.id ?? null, logger);
    const path = this.filePath(id);
    const handle = await open(path, 'r+');
    let parentHandle: FileHandle | null = null;
    let record: HashRecordWriter | null = null;
    try {
      if (clone !== 'reflink' || !parent) {
        record = await HashRecordWriter.create(this.recordPath(id), HASH_BLOCK_SIZE, 0);
        // Filled whole: written past the page cache (and verified by
        // checksums of what was written); a clone's few changed blocks are not.
        const image = await ImageFile.open(handle, path, 'r+');
        return new CowRevisionWriter(await DeltaWriter.open(image, { kind: 'empty' }, new HashTracker(record, 0, 0)), record, clone, [path, this.recordPath(id)]);
      }
      parentHandle = await open(this.filePath(parent.id), 'r').catch((err: unknown) => {
        throw new ParentUnreadableError(parent.id, err);
      });
      const parentSize = (await parentHandle.stat()).size;
      const inherited = await this.provenRecord(parent.id, parentSize, parent.hashes, logger);
      record = await HashRecordWriter.create(this.recordPath(id), HASH_BLOCK_SIZE, parentSize, inherited ?? undefined);
      const tracker = new HashTracker(record, parentSize, inherited ? 0 : parentSize);
      const writer = await DeltaWriter.open(ImageFile.buffered(handle), { kind: 'parent', id: parent.id, handle: parentHandle, size: parentSize }, tracker);
      return new CowRevisionWriter(writer, record, clone, [path, this.recordPath(id)]);
    } catch (err) {
      await record?.close().catch(() => undefined);
      await parentHandle?.close().catch(() => undefined);
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /** The parent's record, if it proves itself: only then may the new revision take its entries. */
  private async provenRecord(id: string, size: number, hashes: RecordedHashes | null, logger: Logger): Promise<string | null> {
    if (!hashes || hashes.blockSize !== HASH_BLOCK_SIZE) return null;
    try {
      await (await HashRecord.open(this.recordPath(id), size, hashes)).close();
      return this.recordPath(id);
    } catch (err) {
      // A record that proves itself for another size than the image has tells that the image is not the revision:
      // an RBD diff applied to it would keep whatever it lost or gained.
      const recordedSize = await this.provenSize(id, hashes);
      if (recordedSize !== null && recordedSize !== size) {
        throw new ParentUnreadableError(id, new Error(`its image has ${size} bytes, but its hash record proves ${recordedSize}`));
      }
      logger.warn(`not using the hash record of parent revision ${id}: ${(err as Error).message}; hashing every block of the new revision`);
      return null;
    }
  }

  /** The image size the revision's record was made for, where the record proves itself against the root in its `.rev`. */
  private async provenSize(id: string, hashes: RecordedHashes): Promise<number | null> {
    try {
      const handle = await openRegularFile(this.recordPath(id), constants.O_RDONLY);
      const header = await readRecordHeader(handle).finally(() => handle.close());
      if (!header || header.blockSize !== hashes.blockSize) return null;
      await (await HashRecord.open(this.recordPath(id), header.size, hashes)).close();
      return header.size;
    } catch {
      return null;
    }
  }

  private async createImage(id: string, parentId: string | null, logger: Logger): Promise<CloneMethod> {
    const target = this.filePath(id);
    if (!parentId) {
      await (await open(target, 'wx', 0o640)).close();
      return 'empty';
    }
    try {
      await copyFile(this.filePath(parentId), target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
      await chmod(target, 0o640);
      return 'reflink';
    } catch (err) {
      const code = errorCode(err) ?? '';
      if (!REFLINK_UNSUPPORTED.has(code)) throw OUR_SIDE.has(code) ? err : new ParentUnreadableError(parentId, err);
      await unlink(target).catch(() => undefined);
    }
    logger.warn(
      `${this.directory} cannot share blocks between revisions (no reflink support): ` +
        'writing a full sparse copy of the source; use btrfs or XFS to save space',
    );
    // Copying the parent only to overwrite most of it would read and write
    // the image twice: the source is written whole into an empty file instead.
    await (await open(target, 'wx', 0o640)).close();
    return 'copy';
  }

  async open(id: string): Promise<CowRevisionReader> {
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: a symlink put in place of an image is not the revision.
      handle = await open(this.filePath(id), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      throw storeError(err, id);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new StoreError(`the image of revision ${id} is not a regular file`, 'unreadable');
      return new CowRevisionReader(handle, info.size, this.recordPath(id));
    } catch (err) {
      await handle.close();
      throw storeError(err, id);
    }
  }

  async stat(id: string): Promise<DataState> {
    try {
      const info = await lstat(this.filePath(id));
      if (!info.isFile()) return { state: 'unreadable', reason: 'its image is not a regular file' };
      return { state: 'present', size: info.size, allocated: info.blocks * 512 };
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { state: 'missing' };
      return { state: 'unreadable', reason: (err as Error).message };
    }
  }

  recordHashes(id: string, size: number, fill: (record: HashRecordWriter) => Promise<void>): Promise<RecordedHashes> {
    return this.pendingRecords.write(id, this.recordPath(id), HASH_BLOCK_SIZE, size, fill);
  }

  async remove(id: string): Promise<void> {
    for (const path of [this.filePath(id), this.recordPath(id), ...(await this.pendingRecords.take(id))]) {
      // A directory under a revision's name is none of ours (list() never names one): left alone, not a failed backup.
      await unlinkIfPresent(path).catch((err: unknown) => {
        if (errorCode(err) !== 'EISDIR') throw err;
      });
    }
  }

  async present(listing?: DirectoryListing): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const entry of await entriesOf(this.directory, listing)) {
      if (entry.isFile() && isRevisionId(entry.name)) ids.add(entry.name);
    }
    return ids;
  }

  /** Regular files only: a directory or a symlink under a revision's name is none of ours, and never removed. */
  async list(listing?: DirectoryListing): Promise<string[]> {
    const ids = new Set<string>();
    for (const entry of await entriesOf(this.directory, listing)) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      const candidate = name.endsWith(RECORD_SUFFIX) ? name.slice(0, -RECORD_SUFFIX.length) : (this.pendingRecords.owner(name) ?? name);
      if (isRevisionId(candidate)) ids.add(candidate);
    }
    return [...ids];
  }
}

function storeError(err: unknown, id: string): Error {
  if (err instanceof StoreError) return err;
  const code = errorCode(err);
  if (code === 'ENOENT') return new StoreError(`the image of revision ${id} is missing`, 'missing');
  if (code === 'ELOOP') return new StoreError(`the image of revision ${id} is a symbolic link, not an image`, 'unreadable');
  return new StoreError(`the image of revision ${id} cannot be read: ${(err as Error).message}`, 'unreadable');
}
