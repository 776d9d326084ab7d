import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram } from './programs.js';

test('a program that prints without end is stopped, and says so, instead of filling memory', async () => {
  const result = await runProgram('yes', ['a line that yes prints for ever']);
  assert.equal(result.signal, 'SIGKILL');
  assert.ok(result.stdout.length <= 16 * 1024 * 1024);
  assert.match(result.stderr, /^yes printed more than 16777216 characters and was stopped$/);
});

test('its output is kept whole below the limit', async () => {
  const result = await runProgram('sh', ['-c', 'printf "%s" "$1"; printf oops >&2', 'sh', 'x'.repeat(100_000)]);
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout, 'x'.repeat(100_000));
  assert.equal(result.stderr, 'oops');
});
