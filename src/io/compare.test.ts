import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CHECKSUM_CHUNK, ChunkChecksums, checksum } from './chunk-checksums.js';
import { compareImages } from './compare.js';
import { nativeChecksum } from './native-io.js';
import type { ImageReader } from './image.js';

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

test('an image shorter or longer than expected, or one that reads short, differs where the shorter one ends', async () => {
  const content = randomBytes(2 * CHUNK + 10);
  for (const other of [content.subarray(0, CHUNK), Buffer.concat([content, Buffer.alloc(1)])]) {
    const { difference } = await compareImages(reader(content), reader(other), content.length);
    assert.equal(difference, Math.min(content.length, other.length));
  }
  // A file that shrank after its size was taken.
  const shrunk = { ...reader(content.subarray(0, CHUNK + 5)), size: content.length };
  const { difference } = await compareImages(reader(content), shrunk, content.length);
  assert.equal(difference, CHUNK + 5);
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

test('a checksum is kept only for the first write to a chunk, of exactly that chunk, and lost when anything else touches it', () => {
  const size = 4 * CHUNK + 100;
  const data = randomBytes(CHUNK);
  const sums = new ChunkChecksums();
  sums.resize(size);
  sums.record(0, data);
  sums.record(CHUNK, data);
  sums.record(2 * CHUNK + 4096, data.subarray(0, CHUNK - 4096));
  sums.record(3 * CHUNK, data);
  sums.record(4 * CHUNK, data.subarray(0, 100));
  assert.equal(sums.get(0, CHUNK), checksum(data));
  assert.equal(sums.get(CHUNK, CHUNK), checksum(data));
  assert.equal(sums.get(2 * CHUNK, CHUNK), undefined, 'written in part');
  assert.equal(sums.get(4 * CHUNK, 100), checksum(data.subarray(0, 100)));
  // Written again, in part or whole, a chunk holds what the writer made of both writes.
  sums.record(CHUNK + 65536, data.subarray(0, 65536));
  assert.equal(sums.get(CHUNK, CHUNK), undefined, 'written again in part');
  sums.record(3 * CHUNK, data);
  assert.equal(sums.get(3 * CHUNK, CHUNK), undefined, 'written again whole');
  sums.spoil(CHUNK - 1, CHUNK);
  assert.equal(sums.get(0, CHUNK), undefined, 'zeroed in part');
  // Once the image has grown, its former last chunk holds more than was written.
  sums.resize(size + 100);
  assert.equal(sums.get(4 * CHUNK, 200), undefined);
});

test('checksums are seeded: not the plain XXH3 of the bytes, which anyone can compute', () => {
  const data = randomBytes(4096);
  assert.notEqual(checksum(data), nativeChecksum(data));
  assert.equal(checksum(data), checksum(Buffer.from(data)));
});
