/**
 * A job's config naming its source file by a relative path: backy runs from
 * whatever directory it is started in (the scheduler's is not the job's),
 * so which file that is would depend on who started the backup.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob } from '../helpers/job-files.js';

const dir = mkdtempSync(join(tmpdir(), 'backy-relative-source-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a relative source file name in a job config is refused, whichever directory holds a file of that name', () => {
  for (const name of ['one', 'two']) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'disk.img'), randomBytes(64 * 1024));
  }
  const job = join(dir, 'job');
  assert.equal(backy(['-b', job, 'init', 'file', join(dir, 'one', 'disk.img')]).status, 0);
  const config = join(job, 'config');
  chmodSync(config, 0o640);
  writeFileSync(config, readFileSync(config, 'utf8').replace(/^filename: .*$/m, 'filename: disk.img'));
  const before = fingerprintJob(job);
  for (const cwd of [join(dir, 'one'), join(dir, 'two')]) {
    assertOneLineError(
      backy(['-b', job, 'backup', 'daily'], { cwd }),
      /^backy: source file name "disk\.img" in the job's config is relative: give the absolute path$/,
      `backup from ${cwd}`,
    );
    assert.deepEqual(fingerprintJob(job), before, 'the job directory is unchanged');
  }
});
