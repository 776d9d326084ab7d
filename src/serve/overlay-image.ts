import { mkdtemp, open, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fsx from 'fs-native-extensions';
import { alignedBuffer } from '../io/native-io.js';
import type { CheckedImage } from './checked-image.js';
import { extentsFromRanges, type ExportedImage, type Extent, type Piece } from './exported-image.js';

/** Overlay blocks: a write smaller than this reads the rest of its block from the revision first. */
const OVERLAY_BLOCK = 4096;
const ZEROS = Buffer.alloc(1024 * 1024);

/**
 * `serve --writable`: writes go into a throw-away overlay, a sparse
 * temporary file that is unlinked as soon as it is opened (so it is gone
 * when the process is, however it ends), and reads take what was written
 * from there and everything else from the revision, which never changes.
 * A bitmap of 4 KiB blocks (32 KiB per GiB of image, made at the first
 * write) says what the overlay holds.
 */
export class OverlayImage implements ExportedImage {
  readonly writable = true;
  private written: Uint8Array | null = null;
  private fillBuffer: Buffer | null = null;
  /** Writes one at a time: two writes into one block must not both read it from the revision. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly base: CheckedImage,
    private readonly file: FileHandle,
  ) {}

  /** An overlay for `base` in a new temporary file under `directory` (default: TMPDIR). */
  static async create(base: CheckedImage, directory = tmpdir()): Promise<OverlayImage> {
    const dir = await mkdtemp(join(directory, 'backy-overlay-'));
    const path = join(dir, 'overlay');
    const file = await open(path, 'wx+', 0o600);
    await unlink(path);
    await rmdir(dir);
    await file.truncate(base.size);
    return new OverlayImage(base, file);
  }

  get size(): number {
    return this.base.size;
  }

  get window(): number {
    return this.base.window;
  }

  async readWindow(offset: number, length: number, buffer: Buffer): Promise<Piece[]> {
    const runs = this.writtenRuns(offset, offset + length);
    const pieces = await this.base.readWindow(offset, length, buffer);
    if (runs.length === 0) return pieces;
    const windowStart = Math.floor(offset / this.window) * this.window;
    for (const piece of pieces) if (!piece.data) buffer.fill(0, piece.offset - windowStart, piece.offset - windowStart + piece.length);
    for (const [from, to] of runs) await readFully(this.file, buffer.subarray(from - windowStart, to - windowStart), from);
    return [{ offset, length, data: buffer.subarray(offset - windowStart, offset + length - windowStart) }];
  }

  /**
   * The base's extents and the written runs, as far as either holds no
   * more than `limit` + 1 of them: what lies past that is for the client's
   * next query, so a query of 4 GiB lists no more than one reply holds.
   */
  async extents(offset: number, length: number, limit: number): Promise<Extent[]> {
    if (!this.written) return this.base.extents(offset, length, limit);
    let end = Math.min(this.size, offset + length);
    const base: Array<[number, number]> = [];
    let at = offset;
    for (const extent of await this.base.extents(offset, end - offset, limit)) {
      if (!extent.hole) base.push([at, at + extent.length]);
      at += extent.length;
    }
    end = at;
    const written = this.writtenRuns(offset, end, limit + 1);
    if (written.length > limit) end = written.at(-1)![1];
    return extentsFromRanges(union(base, written), offset, end, limit);
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.serially(() => this.writeNow(offset, data));
  }

  /**
   * Whole overlay blocks become a hole in the overlay (marked as held, so
   * they read as its zeros): a guest's mkfs zeroing a large disk must not
   * fill TMPDIR with written zeros. Ragged ends, and all of it where the
   * client asked for no hole, are written as zeros.
   */
  zero(offset: number, length: number, allocate: boolean): Promise<void> {
    return this.serially(async () => {
      const end = offset + length;
      const first = Math.min(end, Math.ceil(offset / OVERLAY_BLOCK) * OVERLAY_BLOCK);
      const last = Math.max(first, end === this.size ? end : Math.floor(end / OVERLAY_BLOCK) * OVERLAY_BLOCK);
      await this.writeZeros(offset, first);
      if (last > first && (allocate || !(await this.punch(first, last)))) await this.writeZeros(first, last);
      await this.writeZeros(last, end);
    });
  }

  flush(): Promise<void> {
    // Nothing here outlives the process; the client's flush has nothing to persist.
    return Promise.resolve();
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.writing.then(work);
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async writeNow(offset: number, data: Buffer): Promise<void> {
    if (data.length === 0) return;
    const end = offset + data.length;
    const head = Math.floor(offset / OVERLAY_BLOCK) * OVERLAY_BLOCK;
    const tail = Math.floor((end - 1) / OVERLAY_BLOCK) * OVERLAY_BLOCK;
    const tailEnd = Math.min(this.size, tail + OVERLAY_BLOCK);
    // Blocks the write covers only in part get the rest of their bytes first.
    if (offset > head) await this.fillBlock(head);
    if (end < tailEnd) await this.fillBlock(tail);
    await writeFully(this.file, data, offset);
    this.mark(head, tailEnd);
  }

  private async writeZeros(start: number, end: number): Promise<void> {
    for (let at = start; at < end; at += ZEROS.length) await this.writeNow(at, ZEROS.subarray(0, Math.min(ZEROS.length, end - at)));
  }

  /** Whether [start, end), whole blocks, could be made a hole (not where the filesystem cannot punch one). */
  private async punch(start: number, end: number): Promise<boolean> {
    try {
      await fsx.trim(this.file.fd, start, end - start);
    } catch {
      return false;
    }
    this.mark(start, end);
    return true;
  }

  /** Copies the block at `block` from the revision into the overlay, unless it is there already. */
  private async fillBlock(block: number): Promise<void> {
    if (this.isWritten(block)) return;
    // A buffer of its own, not the pool's: the write that needs it holds a pool buffer already.
    this.fillBuffer ??= alignedBuffer(this.window);
    const length = Math.min(OVERLAY_BLOCK, this.size - block);
    const bytes = Buffer.alloc(length);
    for (const piece of await this.base.readWindow(block, length, this.fillBuffer)) piece.data?.copy(bytes, piece.offset - block);
    await writeFully(this.file, bytes, block);
    this.mark(block, block + length);
  }

  private mark(start: number, end: number): void {
    this.written ??= new Uint8Array(Math.ceil(Math.ceil(this.size / OVERLAY_BLOCK) / 8));
    for (let block = start / OVERLAY_BLOCK; block * OVERLAY_BLOCK < end; block++) this.written[block >> 3]! |= 1 << (block & 7);
  }

  private isWritten(offset: number): boolean {
    const block = Math.floor(offset / OVERLAY_BLOCK);
    return this.written !== null && (this.written[block >> 3]! & (1 << (block & 7))) !== 0;
  }

  /** The runs of [start, end) that the overlay holds, clipped to it; no more than `limit`, each whole. */
  private writtenRuns(start: number, end: number, limit = Number.MAX_SAFE_INTEGER): Array<[number, number]> {
    if (!this.written) return [];
    const runs: Array<[number, number]> = [];
    for (let block = Math.floor(start / OVERLAY_BLOCK); block * OVERLAY_BLOCK < end; block++) {
      if (!this.isWritten(block * OVERLAY_BLOCK)) continue;
      const from = Math.max(start, block * OVERLAY_BLOCK);
      const to = Math.min(end, (block + 1) * OVERLAY_BLOCK);
      const last = runs.at(-1);
      if (last && last[1] === from) last[1] = to;
      else if (runs.length >= limit) break;
      else runs.push([from, to]);
    }
    return runs;
  }
}

/** The union of two sorted lists of disjoint ranges. */
function union(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of all) {
    const last = out.at(-1);
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

async function readFully(file: FileHandle, target: Buffer, position: number): Promise<void> {
  for (let done = 0; done < target.length; ) {
    const { bytesRead } = await file.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) {
      target.fill(0, done);
      return;
    }
    done += bytesRead;
  }
}

async function writeFully(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) done += (await file.write(data, done, data.length - done, position + done)).bytesWritten;
}
