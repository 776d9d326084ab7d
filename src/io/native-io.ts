import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface NativeIo {
  dataRanges(fd: number, start: number, end: number): number[] | null;
  pageOffset(buffer: Buffer): number;
  tryFlock(fd: number): boolean;
  zeroFill(buffer: Buffer, start: number, end: number): void;
  syncfs(fd: number): void;
  readRegular(path: string, buffer: Buffer): number;
  /** Absent when the helper was built without the xxHash header. */
  checksum?(buffer: Buffer, seed: bigint): bigint;
}

/** Where a file holds data within a range, and how long the file is. */
export interface DataMap {
  size: number;
  /** Sorted, disjoint `[start, end)` ranges within the range asked for and the file. */
  ranges: Array<[number, number]>;
}

const PAGE = 4096;
let native: NativeIo | null | undefined;

/**
 * The native helper (native/io.c) is optional: built when a C compiler is
 * at hand. Without it every byte is read, holes included, through buffers
 * wherever they happen to start.
 */
function load(): NativeIo | null {
  if (native !== undefined) return native;
  try {
    const require = createRequire(import.meta.url);
    native = require(fileURLToPath(new URL('../../native/io.node', import.meta.url))) as NativeIo;
  } catch {
    native = null;
  }
  return native;
}

export function nativeIoAvailable(): boolean {
  return load() !== null;
}

/**
 * The data ranges of an open file within `[start, end)`, from SEEK_DATA and
 * SEEK_HOLE; null when they are unknown (no helper, a pipe, a filesystem
 * that cannot tell), and everything must be read.
 */
export function dataRanges(fd: number, start: number, end: number): DataMap | null {
  const flat = load()?.dataRanges(fd, start, end) ?? null;
  if (!flat) return null;
  const ranges: Array<[number, number]> = [];
  for (let i = 1; i + 1 < flat.length; i += 2) ranges.push([flat[i]!, flat[i + 1]!]);
  return { size: flat[0]!, ranges };
}

/** Where the buffer's bytes start within their memory page; null without the helper. */
export function pageOffset(buffer: Buffer): number | null {
  return load()?.pageOffset(buffer) ?? null;
}

/**
 * Reads a regular file (followed through symlinks, never blocking on a
 * FIFO) into the buffer in one call: how many bytes it holds up to the
 * buffer's length. Throws Node-style errors (`code`, `syscall`, `path`), or
 * one with code `ENOTREG` and the file's `mode`; null without the helper.
 */
export function readRegular(path: string, buffer: Buffer): number | null {
  const helper = load();
  return helper ? helper.readRegular(path, buffer) : null;
}

/**
 * Takes an exclusive flock(2) on the open file, released when it is
 * closed: true when taken, false when another process holds one, null
 * without the helper.
 */
export function tryFlock(fd: number): boolean | null {
  const helper = load();
  return helper ? helper.tryFlock(fd) : null;
}

/**
 * Zeros `buffer[start, end)`. V8 fills shared memory byte by byte (1.3 GB/s
 * against 28 GB/s for memset), and every image buffer is shared.
 */
export function zeroFill(buffer: Buffer, start = 0, end = buffer.length): void {
  if (end <= start) return;
  const helper = load();
  if (helper && buffer.buffer instanceof SharedArrayBuffer) helper.zeroFill(buffer, start, end);
  else buffer.fill(0, start, end);
}

/**
 * Flushes the whole filesystem that the open file is on (syncfs(2)); false
 * without the helper, when the caller must flush file by file.
 */
export function syncFilesystem(fd: number): boolean {
  const helper = load();
  if (!helper) return false;
  helper.syncfs(fd);
  return true;
}

/** XXH3-64 of the buffer's bytes with `seed` (18 GiB/s here); null without the helper or its xxHash part. */
export function nativeChecksum(buffer: Buffer, seed = 0n): bigint | null {
  return load()?.checksum?.(buffer, seed) ?? null;
}

/** Whether nativeChecksum gives checksums. */
export function nativeChecksumAvailable(): boolean {
  return typeof load()?.checksum === 'function';
}

/**
 * A buffer whose first byte starts a memory page. The kernel copies file
 * data to and from such buffers about twice as fast as to the 16-bytes-off
 * start of a plain large Buffer (measured restoring onto ext4 and tmpfs),
 * so every buffer that images pass through comes from here. Its memory is
 * shared, so that the hash workers read it in place.
 */
export function alignedBuffer(size: number): Buffer {
  const helper = load();
  // Without the helper nothing could fill shared memory quickly (zeroFill): hashes are taken on this thread then.
  if (!helper) return Buffer.allocUnsafeSlow(size);
  const memory = Buffer.from(new SharedArrayBuffer(size + PAGE));
  // Modulo 4 KiB also where pages are larger: that is the alignment that counts.
  const skip = (PAGE - (helper.pageOffset(memory) % PAGE)) % PAGE;
  return memory.subarray(skip, skip + size);
}
