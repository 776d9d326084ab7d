/**
 * backy 2.x writes a job's `config` and `.rev` files read-only (0440); so
 * does this backy, each time it writes them: `init`, a backup, and the
 * `.rev` rewritten when `verify` notes its outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { revisionIds } from '../helpers/job-files.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

test('config and .rev files are written 0440, as backy 2.x writes them, and stay so when rewritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy2-modes-'));
  const umask = process.umask(0o022);
  try {
    const job = join(dir, 'job');
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(256 * 1024));
    assert.equal(backy(['-b', job, 'init', 'file', source]).status, 0);
    assert.equal(mode(join(job, 'config')), '440');

    const backup = backy(['-b', job, 'backup', 'daily']);
    assert.equal(backup.status, 0, backup.stderr);
    const [id] = revisionIds(job) as [string];
    const rev = join(job, `${id}.rev`);
    assert.equal(mode(rev), '440');

    const before = readFileSync(rev, 'utf8');
    assert.equal(backy(['-b', job, 'verify']).status, 0);
    assert.notEqual(readFileSync(rev, 'utf8'), before, 'verify noted its outcome');
    assert.match(readFileSync(rev, 'utf8'), /^verified: /m);
    assert.equal(mode(rev), '440');
    assert.equal(mode(join(job, 'config')), '440');
  } finally {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  }
});
