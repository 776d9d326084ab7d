import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Zstd from 'zstd-napi/binding.js';

/** How a chunk file holding zstd's frame begins (any other holds its block as it is). */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

// Loaded at the first proof: `status` loads this module (through the pool), and the native codec would add to its start-up.
let codec: { zstd: typeof Zstd; decompressor: InstanceType<typeof Zstd.DCtx> } | undefined;
function zstdCodec(): NonNullable<typeof codec> {
  if (!codec) {
    const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof Zstd;
    // One per thread that proves chunks: the chunk workers and the main thread each have their own.
    codec = { zstd, decompressor: new zstd.DCtx() };
  }
  return codec;
}

/** Reads `target.length` bytes from the start of the file, fewer only where it ends first; how many. */
export function readAll(fd: number, target: Buffer): number {
  let got = 0;
  while (got < target.length) {
    const n = readSync(fd, target, got, target.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Whether the open file holds a block of at most `chunkSize` bytes whose SHA-256 is `name`: a sound chunk. */
function fileProvesItself(fd: number, name: string, chunkSize: number): boolean {
  try {
    const { zstd, decompressor } = zstdCodec();
    const info = fstatSync(fd);
    if (!info.isFile() || info.size > zstd.compressBound(chunkSize)) return false;
    const raw = Buffer.alloc(info.size);
    if (readAll(fd, raw) < raw.length) return false;
    let block = raw;
    if (raw.subarray(0, 4).equals(ZSTD_MAGIC)) {
      const out = Buffer.alloc(chunkSize);
      block = out.subarray(0, decompressor.decompress(out, raw));
    }
    return createHash('sha256').update(block).digest('hex') === name;
  } catch {
    return false;
  }
}

/** Whether the file at `path` (no link followed, no FIFO waited on) is a sound chunk `name`. */
export function pathProvesItself(path: string, name: string, chunkSize: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    return fileProvesItself(fd, name, chunkSize);
  } finally {
    closeSync(fd);
  }
}
