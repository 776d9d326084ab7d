import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitedReports, moreSince } from './limited-reports.js';

test('the first reports of each interval get through, the rest are counted in the next one that does', () => {
  let now = 0;
  const lines: string[] = [];
  const report = limitedReports(2, 1000, (suppressed, what: string) => lines.push(`${what}${moreSince(suppressed)}`), () => now);
  for (const what of ['a', 'b', 'c', 'd', 'e']) report(what);
  assert.deepEqual(lines, ['a', 'b']);
  now = 999;
  report('f');
  assert.deepEqual(lines, ['a', 'b']);
  now = 1000;
  report('g');
  report('h');
  report('i');
  assert.deepEqual(lines, ['a', 'b', 'g (and 4 more since the last report)', 'h']);
});
