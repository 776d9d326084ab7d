import { constants } from 'node:fs';
import { chmod, copyFile, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { DeltaWriter } from '../delta-writer.js';
import { ImageFile } from '../direct-io.js';
import type { CloneMethod, ImageWriter, Store } from '../store.js';

const REFLINK_UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);

/**
 * One plain image file per revision in the job directory, created as a
 * reflink clone of the parent's image so that unchanged blocks are shared
 * by the filesystem (btrfs, XFS). Without reflink support every revision is
 * a full sparse copy of the source; that works, but costs the space of the
 * whole image.
 */
export class CowStore implements Store {
  constructor(private readonly directory: string) {}

  imagePath(id: string): string {
    return join(this.directory, id);
  }

  async create(id: string, parentId: string | null, logger: Logger): Promise<CloneMethod> {
    const target = this.imagePath(id);
    if (!parentId) {
      const handle = await open(target, 'wx', 0o640);
      await handle.close();
      return 'empty';
    }
    const parent = this.imagePath(parentId);
    try {
      await copyFile(parent, target, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
      await chmod(target, 0o640);
      return 'reflink';
    } catch (err) {
      if (!REFLINK_UNSUPPORTED.has(errorCode(err) ?? '')) throw err;
      await unlink(target).catch(() => undefined);
    }
    logger.warn(
      `${this.directory} cannot share blocks between revisions (no reflink support): ` +
        'writing a full sparse copy of the source; use btrfs or XFS to save space',
    );
    // Copying the parent only to overwrite most of it would read and write
    // the image twice: the source is written whole into an empty file instead.
    const handle = await open(target, 'wx', 0o640);
    await handle.close();
    return 'copy';
  }

  async openWriter(id: string, parentId: string | null, clone: CloneMethod): Promise<ImageWriter> {
    const path = this.imagePath(id);
    const handle = await open(path, 'r+');
    // An image filled whole is written past the page cache (and verified by
    // checksums of what was written); a clone's few changed blocks are not.
    if (clone !== 'reflink' || !parentId) return DeltaWriter.open(await ImageFile.open(handle, path, 'r+'), { kind: 'empty' });
    const parent = await open(this.imagePath(parentId), 'r');
    return DeltaWriter.open(ImageFile.buffered(handle), { kind: 'parent', handle: parent, size: (await parent.stat()).size });
  }

  async seal(id: string): Promise<void> {
    await chmod(this.imagePath(id), 0o440);
  }

  async remove(id: string): Promise<void> {
    try {
      await unlink(this.imagePath(id));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
    }
  }
}
