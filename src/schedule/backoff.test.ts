import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelaySeconds } from './backoff.js';

test('retries after 2 minutes, doubling up to 6 hours', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100].map(retryDelaySeconds),
    [120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600],
  );
});
