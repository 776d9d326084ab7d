import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatSeconds } from './units.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

test('formatBytes: the manual status table sizes', () => {
  assert.equal(formatBytes(10 * GiB), '10.00 GiB');
  assert.equal(formatBytes(Math.round(149.31 * MiB)), '149.31 MiB');
  assert.equal(formatBytes(Math.round(184.99 * MiB)), '184.99 MiB');
  assert.equal(formatBytes(Math.round(44.61 * MiB)), '44.61 MiB');
  assert.equal(formatBytes(11134733312 - 1), '10.37 GiB');
});

test("formatBytes: bytes below 1 kiB, then two decimals in backy 2.x's binary units (its test_format_bytes)", () => {
  assert.equal(formatBytes(0), '0 Bytes');
  assert.equal(formatBytes(1), '1 Byte');
  assert.equal(formatBytes(2), '2 Bytes');
  assert.equal(formatBytes(1023), '1023 Bytes');
  assert.equal(formatBytes(1024), '1.00 kiB');
  assert.equal(formatBytes(2500), '2.44 kiB');
  assert.equal(formatBytes(1536), '1.50 kiB');
  assert.equal(formatBytes(MiB - 1), '1024.00 kiB');
  assert.equal(formatBytes(MiB), '1.00 MiB');
  assert.equal(formatBytes(GiB), '1.00 GiB');
  assert.equal(formatBytes(1024 * GiB), '1.00 TiB');
  assert.equal(formatBytes(1024 * 1024 * GiB), '1024.00 TiB');
  assert.equal(formatBytes(4096 * 1024 * GiB), '4096.00 TiB');
});

test('formatSeconds: one decimal and " s"', () => {
  assert.equal(formatSeconds(0), '0.0 s');
  assert.equal(formatSeconds(0.04), '0.0 s');
  assert.equal(formatSeconds(150.94), '150.9 s');
  assert.equal(formatSeconds(24.86), '24.9 s');
  assert.equal(formatSeconds(3600), '3600.0 s');
});
