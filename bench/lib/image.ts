/**
 * Test images for benchmarks: a mix of incompressible data, zero runs and
 * compressible text-like data in 64 MiB stripes, written from a seeded
 * AES-CTR stream so every run benchmarks the same bytes.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;
const STRIPE = 64 * MiB;

function keystream(seed: string): (length: number) => Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (length) => cipher.update(Buffer.alloc(length));
}

/** Writes a `size`-byte image: stripes of random, zero and compressible data. */
export async function generateImage(path: string, size: number, seed = 'backy-bench'): Promise<void> {
  const random = keystream(seed);
  const text = Buffer.from(
    Array.from({ length: 4096 }, (_, i) => `block ${i % 97} of a filesystem with some repetitive content\n`).join(''),
  );
  const handle = await open(path, 'w');
  try {
    await handle.truncate(size);
    for (let stripe = 0; stripe * STRIPE < size; stripe++) {
      const kind = stripe % 3; // 0 random, 1 zeros (left as written zeros? no: holes), 2 compressible
      const start = stripe * STRIPE;
      const end = Math.min(size, start + STRIPE);
      if (kind === 1) continue;
      for (let at = start; at < end; at += 4 * MiB) {
        const length = Math.min(4 * MiB, end - at);
        let data: Buffer;
        if (kind === 0) data = random(length);
        else {
          data = Buffer.alloc(length);
          for (let i = 0; i < length; i += text.length) text.copy(data, i, 0, Math.min(text.length, length - i));
          random(16).copy(data, 0); // keep stripes distinct
        }
        await handle.write(data, 0, length, at);
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * Overwrites `fraction` of the image in random, aligned blocks with new
 * random data, as a running VM would. Returns the bytes changed.
 */
export async function mutateImage(path: string, fraction: number, blockSize = 64 * 1024, seed = 'mutate'): Promise<number> {
  const handle = await open(path, 'r+');
  try {
    const size = (await handle.stat()).size;
    const blocks = Math.floor(size / blockSize);
    const count = Math.max(1, Math.round((size * fraction) / blockSize));
    const random = keystream(seed);
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(random(4).readUInt32LE(0) % blocks);
    for (const block of chosen) await handle.write(random(blockSize), 0, blockSize, block * blockSize);
    return count * blockSize;
  } finally {
    await handle.close();
  }
}
