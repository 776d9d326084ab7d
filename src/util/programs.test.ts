import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram } from './programs.js';

test('a program printing without end is stopped at the output limit, with a message naming it, not collected until the process dies', async () => {
  await assert.rejects(runProgram('yes', ['a line a program might print again and again']), {
    message: 'yes printed more than 64 MiB; it was stopped',
  });
});

test('a flood on stderr keeps its end, where a program says why it failed', async () => {
  const result = await runProgram('sh', ['-c', 'yes flood | head -c 96000000 >&2; echo the reason >&2; exit 3']);
  assert.equal(result.exitCode, 3);
  assert.ok(result.stderr.startsWith('flood') || result.stderr.includes('\nflood\n'));
  assert.ok(result.stderr.endsWith('\nthe reason\n'));
  assert.ok(result.stderr.length <= 2 * 1024 * 1024, `kept ${result.stderr.length} characters`);
});
