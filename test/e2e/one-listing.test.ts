/**
 * A command reads its job directory once (issue: 10,000 revisions are
 * 20,000 entries, and it used to be read three or four times), counted
 * with strace on the real program; and what a killed `last` link update
 * left is cleaned up from that one listing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy, BACKY_MAIN } from '../helpers/cli.js';
import { revisionIds, withNewJob } from '../helpers/job-files.js';

/** How often the command opened `directory` to list it (open with O_DIRECTORY), and its exit status. */
function listings(directory: string, args: string[]): { count: number; status: number | null } {
  const trace = join(directory, '..', `trace-${randomBytes(4).toString('hex')}.txt`);
  const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', trace, process.execPath, BACKY_MAIN, '-b', directory, ...args], { encoding: 'utf8' });
  const lines = readFileSync(trace, 'utf8').split('\n');
  rmSync(trace);
  const count = lines.filter((line) => line.includes(`"${directory}", `) && line.includes('O_DIRECTORY') && !line.includes('= -1')).length;
  return { count, status: run.status };
}

for (const store of ['cow', 'chunked']) {
  test(`${store} store: status, status --json and a backup each list the job directory once`, () => {
    withNewJob(store, 256 * 1024, ({ job }) => {
      for (let i = 0; i < 3; i++) assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);

      // One listing is two reads of the directory where nothing changes in between (see directory-listing.ts).
      const once = { count: 2, status: 0 };
      assert.deepEqual(listings(job, ['status']), once);
      assert.deepEqual(listings(job, ['status', '--json']), once);
      assert.deepEqual(listings(job, ['backup', 'daily']), once);
      assert.equal(revisionIds(job).length, 4);
    });
  });
}

test("what a killed update of the last links left is removed by the next backup; other files stay", () => {
  withNewJob('cow', 64 * 1024, ({ job }) => {
    assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
    const leftovers = ['.last.1a2b3c4d.tmp', '.last.rev.1a2b3c4d.tmp'].map((name) => join(job, name));
    for (const path of leftovers) writeFileSync(path, 'x');
    const unrelated = join(job, '.lastnote');
    writeFileSync(unrelated, 'kept');
    // Never what a killed update leaves: not removed, and no reason to fail the backup.
    const directory = join(job, '.last.5e5e5e5e.tmp');
    mkdirSync(directory);

    const result = backy(['-b', job, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    for (const path of leftovers) assert.equal(existsSync(path), false, `${path} is removed`);
    assert.equal(readFileSync(unrelated, 'utf8'), 'kept');
    assert.ok(statSync(directory).isDirectory(), 'the directory stays');
    assert.equal(revisionIds(job).length, 2);
  });
});
