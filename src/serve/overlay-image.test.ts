import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RevisionReader } from '../store/store.js';
import { CheckedImage } from './checked-image.js';
import type { Extent } from './exported-image.js';
import { OverlayImage } from './overlay-image.js';

const KiB = 1024;
const SIZE = 16 * 1024 * KiB;
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

test('overlay extents: a prefix of the true map, at most `limit` of them, whatever the limit', async () => {
  const overlay = await OverlayImage.create(new CheckedImage(alternatingRevision(), null, () => undefined));
  const truth = Array.from({ length: SIZE / GRAIN }, (_, i) => i % 32 < 16);
  // Written: 4 KiB into every third base hole, and 8 KiB over every fifth boundary of data and hole.
  for (let at = 64 * KiB; at < SIZE; at += 3 * 128 * KiB) await overlay.write(at + 8 * KiB, Buffer.alloc(GRAIN, 1));
  for (let at = 128 * KiB; at < SIZE; at += 5 * 128 * KiB) await overlay.write(at - GRAIN, Buffer.alloc(2 * GRAIN, 1));
  for (let at = 64 * KiB; at < SIZE; at += 3 * 128 * KiB) truth[(at + 8 * KiB) / GRAIN] = true;
  for (let at = 128 * KiB; at < SIZE; at += 5 * 128 * KiB) truth[at / GRAIN - 1] = truth[at / GRAIN] = true;
  for (const offset of [0, 100 * KiB]) {
    for (const limit of [1, 2, 3, 5, 8, 100_000]) {
      const extents = await overlay.extents(offset, SIZE - offset, limit);
      assert.ok(extents.length >= 1 && extents.length <= limit, `${extents.length} extents for a limit of ${limit}`);
      const got = grains(extents);
      assert.deepEqual(got, truth.slice(offset / GRAIN, offset / GRAIN + got.length), `from ${offset}, limit ${limit}`);
      extents.slice(1).forEach((extent, i) => assert.notEqual(extent.hole, extents[i]!.hole, 'neighbours merged'));
      if (limit === 100_000) assert.equal(got.length, (SIZE - offset) / GRAIN, 'the whole query, within the limit');
    }
  }
});
