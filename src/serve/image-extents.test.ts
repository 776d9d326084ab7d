import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashRecord, HashRecordWriter } from '../integrity/hash-record.js';
import type { RevisionReader } from '../store/store.js';
import { CheckedImage } from './checked-image.js';
import type { Extent } from './exported-image.js';
import { OverlayImage } from './overlay-image.js';

const KiB = 1024;
/** Larger than the span CheckedImage asks the store for at once. */
const SIZE = 256 * 1024 * KiB;
const GRAIN = 4 * KiB;

/** A revision without a hash record whose every other 64 KiB block holds data. */
function alternatingRevision(): RevisionReader {
  return {
    size: SIZE,
    read: (buffer, length) => Promise.resolve(buffer.fill(0xaa, 0, length) && length),
    dataRanges: (start, end) => {
      const ranges: Array<[number, number]> = [];
      for (let at = Math.floor(start / (128 * KiB)) * 128 * KiB; at < end; at += 128 * KiB) {
        if (at + 64 * KiB > start) ranges.push([Math.max(start, at), Math.min(end, at + 64 * KiB)]);
      }
      return Promise.resolve(ranges);
    },
    hashes: () => Promise.reject(new Error('no record')),
    close: () => Promise.resolve(),
  };
}

/** Whether each 4 KiB of [offset, offset + covered) is data, as `extents` says. */
function grains(extents: Extent[]): boolean[] {
  return extents.flatMap((extent) => Array<boolean>(extent.length / GRAIN).fill(!extent.hole));
}

/** `image`'s extents from `offset` for several limits: each reply a prefix of `truth`, within its limit, the whole query when it fits. */
async function assertPrefixes(image: Pick<CheckedImage, 'extents'>, truth: boolean[], offset: number): Promise<void> {
  for (const limit of [1, 2, 3, 5, 8, 100_000]) {
    const extents = await image.extents(offset, SIZE - offset, limit);
    assert.ok(extents.length >= 1 && extents.length <= limit, `${extents.length} extents for a limit of ${limit}`);
    const got = grains(extents);
    assert.deepEqual(got, truth.slice(offset / GRAIN, offset / GRAIN + got.length), `from ${offset}, limit ${limit}`);
    extents.slice(1).forEach((extent, i) => assert.notEqual(extent.hole, extents[i]!.hole, 'neighbours merged'));
    if (limit === 100_000) assert.equal(got.length, (SIZE - offset) / GRAIN, 'the whole query, within the limit');
  }
}

const OFFSETS = [0, 100 * KiB, 64 * 1024 * KiB - 8 * KiB];

test('extents of a revision without a record: its data ranges, asked for a span at a time', async () => {
  const base = new CheckedImage(alternatingRevision(), null, () => undefined);
  const truth = Array.from({ length: SIZE / GRAIN }, (_, i) => i % 32 < 16);
  for (const offset of OFFSETS) await assertPrefixes(base, truth, offset);
});

test('overlay extents: a prefix of the true map, at most `limit` of them, whatever the limit', async () => {
  const overlay = await OverlayImage.create(new CheckedImage(alternatingRevision(), null, () => undefined));
  const truth = Array.from({ length: SIZE / GRAIN }, (_, i) => i % 32 < 16);
  // Written: 4 KiB into every third base hole, and 8 KiB over every fifth boundary of data and hole.
  for (let at = 64 * KiB; at < SIZE; at += 3 * 128 * KiB) await overlay.write(at + 8 * KiB, Buffer.alloc(GRAIN, 1));
  for (let at = 128 * KiB; at < SIZE; at += 5 * 128 * KiB) await overlay.write(at - GRAIN, Buffer.alloc(2 * GRAIN, 1));
  for (let at = 64 * KiB; at < SIZE; at += 3 * 128 * KiB) truth[(at + 8 * KiB) / GRAIN] = true;
  for (let at = 128 * KiB; at < SIZE; at += 5 * 128 * KiB) truth[at / GRAIN - 1] = truth[at / GRAIN] = true;
  for (const offset of OFFSETS) await assertPrefixes(overlay, truth, offset);
});

test('extents of a revision with a record: the zero blocks it records are the holes, not the holes of the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-extents-'));
  try {
    // 16 KiB blocks: 16 Ki entries, read in more than one batch; every third block a zero block.
    const blockSize = 16 * KiB;
    const path = join(dir, 'record');
    const writer = await HashRecordWriter.create(path, blockSize, SIZE);
    const entries = Buffer.alloc((SIZE / blockSize) * 32);
    for (let block = 0; block < SIZE / blockSize; block++) if (block % 3 !== 0) entries.fill(0xee, block * 32, (block + 1) * 32);
    await writer.write(0, entries);
    const recorded = await writer.finish();
    await writer.close();
    const record = await HashRecord.open(path, SIZE, recorded);
    const base = new CheckedImage(alternatingRevision(), record, () => undefined);
    const truth = Array.from({ length: SIZE / GRAIN }, (_, i) => Math.floor((i * GRAIN) / blockSize) % 3 !== 0);
    for (const offset of OFFSETS) await assertPrefixes(base, truth, offset);
    await record.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
