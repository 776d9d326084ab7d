import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration.js';

test('parses the manual\'s interval suffixes into seconds', () => {
  assert.equal(parseDuration('2s'), 2);
  assert.equal(parseDuration('5m'), 300);
  assert.equal(parseDuration('1h'), 3600);
  assert.equal(parseDuration('1d'), 86400);
  assert.equal(parseDuration('30d'), 30 * 86400);
  assert.equal(parseDuration('1w'), 604800);
  assert.equal(parseDuration(' 12h '), 12 * 3600);
});

test('refuses what is not an integer with a unit, and zero', () => {
  for (const text of ['', '1', '3600', 'd', '1.5h', '1 d', '1D', '-1d', '1y', '0s', '0w', '1d2h']) {
    assert.equal(parseDuration(text), null, text);
  }
});

test('formats seconds with the largest exact unit', () => {
  assert.equal(formatDuration(604800), '1w');
  assert.equal(formatDuration(86400 * 30), '30d');
  assert.equal(formatDuration(3600), '1h');
  assert.equal(formatDuration(5400), '90m');
  assert.equal(formatDuration(2), '2s');
  assert.equal(formatDuration(61), '61s');
  for (const text of ['2s', '5m', '1h', '1d', '30d', '2w']) assert.equal(formatDuration(parseDuration(text)!), text);
});
