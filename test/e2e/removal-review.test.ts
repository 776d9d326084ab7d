/**
 * What a backup's clean-up and a garbage collection may delete, against
 * damaged metadata and a hostile link in a job directory: a `.rev` cut
 * short (no `duration` left) is no interrupted backup's, and a job's
 * `chunks` linked to the pool other jobs share is no pool of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { revisionIds, withNewJob } from '../helpers/job-files.js';

const MiB = 1024 * 1024;

function backupOk(job: string): string {
  const before = new Set(revisionIds(job));
  const result = backy(['-b', job, 'backup', 'daily']);
  assert.equal(result.status, 0, result.stderr);
  const made = revisionIds(job).filter((id) => !before.has(id));
  assert.equal(made.length, 1);
  return made[0]!;
}

for (const store of ['chunked', 'cow']) {
  test(`${store}: a complete revision whose .rev was cut short is left alone by the next backup, with its data`, () => {
    withNewJob(store, MiB, ({ job }) => {
      const cut: string[] = [];
      // Cut after the tags (no stats key), right after `stats:`, and within the figures (before `duration`).
      const cuts = [(text: string) => text.slice(0, text.indexOf('stats:')), (text: string) => text.slice(0, text.indexOf('stats:') + 'stats:\n'.length), (text: string) => text.slice(0, text.indexOf('  duration:'))];
      for (const shorten of cuts) {
        const id = backupOk(job);
        const rev = join(job, `${id}.rev`);
        const text = shorten(readFileSync(rev, 'utf8'));
        chmodSync(rev, 0o640);
        writeFileSync(rev, text);
        cut.push(id);
      }
      const result = backy(['-b', job, 'backup', 'daily']);
      assert.equal(result.status, 0, result.stderr);
      assert.doesNotMatch(result.stderr, /removing incomplete revision/);
      for (const id of cut) {
        assert.ok(existsSync(join(job, `${id}.rev`)), `the .rev of ${id} is kept`);
        assert.ok(existsSync(join(job, store === 'chunked' ? `${id}.index` : id)), `the data of ${id} is kept`);
      }
    });
  });
}

test('an interrupted backup\'s .rev (stats: {}, or backy 2.x\'s {bytes_written: 0}) is still removed with its data', () => {
  withNewJob('chunked', MiB, ({ job }) => {
    const first = backupOk(job);
    const killed = ['ABCDEFGHJKLMNPQRSTUVWX', 'BCDEFGHJKLMNPQRSTUVWXY'];
    for (const [index, id] of killed.entries()) {
      writeFileSync(join(job, `${id}.rev`), `uuid: ${id}\ntimestamp: 2026-01-01T00:00:00.000Z\nparent: ${first}\ntags:\n  - daily\nstats: ${index === 0 ? '{}' : '{bytes_written: 0}'}\n`);
      writeFileSync(join(job, `${id}.index`), randomBytes(100));
    }
    backupOk(job);
    for (const id of killed) {
      assert.equal(existsSync(join(job, `${id}.rev`)), false);
      assert.equal(existsSync(join(job, `${id}.index`)), false);
    }
  });
});

test('a job whose chunks directory is a link to the shared pool: its gc and backups refuse, no other job loses a chunk', () => {
  const base = mkdtempSync(join(tmpdir(), 'backy-base-'));
  try {
    const jobs = ['a', 'b', 'linked'].map((name) => {
      const source = join(base, `${name}.img`);
      writeFileSync(source, randomBytes(MiB));
      const job = join(base, name);
      const init = backy(['-b', job, 'init', '--store', 'chunked', 'file', source]);
      assert.equal(init.status, 0, init.stderr);
      return job;
    });
    for (const job of jobs.slice(0, 2)) {
      chmodSync(join(job, 'config'), 0o640);
      appendFileSync(join(job, 'config'), 'chunk_pool: shared\n');
      backupOk(job);
    }
    const shared = join(base, '.chunks', 'chunks');
    const chunks = () => readdirSync(shared, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).length;
    const before = chunks();
    assert.ok(before >= 32, `${before} chunks`);
    const linked = jobs[2]!;
    symlinkSync('../.chunks', join(linked, 'chunks'));
    const gc = backy(['-b', linked, 'gc']);
    assert.notEqual(gc.status, 0, gc.stdout + gc.stderr);
    assert.match(gc.stderr, /is a link/);
    const backup = backy(['-b', linked, 'backup', 'daily']);
    assert.notEqual(backup.status, 0, backup.stderr);
    assert.equal(chunks(), before, 'every chunk of the other jobs is still there');
    for (const job of jobs.slice(0, 2)) {
      const verify = backy(['-b', job, 'verify']);
      assert.equal(verify.status, 0, verify.stderr);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('chunked: a directory under an index\'s name is left alone and no backup fails for it', () => {
  withNewJob('chunked', MiB, ({ job }) => {
    backupOk(job);
    const stranger = join(job, 'ABCDEFGHJKLMNPQRSTUVWX.index');
    mkdirSync(stranger);
    writeFileSync(join(stranger, 'notes.txt'), 'mine');
    backupOk(job);
    assert.equal(readFileSync(join(stranger, 'notes.txt'), 'utf8'), 'mine');
  });
});
