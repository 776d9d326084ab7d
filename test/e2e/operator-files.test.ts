/**
 * Files an operator keeps in a job directory that backy did not write: a
 * backup leaves them alone, even when they are named like the decimal
 * revision IDs of backy 2.x. What an interrupted backup left is still
 * removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { newRevisionId } from '../../src/store/revision-id.js';

test('a backup keeps files named like numbers that have no .rev, and removes the data an interrupted backup left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-operator-files-'));
  try {
    const source = join(dir, 'vm.img');
    writeFileSync(source, Buffer.alloc(256 * 1024, 7));
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
    for (const name of ['2024', '7']) writeFileSync(join(job, name), `the operator's ${name}\n`);
    // As a backup killed before it wrote its .rev leaves its image.
    const left = newRevisionId();
    writeFileSync(join(job, left), Buffer.alloc(4096, 1));
    const result = backy(['-b', job, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stderr);
    for (const name of ['2024', '7']) {
      assert.equal(readFileSync(join(job, name), 'utf8'), `the operator's ${name}\n`, `${name} was removed or changed`);
      assert.doesNotMatch(result.stdout, new RegExp(`removing data of ${name}\\b`));
    }
    assert.match(result.stdout, new RegExp(`removing data of ${left}, which has no revision metadata`));
    assert.ok(!existsSync(join(job, left)), 'the interrupted backup\'s data is removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
