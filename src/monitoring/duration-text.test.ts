import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpan } from './duration-text.js';

test('spans show the two largest adjacent units in whole seconds', () => {
  assert.equal(formatSpan(0), '0s');
  assert.equal(formatSpan(0.9), '0s');
  assert.equal(formatSpan(45), '45s');
  assert.equal(formatSpan(725), '12m 5s');
  assert.equal(formatSpan(7200), '2h');
  assert.equal(formatSpan(3 * 86400 + 4 * 3600 + 59), '3d 4h');
  assert.equal(formatSpan(86400 + 5), '1d');
  assert.equal(formatSpan(-5), '0s');
});
