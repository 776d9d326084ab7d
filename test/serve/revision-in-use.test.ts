/**
 * Retention and a revision being read: a `backy serve` (and so a mount)
 * keeps the revision it exports from being removed, and from losing its
 * chunks to the garbage collection after it, until the server ends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobDirectory } from '../../src/job/job-directory.js';
import { IN_USE_FILE } from '../../src/job/revision-use.js';
import { expireRevisions } from '../../src/scheduler/retention-apply.js';
import { storeTypeNames } from '../../src/store/registry.js';
import { fixedClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/logger.js';
import { backy } from '../helpers/cli.js';
import { revisionIds, sameBytes } from '../helpers/job-files.js';
import { jobWithRevision, runTool, startServe, writeTestImage } from '../helpers/serve-process.js';

const KEEP_ONE = [{ tag: 'test', intervalSeconds: 1, keep: 1 }];
const tomorrow = () => fixedClock(new Date(Date.now() + 86400_000));

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string) => void lines.push(message);
  return { lines, debug: record, info: record, warn: record, error: record };
}

for (const store of storeTypeNames()) {
  describe(`retention beside backy serve (${store} store)`, () => {
    let dir = '';
    let job = '';
    let older = '';
    let newer = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'backy-in-use-'));
      const source = join(dir, 'source.img');
      writeTestImage(source, 'older');
      writeTestImage(join(dir, 'older.img'), 'older');
      job = join(dir, 'job');
      older = jobWithRevision(job, source, store);
      // Other data, so that the older revision's chunks are its own and a collection would take them.
      writeTestImage(source, 'newer');
      assert.equal(backy(['-b', job, 'backup', 'test']).status, 0);
      newer = readlinkSync(join(job, 'last.rev')).replace(/\.rev$/, '');
      assert.notEqual(newer, older);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('the served revision stays, with its data, until the server ends; then retention removes it', async () => {
      const server = await startServe(job, ['-r', older, '--listen', '127.0.0.1:0']);
      try {
        const logger = recordingLogger();
        const plan = await expireRevisions(new JobDirectory(job), KEEP_ONE, tomorrow(), logger);
        assert.deepEqual(plan.remove, [], 'nothing removed while it is served');
        assert.deepEqual(revisionIds(job).sort(), [older, newer].sort());
        assert.ok(
          logger.lines.some((line) => line.includes(`keeping revision ${older} for now`) && line.includes('is reading it')),
          logger.lines.join('\n'),
        );
        if (store !== 'cow') {
          const gc = backy(['-b', job, 'gc']);
          assert.equal(gc.status, 0, gc.stderr);
        }
        const copy = join(dir, 'served.img');
        rmSync(copy, { force: true });
        const copied = runTool('nbdcopy', [server.uri, copy]);
        assert.equal(copied.status, 0, copied.stderr);
        assert.ok(sameBytes(copy, join(dir, 'older.img')), 'the revision as served after retention and gc equals what was backed up');
      } finally {
        assert.equal(await server.stop(), 0, server.log());
      }
      const plan = await expireRevisions(new JobDirectory(job), KEEP_ONE, tomorrow(), recordingLogger());
      assert.deepEqual(plan.remove.map((change) => change.uuid), [older]);
      assert.deepEqual(revisionIds(job), [newer]);
    });
  });
}

describe('a planted .backy.in-use', () => {
  let dir = '';
  let job = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backy-in-use-planted-'));
    const source = join(dir, 'source.img');
    writeTestImage(source, 'one');
    job = join(dir, 'job');
    jobWithRevision(job, source, 'cow');
    writeTestImage(source, 'two');
    assert.equal(backy(['-b', job, 'backup', 'test']).status, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a symlink in its place: retention removes nothing and says why; a restore warns and restores', async () => {
    const victim = join(dir, 'victim');
    symlinkSync(victim, join(job, IN_USE_FILE));
    try {
      const before = revisionIds(job).sort();
      await assert.rejects(expireRevisions(new JobDirectory(job), KEEP_ONE, tomorrow(), recordingLogger()), /cannot tell which revisions are in use, so none is removed: .*symbolic link/);
      assert.deepEqual(revisionIds(job).sort(), before);
      const restored = join(dir, 'restored.img');
      const result = backy(['-b', job, 'restore', '-r', 'last', restored]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout + result.stderr, /WARN cannot mark revision \S+ as in use, so retention may remove it while it is read: lock file \S+ is a symbolic link/);
      assert.ok(sameBytes(restored, join(dir, 'source.img')));
      assert.equal(runTool('test', ['-e', victim]).status, 1, 'nothing made where the link points');
    } finally {
      unlinkSync(join(job, IN_USE_FILE));
    }
  });
});
