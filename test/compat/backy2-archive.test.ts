/**
 * backy 2.x's own archive tests (its test_archive.py, 2.0 to 2.1.3) against
 * this backy's command line: its `archive_with_revisions` fixture, three
 * `.rev` files with zone-less timestamps, an empty `parent:` and an
 * incomplete third revision (`stats: {}`). Its IDs 123-0, 123-1, 123-2 are
 * no revision IDs here (only backy's base57 IDs and decimal numbers are):
 * they are written 1230, 1231, 1232, which sort the same.
 *
 * Where backy 2.x selects the incomplete revision (as `last`, `0`, `daily`),
 * this backy selects the newest complete one instead, on purpose (README,
 * "Migrating from backy 2.x"); the test says so at each place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError } from '../helpers/job-files.js';

const REVISIONS: Record<string, string> = {
  '1230': 'uuid: 1230\ntimestamp: 2015-08-29 00:00:00\nparent:\nstats: {bytes_written: 14868480, duration: 31.1}\ntags: [daily, weekly, monthly]\n',
  '1231': 'uuid: 1231\ntimestamp: 2015-08-30 01:00:00\nparent: 1230\nstats: {bytes_written: 1486880, duration: 3.7}\ntags: [daily, weekly]\n',
  '1232': 'uuid: 1232\ntimestamp: 2015-08-30 02:00:00\nparent: 1231\nstats: {}\ntags: [daily]\n',
};

/** A job directory as backy 2.x leaves it: its `config`, and with `revisions`, those `.rev` files and (empty) images. */
function withArchive(revisions: boolean, body: (job: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'backy2-archive-'));
  try {
    const job = join(dir, 'job');
    mkdirSync(job);
    writeFileSync(join(job, 'config'), `filename: ${join(dir, 'source')}\ntype: file\n`, { mode: 0o440 });
    if (revisions) {
      for (const [id, rev] of Object.entries(REVISIONS)) {
        writeFileSync(join(job, `${id}.rev`), rev, { mode: 0o440 });
        writeFileSync(join(job, id), '', { mode: 0o440 });
      }
    }
    body(job);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What `find -r SPEC` prints, or its one-line error. */
function find(job: string, spec: string): string {
  const result = backy(['-b', job, 'find', '-r', spec]);
  if (result.status === 0) return result.stdout.trimEnd().slice(job.length + 1);
  assertOneLineError(result, /^backy: /, `find -r ${spec}`);
  return result.stderr.trimEnd();
}

function statusJson(job: string): { uuid: string; parent: string | null; complete: boolean }[] {
  const result = backy(['-b', job, 'status', '--json']);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as { uuid: string; parent: string | null; complete: boolean }[];
}

test('test_empty_revisions, test_find_revision_empty', () => {
  withArchive(false, (job) => {
    assert.deepEqual(statusJson(job), []);
    // backy 2.x raises KeyError for -1, 'last' and 'fdasfdka'.
    assert.equal(find(job, 'last'), 'backy: no complete revision in this job yet');
    assert.equal(find(job, 'fdasfdka'), 'backy: no revision matches "fdasfdka" (not a number, ID, ID prefix, "last" or tag)');
    assert.equal(find(job, '-1'), 'backy: no revision matches "-1" (not a number, ID, ID prefix, "last" or tag)');
  });
});

test('test_load_revisions, test_clean_history_should_exclude_incomplete_revs', () => {
  withArchive(true, (job) => {
    const history = statusJson(job);
    assert.deepEqual(
      history.map((r) => r.uuid),
      ['1230', '1231', '1232'],
    );
    assert.equal(history[1]!.parent, '1230');
    // `parent:` left empty is no parent.
    assert.equal(history[0]!.parent, null);
    // clean_history: 2 of the 3.
    assert.equal(history.filter((r) => r.complete).length, 2);
    // find_revisions(1) == [a[1]]: here the second newest complete revision.
    assert.equal(find(job, '1'), '1230');
  });
});

test('test_find_revision', () => {
  withArchive(true, (job) => {
    const expected: Array<[spec: string, answer: string]> = [
      // backy 2.x: 'last', 0 and 'daily' are the incomplete 123-2; here the newest complete revision.
      ['last', '1231'],
      ['0', '1231'],
      ['daily', '1231'],
      ['1232', 'backy: revision 1232 is incomplete (its backup did not finish)'],
      // backy 2.x: a[1] is 123-1 and a[2] 123-0; here 1 is 1230, the one before the newest complete one.
      ['1', '1230'],
      ['2', 'backy: revision 2 not found: the job has 2 complete revisions (a number is never taken for an ID prefix)'],
      ['-1', 'backy: no revision matches "-1" (not a number, ID, ID prefix, "last" or tag)'],
      // As in backy 2.x: a number beyond the revisions is looked up as an ID.
      ['1231', '1231'],
      ['1230', '1230'],
      ['125125', 'backy: revision 125125 not found: the job has 2 complete revisions (a number is never taken for an ID prefix)'],
      ['weekly', '1231'],
      ['monthly', '1230'],
    ];
    for (const [spec, answer] of expected) assert.equal(find(job, spec), answer, `find -r ${spec}`);
  });
});

test('test_ignore_duplicates: a copy of a .rev under another name is listed once, the warning names both files', () => {
  withArchive(true, (job) => {
    copyFileSync(join(job, '1232.rev'), join(job, '1233.rev'));
    const result = backy(['-b', job, 'status']);
    assert.equal(result.status, 0);
    assert.match(
      result.stderr,
      new RegExp(`^\\S+ \\S+ \\[\\d+\\] WARN ignoring ${job}/1233\\.rev: a copy of revision 1232's metadata, which ${job}/1232\\.rev holds\n$`),
    );
    const rows = result.stdout.split('\n').filter((line) => /^\| \d/.test(line));
    assert.deepEqual(
      rows.map((row) => row.split('|')[2]!.trim()),
      ['1230', '1231', '1232'],
    );
    assert.match(result.stdout, /\n3 revisions containing 15\.60 MiB data \(estimated\)\n$/);
    assert.deepEqual(
      statusJson(job).map((r) => r.uuid),
      ['1230', '1231', '1232'],
    );
    // A backup clears the incomplete 1232 away but never takes data beside the copy for a leftover.
    writeFileSync(join(job, '1233'), 'kept');
    writeFileSync(join(job, '..', 'source'), 'I am your father, Luke!');
    const backup = backy(['-b', job, 'backup', 'daily']);
    assert.equal(backup.status, 0, backup.stderr);
    assert.equal(readFileSync(join(job, '1233'), 'utf8'), 'kept');
    assert.equal(readFileSync(join(job, '1233.rev'), 'utf8'), REVISIONS['1232']);
    assert.deepEqual(
      statusJson(job).map((r) => [r.uuid, r.complete]).slice(0, 2),
      [['1230', true], ['1231', true]],
    );
  });
});
