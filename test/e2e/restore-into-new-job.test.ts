/**
 * A restore target in a job directory that has no revisions yet: only its
 * `config` names a source. It is a job directory all the same (as the
 * scheduler counts them), and the restore must not overwrite its config.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError } from '../helpers/job-files.js';

const dir = mkdtempSync(join(tmpdir(), 'backy-restore-new-job-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a restore into a job directory not backed up yet is refused; beside another kind of config it goes ahead', () => {
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(64 * 1024));
  const job = join(dir, 'backy', 'vm');
  const fresh = join(dir, 'backy', 'new');
  for (const path of [job, fresh]) assert.equal(backy(['-b', path, 'init', 'file', source]).status, 0);
  assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
  const config = readFileSync(join(fresh, 'config'));
  for (const target of [join(fresh, 'config'), join(fresh, 'restored.img')]) {
    assertOneLineError(backy(['-b', job, 'restore', target]), new RegExp(`^backy: refusing to restore into the job directory ${fresh}: `), target);
  }
  assert.deepEqual(readFileSync(join(fresh, 'config')), config, 'the new job\'s config is unchanged');
  assert.ok(!existsSync(join(fresh, 'restored.img')));

  const other = join(dir, 'app');
  mkdirSync(other);
  writeFileSync(join(other, 'config'), 'listen: 8080\n');
  const result = backy(['-b', job, 'restore', join(other, 'restored.img')]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(readFileSync(join(other, 'restored.img')), readFileSync(source));
});
