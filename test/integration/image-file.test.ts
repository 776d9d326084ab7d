/**
 * ImageFile on a real ext4 (direct I/O) and btrfs (none): whatever the
 * alignment of offsets and lengths, the bytes written are the bytes on
 * disk and the bytes read back, and reads end short only at end of file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageFile } from '../../src/io/image-file.js';
import { alignedBuffer } from '../../src/io/native-io.js';
import { useExt4AndBtrfs } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
const fs = useExt4AndBtrfs('256M');

async function openImage(path: string): Promise<ImageFile> {
  return ImageFile.open(await open(path, 'r+'), path, 'r+');
}

/** Random bytes in a page-aligned buffer, as every image buffer is. */
function randomAligned(length: number): Buffer {
  const buffer = alignedBuffer(length);
  randomBytes(length).copy(buffer);
  return buffer;
}

test('ext4 images are opened for direct I/O, btrfs images are not', async () => {
  for (const [filesystem, direct] of [[fs.ext4, true], [fs.btrfs, false]] as const) {
    const path = join(filesystem.path, 'probe.img');
    writeFileSync(path, '');
    const image = await openImage(path);
    try {
      assert.equal(image.isDirect, direct, filesystem.type);
    } finally {
      await image.close();
    }
  }
});

test('writes at ragged offsets and lengths land exactly, through either path', async () => {
  const path = join(fs.ext4.path, 'ragged.img');
  writeFileSync(path, '');
  const expected = Buffer.alloc(12 * MiB + 777);
  const image = await openImage(path);
  try {
    await image.handle.truncate(expected.length);
    // Aligned, ragged head, ragged tail, ragged both, tiny, and one from an unaligned buffer.
    const writes: Array<[number, number, number]> = [
      [0, 2 * MiB, 0],
      [2 * MiB + 1000, MiB, 0],
      [4 * MiB, MiB + 4095, 0],
      [6 * MiB + 1, 2 * MiB - 2, 0],
      [9 * MiB + 17, 10, 0],
      [10 * MiB, MiB, 3],
      [12 * MiB, 777, 0],
    ];
    for (const [index, [position, length, skew]] of writes.entries()) {
      const data = randomAligned(length + skew).subarray(skew);
      data.copy(expected, position);
      if (index % 2 === 0) await image.write(data, position);
      else image.writeSync(data, position);
    }
    await image.handle.datasync();
  } finally {
    await image.close();
  }
  assert.ok(readFileSync(path).equals(expected));

  const reader = await openImage(path);
  try {
    for (const [position, length] of [[0, 4 * MiB], [4096 + 5, 3 * MiB], [12 * MiB - 4096, 8 * MiB]] as const) {
      const buffer = alignedBuffer(length);
      const got = await reader.read(buffer, length, position);
      const wanted = expected.subarray(position, position + length);
      assert.equal(got, wanted.length, `read at ${position}`);
      assert.ok(buffer.subarray(0, got).equals(wanted), `bytes at ${position}`);
    }
  } finally {
    await reader.close();
  }
});
