import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFully } from './read-fully.js';
import { alignedBuffer, dataRanges, nativeChecksum, nativeChecksumAvailable, nativeIoAvailable, pageOffset } from './native-io.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'backy-extents-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 8 MiB: data at 1-2 MiB and 5-6 MiB, holes elsewhere (the filesystem under tmpdir has holes). */
async function sparseFile() {
  const path = join(dir, `sparse-${Math.random()}`);
  const handle = await open(path, 'w+');
  const first = randomBytes(MiB);
  const second = randomBytes(MiB);
  await handle.write(first, 0, MiB, MiB);
  await handle.write(second, 0, MiB, 5 * MiB);
  await handle.truncate(8 * MiB);
  await handle.sync();
  return { handle, first, second };
}

test('the native I/O helper is built (the test command installs a C compiler and the xxHash header)', () => {
  assert.equal(nativeIoAvailable(), true);
  assert.equal(nativeChecksumAvailable(), true);
});

test('checksums are XXH3-64 of the bytes, wherever the buffer starts', () => {
  // Reference values from xxhsum -H3 (xxHash 0.8).
  assert.equal(nativeChecksum(Buffer.alloc(0)), 0x2d06800538d394c2n);
  assert.equal(nativeChecksum(Buffer.from('backy')), 0x1aec0c142122d5ebn);
  assert.equal(nativeChecksum(Buffer.from('xbacky').subarray(1)), 0x1aec0c142122d5ebn);
  const data = randomBytes(MiB);
  const copy = Buffer.from(data);
  copy[MiB - 1] = copy[MiB - 1]! ^ 1;
  assert.notEqual(nativeChecksum(data), nativeChecksum(copy));
});

test('data ranges of a sparse file, clipped to the range asked for', async () => {
  const { handle } = await sparseFile();
  try {
    assert.deepEqual(dataRanges(handle.fd, 0, 8 * MiB), { size: 8 * MiB, ranges: [[MiB, 2 * MiB], [5 * MiB, 6 * MiB]] });
    assert.deepEqual(dataRanges(handle.fd, 1.5 * MiB, 5.5 * MiB), { size: 8 * MiB, ranges: [[1.5 * MiB, 2 * MiB], [5 * MiB, 5.5 * MiB]] });
    assert.deepEqual(dataRanges(handle.fd, 6 * MiB, 100 * MiB), { size: 8 * MiB, ranges: [] });
  } finally {
    await handle.close();
  }
});

test('reading across holes gives zeros there and the data elsewhere, and stops at the end of the file', async () => {
  const { handle, first, second } = await sparseFile();
  try {
    const expected = Buffer.concat([Buffer.alloc(MiB), first, Buffer.alloc(3 * MiB), second, Buffer.alloc(2 * MiB)]);
    const buffer = Buffer.alloc(10 * MiB, 0xaa);
    assert.equal(await readFully(handle, buffer, 10 * MiB, 0), 8 * MiB);
    assert.ok(buffer.subarray(0, 8 * MiB).equals(expected));
    const piece = Buffer.alloc(3 * MiB, 0xaa);
    assert.equal(await readFully(handle, piece, 3 * MiB, 1.5 * MiB), 3 * MiB);
    assert.ok(piece.equals(expected.subarray(1.5 * MiB, 4.5 * MiB)));
    assert.equal(await readFully(handle, piece, MiB, 8 * MiB), 0);
  } finally {
    await handle.close();
  }
});

test('aligned buffers start a memory page; plain large buffers do not', () => {
  for (const size of [4096, MiB, 4 * MiB]) {
    const buffer = alignedBuffer(size);
    assert.equal(buffer.length, size);
    assert.equal(pageOffset(buffer), 0);
  }
  // Why the helper exists: a large Buffer starts just past the allocator's header.
  assert.notEqual(pageOffset(Buffer.allocUnsafeSlow(4 * MiB)), 0);
});
