import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeSet } from './range-set.js';

test('ranges added in order merge when they touch or overlap', () => {
  const set = new RangeSet();
  set.add(0, 10);
  set.add(10, 20);
  set.add(15, 25);
  set.add(30, 40);
  assert.deepEqual([...set.within(0, 100)], [[0, 25], [30, 40]]);
  assert.equal(set.totalBytes(), 35);
});

test('ranges added out of order are inserted and merged', () => {
  const set = new RangeSet();
  set.add(50, 60);
  set.add(10, 20);
  set.add(30, 40);
  set.add(18, 32);
  set.add(0, 5);
  assert.deepEqual([...set.within(0, 100)], [[0, 5], [10, 40], [50, 60]]);
});

test('within clips to the window and skips ranges outside it', () => {
  const set = new RangeSet();
  set.add(0, 10);
  set.add(20, 30);
  set.add(40, 50);
  assert.deepEqual([...set.within(5, 45)], [[5, 10], [20, 30], [40, 45]]);
  assert.deepEqual([...set.within(10, 20)], []);
  assert.deepEqual([...set.within(60, 70)], []);
});

test('ranges in any order make the same set as a bitmap of their bytes', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (const count of [10, 3000, 20000]) {
    const size = 50_000;
    const bytes = new Uint8Array(size);
    const set = new RangeSet();
    for (let k = 0; k < count; k++) {
      // Mostly descending, as a diff stream in reverse would be, with some at random.
      const start = k % 3 === 0 ? random(size) : Math.max(0, size - 1 - ((k * 7) % size));
      const end = Math.min(size, start + 1 + random(5));
      set.add(start, end);
      bytes.fill(1, start, end);
      if (k === count >> 1) assert.ok(set.count > 0, 'readable halfway');
    }
    const expected: Array<[number, number]> = [];
    for (let at = 0; at < size; at++) {
      if (!bytes[at]) continue;
      const last = expected.at(-1);
      if (last && last[1] === at) last[1] = at + 1;
      else expected.push([at, at + 1]);
    }
    assert.deepEqual([...set.within(0, size)], expected, `${count} ranges`);
    assert.equal(set.totalBytes(), bytes.reduce((sum, b) => sum + b, 0));
  }
});
