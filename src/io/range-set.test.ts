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
