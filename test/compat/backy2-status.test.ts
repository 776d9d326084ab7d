/**
 * backy 2.x's own `status` test (test_commands_wrapper_status in its
 * test_main.py, 2.1 to 2.1.3) against this backy's command line: a job made
 * by `init`, one revision written as backy 2.x's Revision(1).materialize()
 * leaves it at its test clock (2015-09-01 07:06:47 UTC), and the table with
 * its literal expected text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';

const EMPTY_TABLE = `+------------+----+------+-------+------+
| Date (UTC) | ID | Size | Durat | Tags |
+------------+----+------+-------+------+
+------------+----+------+-------+------+
`;

test('test_commands_wrapper_status: a revision without stats beyond bytes_written, and a job without revisions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy2-status-'));
  try {
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', join(dir, 'source')]).status, 0);

    // A prettytable with no rows: the header's rule, then the bottom rule.
    const empty = backy(['-b', job, 'status']);
    assert.equal(empty.status, 0, empty.stderr);
    assert.equal(empty.stdout, `${EMPTY_TABLE}0 revisions containing 0 Bytes data (estimated)\n`);

    // Revision(1): the ID is a YAML integer.
    writeFileSync(join(job, '1.rev'), 'parent: null\nstats: {bytes_written: 0}\ntags: []\ntimestamp: 2015-09-01 07:06:47+00:00\nuuid: 1\n');
    writeFileSync(join(job, '1'), '');
    const result = backy(['-b', job, 'status']);
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    const [table, summary] = [result.stdout.split('\n').slice(0, 5).join('\n'), result.stdout.split('\n').slice(5).join('\n')];
    assert.equal(
      table,
      `+---------------------+----+---------+-------+------+
| Date (UTC)          | ID |    Size | Durat | Tags |
+---------------------+----+---------+-------+------+
| 2015-09-01 07:06:47 | 1  | 0 Bytes |   0 s |      |
+---------------------+----+---------+-------+------+`,
    );
    // backy 2.x says "1 revisions".
    assert.equal(summary, '1 revisions containing 0 Bytes data (estimated)\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
