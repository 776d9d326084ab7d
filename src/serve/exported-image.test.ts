import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extentsFromRanges } from './exported-image.js';

test('extents: holes between data ranges, ranges clipped to the query, neighbours merged', () => {
  assert.deepEqual(extentsFromRanges([[0, 10], [10, 20], [30, 40]], 5, 35, 100), [
    { length: 15, hole: false },
    { length: 10, hole: true },
    { length: 5, hole: false },
  ]);
  assert.deepEqual(extentsFromRanges([], 0, 50, 100), [{ length: 50, hole: true }]);
  assert.deepEqual(extentsFromRanges([[0, 50]], 0, 50, 100), [{ length: 50, hole: false }]);
});

test('extents: at most `limit`, from the start of the query', () => {
  const ranges: Array<[number, number]> = Array.from({ length: 1000 }, (_, i) => [i * 10, i * 10 + 5]);
  const extents = extentsFromRanges(ranges, 0, 10_000, 3);
  assert.deepEqual(extents, [
    { length: 5, hole: false },
    { length: 5, hole: true },
    { length: 5, hole: false },
  ]);
  assert.deepEqual(extentsFromRanges(ranges, 2, 10_000, 1), [{ length: 3, hole: false }]);
});
