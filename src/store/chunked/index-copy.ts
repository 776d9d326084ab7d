import { constants } from 'node:fs';
import { chmod, copyFile, open } from 'node:fs/promises';
import { errorCode } from '../../util/errors.js';
import { dataRanges } from '../../io/native-io.js';
import { unlinkIfPresent } from '../../util/unlink.js';

const COPY_PIECE = 1024 * 1024;
const ZERO_PAGE = Buffer.alloc(4096);

/**
 * Copies an index, shared by reflink where the filesystem can, else
 * leaving its zero pages holes: a plain copy would allocate the entries of
 * every zero block (512 MiB per revision of a sparse 1 TiB image).
 */
export async function copySparse(from: string, to: string): Promise<void> {
  try {
    await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
    await chmod(to, 0o640);
    return;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') throw err;
    await unlinkIfPresent(to);
  }
  const source = await open(from, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const target = await open(to, 'wx', 0o640);
    try {
      const size = (await source.stat()).size;
      const ranges = dataRanges(source.fd, 0, size)?.ranges ?? [[0, size]];
      const buffer = Buffer.alloc(COPY_PIECE);
      for (const [start, end] of ranges) {
        for (let at = start; at < end; at += COPY_PIECE) {
          const { bytesRead } = await source.read(buffer, 0, Math.min(COPY_PIECE, end - at), at);
          for (let page = 0; page < bytesRead; page += 4096) {
            const piece = buffer.subarray(page, Math.min(bytesRead, page + 4096));
            if (!piece.equals(ZERO_PAGE.subarray(0, piece.length))) await target.write(piece, 0, piece.length, at + page);
          }
        }
      }
      await target.truncate(size);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
