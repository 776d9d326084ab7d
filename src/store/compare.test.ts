import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CHECKSUM_CHUNK, ChunkChecksums, checksum } from './chunk-checksums.js';
import { compareImages } from './compare.js';
import type { ImageReader } from './store.js';

const CHUNK = CHECKSUM_CHUNK;

/** Reads `content`; with `written`, also answers checksums of what it held when they were taken. */
function reader(content: Buffer, written?: ChunkChecksums): ImageReader & { reads: number[] } {
  const reads: number[] = [];
  return {
    size: content.length,
    reads,
    read(buffer, length, position) {
      reads.push(position);
      return Promise.resolve(content.copy(buffer, 0, position, Math.min(content.length, position + length)));
    },
    writtenChecksum: written ? (position, length) => written.get(position, length) : undefined,
  };
}

/** Checksums of every chunk of `content`, as a writer that wrote it chunk by chunk records them. */
function checksumsOf(content: Buffer): ChunkChecksums {
  const sums = new ChunkChecksums();
  sums.resize(content.length);
  for (let at = 0; at < content.length; at += CHUNK) sums.record(at, content.subarray(at, at + CHUNK));
  return sums;
}

test('identical images compare equal, every byte read; any differing byte is found exactly', async () => {
  const content = randomBytes(3 * CHUNK + 1000);
  assert.deepEqual(await compareImages(reader(content), reader(Buffer.from(content)), content.length), {
    difference: null,
    bytesRead: content.length,
  });
  for (const at of [0, CHUNK - 1, CHUNK, 2 * CHUNK + 12345, content.length - 1]) {
    const changed = Buffer.from(content);
    changed[at] = changed[at]! ^ 1;
    const { difference } = await compareImages(reader(content), reader(changed), content.length);
    assert.equal(difference, at);
  }
});

test('an image shorter or longer than expected differs where the shorter one ends', async () => {
  const content = randomBytes(CHUNK + 10);
  const { difference } = await compareImages(reader(content), reader(content.subarray(0, CHUNK)), content.length);
  assert.equal(difference, CHUNK);
});

test('with written checksums only the first and last chunks are read back, and a changed source is still found to the byte', async () => {
  const content = randomBytes(5 * CHUNK + 4096 + 7);
  const image = reader(content, checksumsOf(content));
  assert.deepEqual(await compareImages(reader(content), image, content.length, { readBackShare: 0 }), {
    difference: null,
    bytesRead: CHUNK + 4096 + 7,
  });
  assert.deepEqual(image.reads, [0, 5 * CHUNK]);

  const source = Buffer.from(content);
  source[3 * CHUNK + 999] = source[3 * CHUNK + 999]! ^ 0x80;
  const { difference } = await compareImages(reader(source), reader(content, checksumsOf(content)), content.length, { readBackShare: 0 });
  assert.equal(difference, 3 * CHUNK + 999);
});

test('an image that does not hold what was written shows where it is read back: always the first and last chunk, else as sampled', async () => {
  const content = randomBytes(4 * CHUNK);
  const written = checksumsOf(content);
  for (const [at, share, found] of [
    [100, 0, true],
    [4 * CHUNK - 1, 0, true],
    [2 * CHUNK + 5, 1, true],
    // Between the ends, a chunk not sampled is trusted to hold what was written.
    [2 * CHUNK + 5, 0, false],
  ] as const) {
    const onDisk = Buffer.from(content);
    onDisk[at] = onDisk[at]! ^ 1;
    const { difference } = await compareImages(reader(content), reader(onDisk, written), content.length, { readBackShare: share });
    assert.equal(difference, found ? at : null, `byte ${at}, share ${share}`);
  }
});

test('a checksum is kept only for a write of exactly one aligned chunk, and forgotten when its range changes again', () => {
  const size = 3 * CHUNK + 100;
  const data = randomBytes(CHUNK);
  const sums = new ChunkChecksums();
  sums.resize(size);
  sums.record(0, data);
  sums.record(CHUNK + 4096, data.subarray(0, CHUNK - 4096));
  sums.record(3 * CHUNK, data.subarray(0, 100));
  assert.equal(sums.get(0, CHUNK), checksum(data));
  assert.equal(sums.get(CHUNK, CHUNK), undefined);
  assert.equal(sums.get(3 * CHUNK, 100), checksum(data.subarray(0, 100)));
  // Once the image has grown, its former last chunk holds more than was written.
  sums.resize(size + 100);
  assert.equal(sums.get(3 * CHUNK, 200), undefined);
  assert.equal(sums.get(0, CHUNK), checksum(data));
  sums.forget(CHUNK - 1, CHUNK);
  assert.equal(sums.get(0, CHUNK), undefined);
});
