import { constants, writeSync } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { nativeIoAvailable, pageOffset } from './native-io.js';

/** Offsets, lengths and buffer addresses of direct I/O are multiples of this (any device's logical block size). */
const DIRECT_ALIGNMENT = 4096;
/** `f_type` of btrfs in statfs(2). */
const BTRFS_MAGIC = 0x9123683e;

/**
 * An image file written or read whole, bypassing the page cache where the
 * filesystem allows: filling gigabytes of fresh cache pages cost 2-4x the
 * time of writing the same bytes with O_DIRECT (4 GiB onto ext4: 9.5-11 s
 * buffered with fdatasync, 2.2-3.5 s direct), and a backup server has
 * better uses for its memory than images nobody reads soon. Pieces that
 * are not aligned for direct I/O (a ragged end of file, a buffer from a
 * stream) go through the ordinary handle; the kernel keeps both coherent.
 */
export class ImageFile {
  private direct: FileHandle | null;

  private constructor(
    readonly handle: FileHandle,
    private readonly opened: FileHandle | null,
  ) {
    this.direct = opened;
  }

  /** Wraps `handle`, opening `path` a second time for direct I/O where that helps. */
  static async open(handle: FileHandle, path: string, flags: 'r' | 'r+'): Promise<ImageFile> {
    return new ImageFile(handle, await openDirect(path, flags));
  }

  /** Without direct I/O: every piece goes through the page cache. */
  static buffered(handle: FileHandle): ImageFile {
    return new ImageFile(handle, null);
  }

  get fd(): number {
    return this.handle.fd;
  }

  /** Whether aligned pieces bypass the page cache. */
  get isDirect(): boolean {
    return this.direct !== null;
  }

  /** Positioned read; fewer bytes than asked only at the end of the file. */
  async read(buffer: Buffer, length: number, position: number): Promise<number> {
    let done = 0;
    for (const [, end, direct] of this.pieces(buffer, length, position)) {
      while (done < end) {
        const handle = this.handleFor(direct, position + done);
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(buffer, done, end - done, position + done));
        } catch (err) {
          if (handle === this.handle || !this.refused(err)) throw err;
          continue;
        }
        if (bytesRead === 0) return done;
        done += bytesRead;
      }
    }
    return done;
  }

  /** Writes all of `data` at `position`. */
  async write(data: Buffer, position: number): Promise<void> {
    for (const [start, end, direct] of this.pieces(data, data.length, position)) {
      for (let done = start; done < end; ) {
        const handle = this.handleFor(direct, position + done);
        try {
          done += (await handle.write(data, done, end - done, position + done)).bytesWritten;
        } catch (err) {
          if (handle === this.handle || !this.refused(err)) throw err;
        }
      }
    }
  }

  writeSync(data: Buffer, position: number): void {
    for (const [start, end, direct] of this.pieces(data, data.length, position)) {
      for (let done = start; done < end; ) {
        const fd = this.handleFor(direct, position + done).fd;
        try {
          done += writeSync(fd, data, done, end - done, position + done);
        } catch (err) {
          if (fd === this.handle.fd || !this.refused(err)) throw err;
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.opened?.close();
    await this.handle.close();
  }

  /**
   * The direct handle for a piece meant for it, while the file still takes
   * direct I/O and the offset is aligned (after a short direct read at the
   * end of the file it is not); the ordinary one otherwise.
   */
  private handleFor(direct: boolean, position: number): FileHandle {
    return direct && this.direct && position % DIRECT_ALIGNMENT === 0 ? this.direct : this.handle;
  }

  /**
   * A filesystem that opened the file for direct I/O may still refuse our
   * alignment (a device with larger logical blocks): from then on every
   * piece goes through the cache.
   */
  private refused(err: unknown): boolean {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') return false;
    this.direct = null;
    return true;
  }

  /**
   * Splits `[0, length)` of `buffer` (at file offset `position`) into a
   * ragged head, an aligned middle for the direct handle, and a ragged
   * tail: `[start, end, direct]` relative to the buffer.
   */
  private pieces(buffer: Buffer, length: number, position: number): Array<[number, number, boolean]> {
    if (!this.direct || length === 0) return [[0, length, false]];
    const head = (DIRECT_ALIGNMENT - (position % DIRECT_ALIGNMENT)) % DIRECT_ALIGNMENT;
    if (head >= length) return [[0, length, false]];
    const middle = Math.floor((length - head) / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT;
    if (middle === 0 || (pageOffset(buffer.subarray(head)) ?? 1) % DIRECT_ALIGNMENT !== 0) return [[0, length, false]];
    const pieces: Array<[number, number, boolean]> = [];
    if (head > 0) pieces.push([0, head, false]);
    pieces.push([head, head + middle, true]);
    if (head + middle < length) pieces.push([head + middle, length, false]);
    return pieces;
  }
}

/**
 * A second handle on `path` with O_DIRECT, or null where direct I/O is
 * unavailable (no native helper to align buffers, a filesystem without
 * O_DIRECT) or
 * would not bypass the cache: btrfs turns direct writes to checksummed
 * files into buffered writes plus a flush, slower than buffered alone.
 */
async function openDirect(path: string, flags: 'r' | 'r+'): Promise<FileHandle | null> {
  if (!nativeIoAvailable() || constants.O_DIRECT === undefined) return null;
  try {
    if ((await statfs(path)).type === BTRFS_MAGIC) return null;
    return await open(path, (flags === 'r' ? constants.O_RDONLY : constants.O_RDWR) | constants.O_DIRECT);
  } catch {
    return null;
  }
}
