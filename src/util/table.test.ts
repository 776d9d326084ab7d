import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth, renderTable } from './table.js';

test("the manual's status table layout: rules, padding, right-aligned columns and headers", () => {
  assert.equal(
    renderTable(['Date (UTC)', 'Size', 'Tags'], [['2015-11-04 20:09:32', '10.00 GiB', 'daily,weekly'], ['2015-11-05 06:15:09', '149.31 MiB', 'daily']], ['left', 'right', 'left']),
    [
      '+---------------------+------------+--------------+',
      '| Date (UTC)          |       Size | Tags         |',
      '+---------------------+------------+--------------+',
      '| 2015-11-04 20:09:32 |  10.00 GiB | daily,weekly |',
      '| 2015-11-05 06:15:09 | 149.31 MiB | daily        |',
      '+---------------------+------------+--------------+',
    ].join('\n'),
  );
});

test('no rows: the header and the bottom rule (as backy 2.x prints it); wide characters and line breaks keep the columns straight', () => {
  assert.equal(renderTable(['a', 'bb'], [], ['left', 'right']), ['+---+----+', '| a | bb |', '+---+----+', '+---+----+'].join('\n'));
  assert.equal(
    renderTable(['Job'], [['日本'], ['a\nb']], ['left']),
    ['+------+', '| Job  |', '+------+', '| 日本 |', '| a b  |', '+------+'].join('\n'),
  );
  assert.equal(displayWidth('école'), 5);
  assert.equal(displayWidth('e\u0301cole'), 5);
});

test('a table of 200,000 rows (an hourly job of 23 years) renders', () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [String(i)]);
  const table = renderTable(['N'], rows, ['right']);
  assert.equal(table.split('\n').length, 200_004);
  assert.equal(table.split('\n').at(-2), '| 199999 |');
});
